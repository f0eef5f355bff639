/**
 * The file every pool worker starts (a worker thread or a child process).
 *
 * It speaks effect's worker protocol through `NodeWorkerRunner`, hands each
 * message to the worker runtime, and exits as soon as the pool asks it to
 * close, whatever handles a task module left open.
 *
 * @internal
 */
import * as NodeWorkerRunner from "@effect/platform-node/NodeWorkerRunner"
import * as Effect from "effect/Effect"
import * as WorkerRunner from "effect/workers/WorkerRunner"
import { AsyncLocalStorage } from "node:async_hooks"
import * as V8 from "node:v8"
import * as WorkerThreads from "node:worker_threads"
import type { ThreadData } from "./nodeThreads.ts"
import * as Protocol from "./protocol.ts"
import * as WorkerRuntime from "./workerRuntime.ts"

const program = Effect.gen(function*() {
  const platform = yield* WorkerRunner.WorkerRunnerPlatform
  const runner = yield* platform.start<Array<unknown>, Array<unknown>>()
  const storage = new AsyncLocalStorage<WorkerRuntime.Running>()
  // shared with the pool: how many jobs this worker has started, and which one holds the thread now
  const progress = (WorkerThreads.workerData as ThreadData | undefined)?.progress
  const runtime = WorkerRuntime.make({
    send: (message, transfers) => runner.sendUnsafe(0, message, transfers),
    publish: progress === undefined
      ? {
        // a child process: no shared memory; the pool sends it one job at a time and learns of CANCELs read by message
        started: () => {},
        running: () => {},
        cancelsRead: (count) => runner.sendUnsafe(0, [-1, Protocol.STATUS_PROGRESS, count, 0])
      }
      : {
        started: (count) => Atomics.store(progress, 0, count),
        running: (id) => Atomics.store(progress, 1, id === undefined ? 0 : Protocol.runningSlot(id)),
        cancelsRead: (count) => Atomics.store(progress, 2, count)
      },
    store: { run: (running, f) => storage.run(running, f), get: () => storage.getStore() },
    importModule: (url) => import(url),
    heapUsed: () => V8.getHeapStatistics().used_heap_size
  })
  // a task that exits the worker, or throws where nothing catches it, must not take finished results with it
  process.on("exit", runtime.flush)
  yield* runner.run<void, never, never>((_portId, message) => runtime.onMessage(message))
  // closing: finalize the task modules' setup layers before the worker exits
  yield* Effect.promise(runtime.close)
}).pipe(Effect.provide(NodeWorkerRunner.layer))

// A forked worker whose parent is gone (even killed by SIGKILL) exits instead of living on as an orphan.
if (!WorkerThreads.parentPort && process.send !== undefined) process.on("disconnect", () => process.exit(0))

// Not NodeRuntime.runMain: a forked child would outlive a killed parent, and a
// closed worker would exit with code 130.
Effect.runFork(program).addObserver((exit) => {
  if (exit._tag === "Failure") {
    console.error("effect-multiprocessing worker failed", exit.cause)
    process.exit(1)
  }
  process.exit(0)
})
