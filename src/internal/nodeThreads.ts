/**
 * Spawning pool workers as Node worker threads (the default backend).
 *
 * @internal
 */
import type * as Worker from "effect/workers/Worker"
import * as Os from "node:os"
import * as Path from "node:path"
import * as WorkerThreads from "node:worker_threads"
import type * as Backend from "../Backend.ts"
import { COMPILE_CACHE_MARKER } from "./protocol.ts"
import type { ExitStatus, Spawn } from "./supervisor.ts"

/** The worker entry next to this file: `.ts` when running from source, `.js` from `dist`. */
export const entryUrl = new URL(`./workerEntry${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url)

/**
 * A worker's environment: `env`, plus what turns on Node's on-disk compile
 * cache (V8 code cache, and the output of type stripping for `.ts` files) from
 * the worker's first module on. Compiling the same modules again in every new
 * worker is much of its start-up; with the cache it reuses what an earlier
 * worker, of this process or another, compiled.
 *
 * The directory is Node's default, `<os.tmpdir()>/node-compile-cache`, shared
 * with every Node program that uses the cache. Node keys each entry by file and
 * content hash, writes it to a temporary file then renames it (safe with
 * concurrent workers), and treats a directory it cannot create or write as no
 * cache. A user's own `NODE_COMPILE_CACHE` or `NODE_DISABLE_COMPILE_CACHE` is
 * left as it is. The worker entry removes the variable the pool added (see
 * `Protocol.COMPILE_CACHE_MARKER`), so tasks and the processes they start see `env`.
 */
export const workerEnv = (env: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> => {
  if (env.NODE_COMPILE_CACHE !== undefined || env.NODE_DISABLE_COMPILE_CACHE !== undefined) return { ...env }
  const directory = Path.join(Os.tmpdir(), "node-compile-cache")
  // Node 24 loops forever creating a directory under /proc: no cache there
  if (directory.startsWith("/proc/")) return { ...env }
  return { ...env, NODE_COMPILE_CACHE: directory, [COMPILE_CACHE_MARKER]: "1" }
}

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
    env: workerEnv(options.env ?? process.env)
  })
  const exited = new Promise<ExitStatus>((resolve) => {
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
      ref: (ref) => ref ? worker.ref() : worker.unref(),
      idleMillis: () => {
        try {
          return worker.performance.eventLoopUtilization().idle
        } catch {
          return 0 // it has exited: no evidence
        }
      }
    }
  }
}

/** Python's default pool size: one worker per available CPU. */
export const defaultSize = (): number => Os.availableParallelism()
