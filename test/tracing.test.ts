/**
 * Tracing across the boundary (docs/observability.md "Tracing"): with a
 * recording tracer in the caller, every pool call runs in a span of ours, the
 * worker runs each job in a span that is the call span's child, an Effect
 * task's own spans are children of that one, all in the caller's trace, with
 * times that nest; a failure marks the spans. Without a recording tracer,
 * nothing of this happens. With worker threads and child processes.
 */
import * as OtelTracer from "@effect/opentelemetry/OtelTracer"
import { assert, describe, it } from "@effect/vitest"
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Effect, Exit, Layer, Stream } from "effect"
import { WorkerPool } from "../src/index.ts"
import { tasks } from "./fixtures/tracing-tasks.ts"
import { memoryTracer, parentId, times, within } from "./fixtures/tracing-memory.ts"
import { backends } from "./utils.ts"

const TASK = "effect-multiprocessing.task"

for (const backend of backends) {
  describe(`tracing across the boundary (${backend})`, () => {
    it.live("an Effect task's own spans are children of its job's span, a child of the call's span, in the caller's trace", () => {
      const memory = memoryTracer()
      return memory.provide(Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        assert.strictEqual(yield* pool.apply(tasks.nested, [21]).pipe(Effect.withSpan("caller")), 42)
        const caller = memory.one("caller")
        const call = memory.one("effect-multiprocessing.apply")
        const job = memory.one(`${TASK} nested`)
        const outer = memory.one("outer")
        const inner = memory.one("inner")
        assert.strictEqual(parentId(call), caller.spanId)
        assert.strictEqual(parentId(job), call.spanId)
        assert.strictEqual(parentId(outer), job.spanId)
        assert.strictEqual(parentId(inner), outer.spanId)
        for (const span of [call, job, outer, inner]) assert.strictEqual(span.traceId, caller.traceId)
        // the task's attributes travel
        assert.strictEqual(outer.attributes.get("outer.n"), 21)
        assert.strictEqual(inner.attributes.get("n"), 21)
        // every span has ended, each within its parent
        assert.isTrue(within(call, caller))
        assert.isTrue(within(job, call))
        assert.isTrue(within(outer, job))
        assert.isTrue(within(inner, outer))
        for (const span of [call, job, outer, inner]) assert.strictEqual(span.status._tag === "Ended" && span.status.exit._tag, "Success")
      }))
    })

    it.live("the call's span says which task, pool and worker, how long it waited and ran, and how it ended", () => {
      const memory = memoryTracer()
      return memory.provide(Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        yield* pool.apply(tasks.add, [1, 2])
        const call = memory.one("effect-multiprocessing.apply")
        const attributes = call.attributes
        assert.strictEqual(attributes.get("effect-multiprocessing.task.id"), tasks.add.id)
        assert.isNumber(attributes.get("effect-multiprocessing.pool"))
        assert.isNumber(attributes.get("effect-multiprocessing.worker.id"))
        assert.strictEqual(attributes.get("effect-multiprocessing.jobs"), 1)
        assert.isAtLeast(attributes.get("effect-multiprocessing.wait.ms") as number, 0)
        assert.isAtLeast(attributes.get("effect-multiprocessing.run.ms") as number, 0)
        assert.strictEqual(attributes.get("effect-multiprocessing.outcome"), "success")
        // a plain task runs in a job span too, on the worker the call's span names
        const job = memory.one(`${TASK} add`)
        assert.strictEqual(parentId(job), call.spanId)
        assert.strictEqual(job.attributes.get("effect-multiprocessing.worker.id"), attributes.get("effect-multiprocessing.worker.id"))
      }))
    })

    it.live("a map has one job span per chunk, each with its worker, under the map's span with its chunk size", () => {
      const memory = memoryTracer()
      return memory.provide(Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 2, backend })
        assert.deepStrictEqual(yield* pool.map(tasks.nested, [1, 2, 3, 4, 5, 6], { chunksize: 2 }), [2, 4, 6, 8, 10, 12])
        const call = memory.one("effect-multiprocessing.map")
        assert.strictEqual(call.attributes.get("effect-multiprocessing.items"), 6)
        assert.strictEqual(call.attributes.get("effect-multiprocessing.chunk.size"), 2)
        assert.strictEqual(call.attributes.get("effect-multiprocessing.jobs"), 3)
        const jobs = memory.named(`${TASK} nested`)
        assert.strictEqual(jobs.length, 3)
        for (const job of jobs) {
          assert.strictEqual(parentId(job), call.spanId)
          assert.isNumber(job.attributes.get("effect-multiprocessing.worker.id"))
          assert.isTrue(within(job, call))
        }
        // each item's span is a child of its chunk's job span
        const outers = memory.named("outer")
        assert.strictEqual(outers.length, 6)
        const jobIds = new Set(jobs.map((job) => job.spanId))
        for (const outer of outers) assert.isTrue(jobIds.has(parentId(outer)!))
      }))
    })

    it.live("a failure marks the task's span, its job's span and the call's span", () => {
      const memory = memoryTracer()
      return memory.provide(Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const exit = yield* Effect.exit(pool.apply(tasks.failing, ["boom"]))
        assert.isTrue(Exit.isFailure(exit))
        const call = memory.one("effect-multiprocessing.apply")
        const job = memory.one(`${TASK} failing`)
        const doomed = memory.one("doomed")
        assert.strictEqual(parentId(doomed), job.spanId)
        for (const span of [call, job, doomed]) {
          assert.strictEqual(span.status._tag === "Ended" && span.status.exit._tag, "Failure", span.name)
        }
        assert.strictEqual(call.attributes.get("effect-multiprocessing.outcome"), "TaskError")
        const failure = job.status._tag === "Ended" && job.status.exit._tag === "Failure" ? String(job.status.exit.cause) : ""
        assert.include(failure, "boom")
      }))
    })

    it.live("an imap's span lasts as long as its stream; an applyAsync's until its result", () => {
      const memory = memoryTracer()
      return memory.provide(Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const results = yield* Stream.runCollect(pool.imap(tasks.nested, [1, 2, 3]))
        assert.deepStrictEqual(Array.from(results), [2, 4, 6])
        const imap = memory.one("effect-multiprocessing.imap")
        const jobs = memory.named(`${TASK} nested`)
        assert.strictEqual(jobs.length, 3)
        for (const job of jobs) {
          assert.strictEqual(parentId(job), imap.spanId)
          assert.isTrue(within(job, imap))
        }
        const async = yield* pool.applyAsync(tasks.add, [2, 3])
        assert.strictEqual(yield* async.get(), 5)
        const call = memory.one("effect-multiprocessing.applyAsync")
        assert.isTrue(within(memory.one(`${TASK} add`), call))
      }))
    })

    it.live("a job that makes more spans than the pool carries: the first 4,096 arrive, its span counts the rest", () => {
      const memory = memoryTracer()
      return memory.provide(Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        assert.strictEqual(yield* pool.apply(tasks.manySpans, [5_000]), 5_000)
        assert.strictEqual(memory.named("many").length, 4_096)
        assert.strictEqual(memory.one(`${TASK} manySpans`).attributes.get("effect-multiprocessing.spans.dropped"), 904)
        assert.strictEqual(yield* pool.apply(tasks.add, [1, 1]), 2)
      }))
    })

    it.live("with tracing disabled, or effect's default tracer, the pool makes no span", () => {
      const memory = memoryTracer()
      return Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        yield* memory.provide(pool.apply(tasks.nested, [1]).pipe(Effect.withTracerEnabled(false)))
        assert.deepStrictEqual(memory.spans.map((span) => span.name), [])
        // the native tracer: the task's spans stay in the worker, its result is the same
        assert.strictEqual(yield* pool.apply(tasks.nested, [2]), 4)
      })
    })
  })
}

