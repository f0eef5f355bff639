/**
 * What a pool's workers are, and how each one starts: worker threads (the
 * default) or child processes (Python's `context`), with the options passed on
 * to every worker.
 *
 * A program chooses the backend by providing a layer, so the code that builds
 * the pool does not change:
 *
 * ```ts
 * import { Backend, WorkerPool } from "effect-multiprocessing"
 * import { Layer } from "effect"
 *
 * // the same pool, in child processes with a 512 MiB heap each
 * const PoolLive = WorkerPool.layer({ size: 4 }).pipe(
 *   Layer.provide(Backend.processes({ resourceLimits: { maxOldGenerationSizeMb: 512 } }))
 * )
 * ```
 *
 * The pool's own options win over the layer's, one option at a time:
 * `WorkerPool.make({ backend: "processes" })` also works, and
 * `WorkerPool.make({ execArgv: [] })` keeps the layer's backend but replaces
 * its `execArgv`.
 *
 * @since 0.1.0
 * @module
 */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import type * as WorkerThreads from "node:worker_threads"

/**
 * What a worker is.
 *
 * - `"threads"`: worker threads of this process, the fastest; a worker's
 *   crash is contained, but it shares the process's memory limits.
 * - `"processes"`: child processes (`child_process.fork`), with memory of
 *   their own. A process worker runs one task at a time, and values are
 *   copied with Node's advanced serialization (typed arrays, `Map`, `Set`,
 *   `Date`, `BigInt` survive; a transfer becomes a copy).
 *
 * @since 0.1.0
 * @category models
 */
export type Kind = "threads" | "processes"

/**
 * How each worker starts.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /**
   * Heap and stack limits of each worker (`worker_threads`' `resourceLimits`;
   * for processes only `maxOldGenerationSizeMb` applies, as
   * `--max-old-space-size`). A worker that exceeds them dies, and only the
   * tasks it was running fail, with `WorkerCrashed`. Values Node cannot start
   * a worker with (some abort the whole process) are rejected by `make`:
   * `maxOldGenerationSizeMb` a whole number from 16, `stackSizeMb` from 0.5
   * to 1024, `codeRangeSizeMb` at most 1024, each a finite number above 0.
   */
  readonly resourceLimits?: WorkerThreads.ResourceLimits | undefined
  /**
   * Node options of each worker. Defaults to this process's `execArgv` (for
   * processes, without `--inspect*`, so a debugged program's workers do not
   * fight over the inspector port). Options that would make a worker run
   * other code than its entry (`-e`/`--eval`, `-p`/`--print`, `--input-type`,
   * `-i`, `-c`, `--test`, as under `node -e`) are always left out.
   */
  readonly execArgv?: ReadonlyArray<string> | undefined
  /**
   * Arguments for each worker's `process.argv`: in a task,
   * `process.argv.slice(2)` is exactly this list. Defaults to none.
   */
  readonly argv?: ReadonlyArray<string> | undefined
  /** The environment of each worker. Defaults to a copy of this process's, taken as the worker starts. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
  /**
   * What to call the workers, for debugging: worker `n` is named
   * `<name> worker <n>`, as a thread's name (seen by debuggers, and by the OS
   * in its first 15 characters) or a process's title (seen by `ps`).
   * Defaults to `"effect-multiprocessing"`.
   */
  readonly name?: string | undefined
  /**
   * The file each worker starts: a `file:` URL (a `URL`, or its string) or an
   * absolute path. Only a bundled program needs it, and only when its bundle
   * does not keep the worker entry where the pool looks by default: the
   * package's own worker entry, or in a bundle `workerEntry.js` next to the
   * bundle file holding the pool's code. It must be the package's worker
   * entry, `effect-multiprocessing/worker`, built by the same bundler run as
   * the program (see docs/bundling.md). A value that is not a file URL or an
   * absolute path is rejected by `make`; a file that is not there fails the
   * pool's start with `WorkerStartFailed`.
   *
   * @example
   * ```ts
   * // the bundle keeps the worker entry in a folder of its own
   * Backend.threads({ workerEntry: new URL("./workers/workerEntry.js", import.meta.url) })
   * ```
   */
  readonly workerEntry?: string | URL | undefined
  /**
   * Threads: whether an idle worker waits for its next task in
   * `Atomics.wait`, woken directly by the pool (a "doorbell" rung after each
   * message), rather than in its event loop. Waking a thread's event loop is
   * most of the cost of one call at a time, so with this on (the default)
   * an `apply` awaited each time answers sooner. Messages travel as
   * before, in order; every message (a cancel, the liveness check, close)
   * still reaches the worker at once.
   *
   * A worker waits so only when nothing asynchronous is pending in it (no
   * task held, no timer, immediate, I/O or module load Node reports as live),
   * so tasks and their timers behave as without it. The trade-off: an idle
   * worker holds its thread in `Atomics.wait` for up to 4 ms at a time
   * (within 250 ms of its last message; it uses no CPU meanwhile), so what
   * Node does not report as live in it — an unref'd timer, a signal handler —
   * may run up to 4 ms late; `terminate` interrupts the wait at once. Set it
   * to `false` to have workers wait in their event loop only. Processes keep
   * their IPC channel and ignore it.
   */
  readonly fastWakeup?: boolean | undefined
}

/**
 * A backend: the kind of worker and how each one starts.
 *
 * @since 0.1.0
 * @category models
 */
export interface Backend extends Options {
  /** Worker threads or child processes. */
  readonly kind: Kind
}

/**
 * The backend of the pools built where it is provided (by `threads` or
 * `processes`). Without a layer, pools use worker threads.
 *
 * @since 0.1.0
 * @category services
 */
export const Backend: Context.Reference<Backend> = Context.Reference<Backend>(
  "effect-multiprocessing/Backend",
  { defaultValue: () => ({ kind: "threads" }) }
)

/**
 * Pools built under this layer run their workers as worker threads of this
 * process (the default), started with `options`.
 *
 * @since 0.1.0
 * @category layers
 */
export const threads = (options?: Options): Layer.Layer<never> =>
  Layer.succeed(Backend, { ...options, kind: "threads" })

/**
 * Pools built under this layer run their workers as child processes
 * (`child_process.fork`), started with `options`.
 *
 * @since 0.1.0
 * @category layers
 */
export const processes = (options?: Options): Layer.Layer<never> =>
  Layer.succeed(Backend, { ...options, kind: "processes" })
