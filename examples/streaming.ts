/**
 * Streaming: `imap` / `imapUnordered` take an `Iterable` or a `Stream` and
 * return a `Stream` of results, read lazily.
 *
 * 1. `imapUnordered` yields each result as soon as it is ready (completion
 *    order, Python's `imap_unordered`), so slow jobs do not hold back fast ones.
 * 2. The input is pulled only as results are consumed, with a bounded number
 *    of items in flight: an infinite input stream is fine, and `Stream.take`
 *    stops everything early. (CPython's `imap` reads its whole input first.)
 *
 * Run it with `npx node examples/streaming.ts`.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, Stream } from "effect"
import { WorkerPool } from "../src/index.ts"
import { tasks } from "./streaming-tasks.ts"

const program = Effect.gen(function*() {
  const pool = yield* WorkerPool.make({ size: 2 })

  // 1. Ten jobs of 50 to 250 ms each on two workers, printed as they complete.
  console.log("imapUnordered over Stream.range(1, 10):")
  const start = performance.now()
  yield* pool.imapUnordered(tasks.crunch, Stream.range(1, 10)).pipe(
    Stream.runForEach(({ job, ms }) =>
      Effect.sync(() =>
        console.log(`  job ${String(job).padStart(2)} (${ms} ms of work) done at ${(performance.now() - start).toFixed(0)} ms`)
      )
    )
  )

  // 2. An endless input: 1, 2, 3, … counting how many numbers the pool pulls.
  //    Take the first 5 squares (imap keeps input order) and stop.
  let pulled = 0
  const naturals = Stream.iterate(1, (n) => n + 1).pipe(Stream.tap(() => Effect.sync(() => pulled++)))
  const squares = yield* pool.imap(tasks.square, naturals).pipe(Stream.take(5), Stream.runCollect)
  console.log(`\nfirst 5 squares of an endless stream: ${squares.join(", ")}`)
  console.log(`numbers pulled from the input: ${pulled} (bounded by the in-flight limit, not the input)`)
}).pipe(Effect.scoped)

NodeRuntime.runMain(program)
