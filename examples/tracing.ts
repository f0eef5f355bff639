/**
 * Tracing and logs across the boundary: one trace spans the caller and the
 * workers.
 *
 * With a recording tracer in the caller (here an in-memory one; in an
 * application `@effect/opentelemetry`, see docs/observability.md), each pool
 * call runs in a span of ours (`effect-multiprocessing.map`), each chunk in a
 * worker span under it, and the task's own `Effect.withSpan`s under that; the
 * program prints the span tree with each span's start and duration. The
 * task's `Effect.log` reaches the caller's logger with the caller's
 * annotations and the worker's (`workerId`, `taskId`).
 *
 * Run it with `npx node examples/tracing.ts`.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, Option, Tracer } from "effect"
import { WorkerPool } from "../src/index.ts"
import { tasks } from "./tracing-tasks.ts"

// an in-memory tracer: effect's own spans, kept
const spans: Array<Tracer.NativeSpan> = []
const tracer = Tracer.make({
  span: (options) => {
    const span = new Tracer.NativeSpan(options)
    spans.push(span)
    return span
  }
})

/** Prints the tree of spans under `root`, each with its start (from the root's) and its duration. */
const printTree = (root: Tracer.NativeSpan) => {
  const origin = root.startTime
  const children = (parent: Tracer.NativeSpan) =>
    spans
      .filter((span) => Option.getOrUndefined(span.parent)?.spanId === parent.spanId)
      .sort((a, b) => (a.startTime < b.startTime ? -1 : 1))
  const print = (span: Tracer.NativeSpan, depth: number) => {
    const end = span.status._tag === "Ended" ? span.status.endTime : span.startTime
    const worker = span.attributes.get("effect-multiprocessing.worker.id")
    console.log(
      `${"  ".repeat(depth)}${span.name}${worker === undefined ? "" : ` [worker ${worker}]`}`.padEnd(52) +
        `+${(Number(span.startTime - origin) / 1e6).toFixed(1).padStart(6)} ms` +
        `${(Number(end - span.startTime) / 1e6).toFixed(1).padStart(8)} ms`
    )
    for (const child of children(span)) print(child, depth + 1)
  }
  console.log(`trace ${root.traceId}`)
  print(root, 0)
}

const program = Effect.gen(function*() {
  const pool = yield* WorkerPool.make({ size: 2 })
  const documents = ["the quick brown fox", "jumps over", "the lazy dog", "and runs away"]
  const scores = yield* pool.map(tasks.score, documents, { chunksize: 2 }).pipe(
    Effect.annotateLogs("request", "r-42"),
    Effect.withSpan("handle request")
  )
  console.log(`scores: ${scores.join(", ")}\n`)
  printTree(spans.find((span) => span.name === "handle request")!)
}).pipe(Effect.scoped, Effect.provideService(Tracer.Tracer, tracer))

NodeRuntime.runMain(program)
