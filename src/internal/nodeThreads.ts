/**
 * Spawning pool workers as Node worker threads (the default backend).
 *
 * @internal
 */
import { EventEmitter } from "node:events"
import * as Os from "node:os"
import * as Path from "node:path"
import * as WorkerThreads from "node:worker_threads"
import type * as Backend from "../Backend.ts"
import * as Boundary from "./boundary.ts"
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
  /**
   * `[0]`: how many of the worker's messages the pool has read, counting from
   * its first, up to the first it could not read (see "Lost messages" in
   * protocol.ts): the worker keeps the batches from there on.
   */
  readonly received: Int32Array
}

/**
 * What effect's worker platform (`NodeWorker.layerPlatform`) is given in place
 * of the real worker: an emitter that sees the worker's `exit` and `error`,
 * but of its messages only the ready signal, forwarded by the pool's own
 * listener once the boundary has checked it. Effect's listener reads
 * `message[0]` of whatever arrives, which throws in this process for a
 * `postMessage(null)`; and the pool reads replies itself (`RawWorker.listen`).
 */
export const platformView = (
  worker: EventEmitter,
  methods: { readonly postMessage: (message: unknown, transfers?: any) => void; readonly terminate: () => unknown } | {
    readonly send: (message: unknown) => unknown
    readonly kill: (signal?: NodeJS.Signals) => unknown
  }
): EventEmitter => {
  const view = Object.assign(new EventEmitter(), methods)
  worker.on("exit", (code: number | null) => view.emit("exit", code))
  worker.on("error", (error: unknown) => {
    if (view.listenerCount("error") > 0) view.emit("error", error)
  })
  return view
}

/** The default `Backend.Options.name`. */
export const defaultName = "effect-multiprocessing"

/** Workers as threads of this process: the default, fastest backend. */
export const threads = (options: Backend.Options): Spawn => ({ maxInflight: undefined, spawn: spawnThread(options) })

const spawnThread = (options: Backend.Options): Spawn["spawn"] => (id) => {
  const progress = new Int32Array(new SharedArrayBuffer(12))
  const received = new Int32Array(new SharedArrayBuffer(4))
  const workerData: ThreadData = { progress, received }
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
  const view = platformView(worker, {
    postMessage: (message, transfers) => worker.postMessage(message, transfers),
    terminate: () => worker.terminate()
  })
  return {
    worker: view,
    raw: {
      post: (message, transfers) => worker.postMessage([0, message], transfers as Array<WorkerThreads.Transferable>),
      listen: (listener) => {
        // every message counts (see ThreadData.received): those read, and those lost, until sent again
        let count = 0
        let ready = false
        const lost: Array<number> = []
        const acknowledge = () => Atomics.store(received, 0, lost.length === 0 ? count : lost[0])
        const onReady = () => {
          ready = true
          view.emit("message", [0])
        }
        worker.on("message", (message: unknown) => {
          count++
          if (lost.length > 0 && Array.isArray(message) && Array.isArray(message[1])) {
            const seq = Boundary.resentSeq(message[1])
            if (seq !== undefined && lost.includes(seq)) lost.splice(lost.indexOf(seq), 1)
          }
          acknowledge()
          Boundary.receive(message, ready, onReady, listener)
        })
        // the message could not be deserialized here (e.g. nested deeper than this thread's stack allows)
        worker.on("messageerror", (error) => {
          const seq = count++
          lost.push(seq)
          acknowledge()
          listener.onUnreadable(seq, error)
        })
      },
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
