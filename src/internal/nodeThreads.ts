/**
 * Spawning pool workers as Node worker threads (the default backend).
 *
 * @internal
 */
import type * as Worker from "effect/workers/Worker"
import * as Os from "node:os"
import * as WorkerThreads from "node:worker_threads"
import type * as Backend from "../Backend.ts"
import type { Spawn } from "./supervisor.ts"

/** The worker entry next to this file: `.ts` when running from source, `.js` from `dist`. */
export const entryUrl = new URL(`./workerEntry${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url)

/** What a thread worker receives as `workerData`. */
export interface ThreadData {
  /** The worker's `Protocol.Progress`: `[0]` jobs started, `[1]` `runningSlot` of the job holding the thread, `[2]` CANCELs read. */
  readonly progress: Int32Array
}

/** The default `Backend.Options.name`. */
export const defaultName = "effect-multiprocessing"

/** Workers as threads of this process: the default, fastest backend. */
export const threads = (options: Backend.Options): Spawn => ({ maxInflight: undefined, spawn: spawnThread(options) })

const spawnThread = (options: Backend.Options): Spawn["spawn"] => (id) => {
  const progress = new Int32Array(new SharedArrayBuffer(12))
  const workerData: ThreadData = { progress }
  const worker = new WorkerThreads.Worker(entryUrl, {
    name: `${options.name ?? defaultName} worker ${id}`,
    workerData,
    resourceLimits: options.resourceLimits,
    execArgv: options.execArgv === undefined ? undefined : [...options.execArgv],
    argv: options.argv === undefined ? undefined : [...options.argv],
    env: options.env === undefined ? undefined : { ...options.env }
  })
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
    worker.once("exit", (code) => resolve({ code, signal: null }))
  })
  return {
    worker,
    raw: {
      post: (message, transfers) => worker.postMessage([0, message], transfers as Array<WorkerThreads.Transferable>),
      listen: (onReplies) =>
        worker.on("message", (message: Worker.PlatformMessage) => {
          if (message[0] === 1) onReplies(message[1] as ReadonlyArray<unknown>)
        }),
      progress: () => {
        const running = Atomics.load(progress, 1)
        return {
          started: Atomics.load(progress, 0),
          running: running === 0 ? undefined : running,
          cancelsRead: Atomics.load(progress, 2)
        }
      },
      exited,
      kill: () => void worker.terminate(),
      ref: (ref) => ref ? worker.ref() : worker.unref()
    }
  }
}

/** Python's default pool size: one worker per available CPU. */
export const defaultSize = (): number => Os.availableParallelism()
