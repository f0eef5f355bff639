/**
 * Logs across the boundary (docs/observability.md "Logs"): an Effect task's
 * `Effect.log*` reaches the caller's logger, with the caller's annotations,
 * the worker's (`workerId`, `taskId`) and the task's own, at the caller's
 * minimum log level (lower levels are dropped in the worker); with a
 * recording tracer, the log belongs to the call's span. With worker threads
 * and child processes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Logger, References, Tracer } from "effect"
import { WorkerPool } from "../src/index.ts"
import { memoryTracer } from "./fixtures/tracing-memory.ts"
import { tasks } from "./fixtures/tracing-tasks.ts"
import { backends } from "./utils.ts"

interface Logged {
  readonly level: string
  readonly message: ReadonlyArray<unknown>
  readonly annotations: Readonly<Record<string, unknown>>
  readonly span: string | undefined
}

/** A logger that keeps what it is given, and the program with it as the only logger. */
const testLogger = () => {
  const logged: Array<Logged> = []
  const logger = Logger.make((options) => {
    const span = Context.getOrUndefined(options.fiber.context, Tracer.ParentSpan)
    logged.push({
      level: options.logLevel,
      message: options.message as ReadonlyArray<unknown>,
      annotations: options.fiber.getRef(References.CurrentLogAnnotations),
      span: span?.spanId
    })
  })
  return {
    logged,
    provide: <A, E, R>(effect: Effect.Effect<A, E, R>) =>
      Effect.provideService(effect, References.CurrentLoggers, new Set([logger]))
  }
}

const fromWorker = (logged: ReadonlyArray<Logged>) => logged.filter((log) => "taskId" in log.annotations)

for (const backend of backends) {
  describe(`logs across the boundary (${backend})`, () => {
    it.effect("a worker's Effect.log reaches the caller's logger with the caller's annotations and the worker's", () => {
      const test = testLogger()
      return Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const result = yield* test.provide(pool.apply(tasks.logs, ["hello"]).pipe(Effect.annotateLogs("inCaller", "yes")))
        assert.strictEqual(result, "hello")
        const logs = fromWorker(test.logged)
        // Info and Warning; Debug is below the default minimum (Info), dropped in the worker
        assert.deepStrictEqual(logs.map((log) => [log.level, log.message]), [
          ["Info", ["hello"]],
          ["Warn", ["hello (warning)"]]
        ])
        const [info] = logs
        assert.strictEqual(info.annotations.inCaller, "yes")
        assert.strictEqual(info.annotations.inWorker, "yes")
        assert.strictEqual(info.annotations.taskId, tasks.logs.id)
        assert.isNumber(info.annotations.workerId)
        // the task's own annotation was its own
        assert.notProperty(logs[1].annotations, "inWorker")
      })
    })

    it.effect("a level below the caller's minimum does not arrive; the caller's lower minimum lets it through", () => {
      const test = testLogger()
      return Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        yield* test.provide(pool.apply(tasks.logs, ["warn only"]).pipe(Effect.provideService(References.MinimumLogLevel, "Warn")))
        assert.deepStrictEqual(fromWorker(test.logged).map((log) => log.level), ["Warn"])
        test.logged.length = 0
        yield* test.provide(pool.apply(tasks.logs, ["all"]).pipe(Effect.provideService(References.MinimumLogLevel, "Debug")))
        assert.deepStrictEqual(fromWorker(test.logged).map((log) => log.level), ["Info", "Debug", "Warn"])
        // the next call, at the default level again, gets the default
        test.logged.length = 0
        yield* test.provide(pool.apply(tasks.logs, ["default"]))
        assert.deepStrictEqual(fromWorker(test.logged).map((log) => log.level), ["Info", "Warn"])
      })
    })

    it.live("with a recording tracer, a worker's log belongs to the call's span", () => {
      const test = testLogger()
      const memory = memoryTracer()
      return memory.provide(Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        yield* test.provide(pool.apply(tasks.logs, ["traced"]))
        const call = memory.one("effect-multiprocessing.apply")
        const logs = fromWorker(test.logged)
        assert.strictEqual(logs.length, 2)
        for (const log of logs) assert.strictEqual(log.span, call.spanId)
      }))
    })

    it.effect("a task that logs 70,000 times without yielding: every log arrives, in order, and its worker serves on", () => {
      const test = testLogger()
      return Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        assert.strictEqual(yield* test.provide(pool.apply(tasks.manyLogs, [70_000])), 70_000)
        const messages = fromWorker(test.logged).map((log) => log.message[0])
        assert.strictEqual(messages.length, 70_000)
        assert.isTrue(messages.every((message, i) => message === i))
        assert.strictEqual(yield* pool.apply(tasks.add, [1, 1]), 2)
      })
    })

    it.effect("a map's logs arrive from each chunk, each with its worker", () => {
      const test = testLogger()
      return Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 2, backend })
        yield* test.provide(pool.map(tasks.logs, ["a", "b", "c", "d"], { chunksize: 1 }))
        const infos = fromWorker(test.logged).filter((log) => log.level === "Info")
        assert.deepStrictEqual(infos.map((log) => log.message[0]).sort(), ["a", "b", "c", "d"])
        for (const log of infos) assert.isNumber(log.annotations.workerId)
      })
    })
  })
}
