/**
 * Cancellation crosses the worker boundary.
 *
 * Interrupting the fiber that waits for a task (with `Effect.timeout`,
 * `Fiber.interrupt`, a lost `Effect.race`, a failing `map`…) cancels the task
 * in its worker:
 * - an async task sees `Task.signal()` fire (an `AbortSignal`);
 * - an Effect task has its fiber interrupted.
 *
 * Python has no equivalent: `AsyncResult.get(timeout)` gives up waiting, but
 * the task keeps running in its process.
 *
 * The pool has a single worker, so the progress counters read at the end come
 * from the worker that ran both tasks: they show that the work really stopped.
 *
 * Run it with `npx node examples/cancellation.ts`.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, Fiber } from "effect"
import { WorkerPool } from "../src/index.ts"
import { tasks } from "./cancellation-tasks.ts"

const program = Effect.gen(function*() {
  const pool = yield* WorkerPool.make({ size: 1 })

  // 1. An async task with a timeout: 20 parts would take 2 s; we give it 350 ms.
  //    Effect.timeout interrupts the call, which aborts the task's signal.
  const download = yield* pool.apply(tasks.download, [20]).pipe(
    Effect.timeout("350 millis"),
    Effect.catchTag("TimeoutError", () => Effect.succeed("timed out"))
  )
  console.log("caller: download:", download)

  // 2. An Effect task, interrupted by hand: fork the call, let it tick for a
  //    while, then interrupt the fiber. `Fiber.interrupt` returns once the
  //    cancellation has been sent.
  const fiber = yield* Effect.forkChild(pool.apply(tasks.ticker, [20]))
  yield* Effect.sleep("350 millis")
  yield* Fiber.interrupt(fiber)
  console.log("caller: ticker interrupted")

  // Ask the worker how far each task got, then again 500 ms later: had either
  // kept running, its counter would have grown by about 5 in the meantime.
  const before = yield* pool.apply(tasks.progress, [])
  yield* Effect.sleep("500 millis")
  const after = yield* pool.apply(tasks.progress, [])
  console.log("caller: progress in the worker:", before, "and 500 ms later:", after)
  if (after.partsDownloaded !== before.partsDownloaded || after.ticks !== before.ticks) {
    return yield* Effect.die("a cancelled task kept running")
  }
}).pipe(Effect.scoped)

NodeRuntime.runMain(program)
