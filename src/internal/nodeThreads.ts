/**
 * Spawning pool workers as Node worker threads (the default backend).
 *
 * @internal
 */
import * as Os from "node:os"
import * as WorkerThreads from "node:worker_threads"
import type { Spawn } from "./supervisor.ts"

/** The worker entry next to this file: `.ts` when running from source, `.js` from `dist`. */
export const entryUrl = new URL(`./workerEntry${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url)

/** What a thread worker receives as `workerData`. */
export interface ThreadData {
  /** `[0]`: how many of the jobs sent to it the worker has started (see `Dispatcher.removeSlot`). */
  readonly progress: Int32Array
}

export const spawnThread: Spawn = (id) => {
  const progress = new Int32Array(new SharedArrayBuffer(4))
  const workerData: ThreadData = { progress }
  const worker = new WorkerThreads.Worker(entryUrl, { name: `effect-multiprocessing worker ${id}`, workerData })
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    worker.once("exit", (code) => resolve({ code, signal: null }))
  })
  return {
    worker,
    raw: {
      post: (message, transfers) => worker.postMessage([0, message], transfers as Array<WorkerThreads.Transferable>),
      started: () => Atomics.load(progress, 0),
      exited,
      kill: () => void worker.terminate(),
      ref: (ref) => ref ? worker.ref() : worker.unref()
    }
  }
}

/** Python's default pool size: one worker per available CPU. */
export const defaultSize = (): number => Os.availableParallelism()