describe("tracing across the boundary: times", () => {
  it.live("a worker's spans are placed in the caller's clock, inside their job's span, with their own durations", () => {
    const memory = memoryTracer()
    return memory.provide(Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1, backend: "threads" })
      yield* pool.apply(tasks.nested, [3]).pipe(Effect.withSpan("caller"))
      const [callerStart, callerEnd] = times(memory.one("caller"))
      for (const name of [`${TASK} nested`, "outer", "inner"]) {
        const [start, end] = times(memory.one(name))
        assert.isTrue(start >= callerStart && end <= callerEnd, name)
      }
    }))
  })
})

/** `@effect/opentelemetry` over an OpenTelemetry SDK provider that exports to memory. */
const otel = () => {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  const layer = OtelTracer.layer.pipe(Layer.provide(Layer.succeed(OtelTracer.OtelTracerProvider, provider)))
  return { exporter, layer }
}

for (const backend of backends) {
  describe(`tracing across the boundary with @effect/opentelemetry (${backend})`, () => {
    it.live("the exporter gets one trace: caller, pool call, worker job, the task's own spans, an error marked", () => {
      const { exporter, layer } = otel()
      return Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        yield* pool.apply(tasks.nested, [5]).pipe(Effect.withSpan("caller"))
        yield* Effect.exit(pool.apply(tasks.failing, ["bad"]).pipe(Effect.withSpan("caller-of-failing")))
        const spans = exporter.getFinishedSpans()
        const one = (name: string) => {
          const found = spans.filter((span) => span.name === name)
          assert.strictEqual(found.length, 1, `${name} among ${spans.map((span) => span.name).join(", ")}`)
          return found[0]
        }
        const caller = one("caller")
        const childOf = (parent: typeof caller, name: string) => {
          const found = spans.filter((span) => span.name === name && span.parentSpanContext?.spanId === parent.spanContext().spanId)
          assert.strictEqual(found.length, 1, name)
          return found[0]
        }
        const call = childOf(caller, "effect-multiprocessing.apply")
        const job = one(`${TASK} nested`)
        const outer = one("outer")
        const inner = one("inner")
        const chain = [caller, call, job, outer, inner]
        for (const span of chain) assert.strictEqual(span.spanContext().traceId, caller.spanContext().traceId, span.name)
        for (let i = 1; i < chain.length; i++) {
          assert.strictEqual(chain[i].parentSpanContext?.spanId, chain[i - 1].spanContext().spanId, chain[i].name)
          // a child lies within its parent ([seconds, nanoseconds] times)
          const toNanos = ([seconds, nanos]: readonly [number, number]) => BigInt(seconds) * 1_000_000_000n + BigInt(nanos)
          assert.isTrue(toNanos(chain[i].startTime) >= toNanos(chain[i - 1].startTime), `${chain[i].name} starts inside`)
          assert.isTrue(toNanos(chain[i].endTime) <= toNanos(chain[i - 1].endTime), `${chain[i].name} ends inside`)
        }
        assert.strictEqual(call.attributes["effect-multiprocessing.task.id"], tasks.nested.id)
        assert.strictEqual(outer.attributes["outer.n"], 5)
        // an error marks the spans (OpenTelemetry's status code 2: ERROR)
        const failedCall = childOf(one("caller-of-failing"), "effect-multiprocessing.apply")
        const failedJob = childOf(failedCall, `${TASK} failing`)
        const doomed = childOf(failedJob, "doomed")
        for (const span of [failedCall, failedJob, doomed]) assert.strictEqual(span.status.code, 2, span.name)
        assert.strictEqual(call.status.code === 2, false)
      }).pipe(Effect.provide(layer))
    })
  })
}

describe("tracing across the boundary: the test layer", () => {
  it.live("in-process workers trace the same: job span under the call's span, the task's spans under it", () => {
    const memory = memoryTracer()
    return memory.provide(Effect.gen(function*() {
      const pool = yield* WorkerPool.makeTest({ size: 2, seed: 1 })
      assert.deepStrictEqual(yield* pool.map(tasks.nested, [1, 2], { chunksize: 1 }), [2, 4])
      const call = memory.one("effect-multiprocessing.map")
      const jobs = memory.named(`${TASK} nested`)
      assert.strictEqual(jobs.length, 2)
      for (const job of jobs) assert.strictEqual(parentId(job), call.spanId)
      const jobIds = new Set(jobs.map((job) => job.spanId))
      for (const outer of memory.named("outer")) assert.isTrue(jobIds.has(parentId(outer)!))
    }))
  })
})
