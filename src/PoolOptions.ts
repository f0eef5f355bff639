/**
 * The options of a pool (`WorkerPool.make`, `WorkerPool.layer`) and of its
 * calls (`map`, `apply`, the `*Async` methods). `WorkerPool` re-exports them:
 * `WorkerPool.Options`, `WorkerPool.MapOptions`, ….
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Backend from "./Backend.ts"
import type * as TaskModule from "./Task.ts"
import type { Transferable } from "./Task.ts"

/**
 * How to build a pool.
 *
 * Besides `startTimeout` and `cancelGracePeriod`, one bound needs no option:
 * a worker that holds work and has sent nothing for a second is asked if it
 * still listens, and one that has not answered two seconds later, while
 * nothing it runs can explain its silence, is replaced (within about 4 s of
 * its last message). Its started tasks fail with `WorkerCrashed` saying why;
 * tasks it never started run elsewhere. A worker busy in synchronous code is
 * never replaced for that (only if its task is cancelled). A thread worker
 * whose event loop idles without answering, or whose shared progress memory
 * holds impossible values, is caught that way; a process worker shares no
 * memory with the pool, so it is asked along with any task that may run long
 * (or after a second without an answer), and one that does not answer before
 * that task starts is replaced. (The check runs on the pool's `Clock`.)
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends Backend.Options {
  /**
   * How many workers: a positive integer (default `os.availableParallelism()`),
   * or a range `{ min, max, idleTimeout }`: the pool starts `min` workers, adds
   * workers (up to `max`) while tasks wait and every worker is busy, and
   * retires a worker that has been idle for `idleTimeout` (default 30 seconds),
   * down to `min`. (An idle pool above `min` keeps its program alive until
   * those timeouts pass.)
   */
  readonly size?: number | {
    /** Workers started with the pool and kept however idle (0 allowed). */
    readonly min: number
    /** The most workers at once. */
    readonly max: number
    /** How long a worker above `min` may stay idle before it is retired (default 30 seconds). */
    readonly idleTimeout?: Duration.Input | undefined
  } | undefined
  /**
   * How long a cancelled task may take to stop before its worker is killed and
   * replaced (its other started tasks fail with `WorkerCrashed`): one bound
   * for a task blocked in synchronous code (which cannot be interrupted any
   * other way) and for one whose worker read the cancel but that never answers
   * (an async task that ignores its `AbortSignal`, an Effect that cannot be
   * interrupted). Counted from the cancel, and checked again every period
   * while the task has not started or its worker is blocked by another task.
   * Defaults to 250 milliseconds.
   */
  readonly cancelGracePeriod?: Duration.Input | undefined
  /**
   * How long a worker may take to start and run its `initializer`, and how
   * long a task module (with its setup layer) may take to load in a worker.
   * A worker not ready in time is killed and counts as a failed start (three
   * in a row break the pool: `WorkerStartFailed`); `make` itself fails with
   * `WorkerStartFailed` ("timed out") if its workers are not all ready within
   * it, however many were replaced meanwhile. A module that has not loaded in
   * time fails the tasks that need it with a `TaskError`. Defaults to 30
   * seconds.
   */
  readonly startTimeout?: Duration.Input | undefined
  /**
   * What a worker is (Python's `context`): `"threads"` or `"processes"` (see
   * `Backend.Kind`). Defaults to the `Backend` layer's, and without one to
   * threads. The options of `Backend.Options` (`resourceLimits`, `execArgv`,
   * `argv`, `env`, `name`, `fastWakeup`) can be set here too; each one set here wins over
   * the layer's.
   */
  readonly backend?: Backend.Kind | undefined
  /**
   * Python's `initializer`: a task run once on each worker, with `initargs`,
   * before it takes any task (to load something expensive once per worker).
   * A worker counts as ready only once it has succeeded; if it fails, the
   * worker is replaced, and after a few failures in a row the pool gives up
   * with `WorkerStartFailed` carrying the cause.
   */
  readonly initializer?: TaskModule.Any | undefined
  /** The arguments of `initializer`. */
  readonly initargs?: ReadonlyArray<unknown> | undefined
  /**
   * Task modules every worker loads before it counts as ready (as Python's
   * `set_forkserver_preload`), so that the first call of their tasks pays no
   * import: each one a value `Task.module` returns (`tasks`), or one of its
   * tasks (`tasks.square`). Each module's setup `layer` is built then too.
   * `make` returns once every worker has loaded them all, and a replacement
   * worker (after a crash, `maxTasksPerWorker`, or a dynamic size growing)
   * loads them before it takes a task. A module that fails to load, or whose
   * layer fails, is a failed start of its worker, as a failing `initializer`
   * is (three in a row: `WorkerStartFailed` naming the module); one that has
   * not loaded within `startTimeout` likewise. The `initializer`'s module is
   * always loaded before a worker is ready: it need not be listed.
   */
  readonly preload?: ReadonlyArray<TaskModule.Any | { readonly [name: string]: TaskModule.Any }> | undefined
  /**
   * Python's `maxtasksperchild`: a worker is replaced after running this many
   * tasks (a `map` chunk counts as one), for example to contain a leak. The
   * replacement starts before the old worker leaves, so the pool stays at
   * size and no queued task is lost.
   */
  readonly maxTasksPerWorker?: number | undefined
  /**
   * Recycling by memory: a worker whose V8 heap in use exceeds this many MiB
   * after a task is replaced, as with `maxTasksPerWorker` (its replacement
   * starts before it leaves; what it already holds finishes). Set it above
   * what a fresh worker uses once its setup is done, and below
   * `resourceLimits.maxOldGenerationSizeMb`, to replace a leaking worker
   * before it runs out of heap and crashes.
   */
  readonly maxHeapPerWorkerMb?: number | undefined
  /**
   * The most tasks that may wait for a worker. Beyond it, submitters wait
   * (Effect-style backpressure: `apply`, `applyAsync` and the `map`s wait for
   * room before submitting) instead of the queue growing without limit, and
   * `imap` reads its input no further ahead than this. No bound by default.
   */
  readonly maxQueue?: number | undefined
  /**
   * Allows a pool to start while a worker is loading a task module (at the
   * module's top level, or in a module it imports). Without it that start is
   * refused with `IllegalArgumentError`: every worker would start a pool of
   * its own, whose workers load the same module, and so on. A pool started by
   * a task as it runs is always allowed.
   */
  readonly nested?: boolean | undefined
}

/**
 * Options of `map`, `starmap`, `imap` and `imapUnordered`.
 *
 * @since 0.1.0
 * @category models
 */
export interface MapOptions {
  /**
   * How many items a worker receives at a time: a positive integer. Defaults
   * to `ceil(n / (4 * size))` for `map` / `starmap` (as in Python) and to 1 for
   * `imap` / `imapUnordered`. Each chunk runs as one task in one worker.
   */
  readonly chunksize?: number | undefined
  /**
   * Called with how many items are done out of how many: once when the call
   * starts (`done: 0`), then each time a chunk finishes (in completion
   * order, so `done` only grows), up to `done === total` just before the
   * result. No worker message is needed for it. `total` is unknown
   * (`undefined`) for an `imap` over a `Stream` or a non-array iterable. A
   * callback that throws is logged and changes nothing else.
   */
  readonly onProgress?: ((progress: MapProgress) => void) | undefined
}

/**
 * How far a `map`, `starmap` or `imap` has got (see `MapOptions.onProgress`).
 *
 * @since 0.1.0
 * @category models
 */
export interface MapProgress {
  /** Items whose chunk has finished. */
  readonly done: number
  /** Items in the call; `undefined` when the input's length is not known in advance. */
  readonly total: number | undefined
}

/**
 * Options of `apply` and `applyAsync`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ApplyOptions {
  /**
   * `ArrayBuffer`s (or `MessagePort`s) in the arguments to move to the worker
   * instead of copying them. They are unusable in the caller afterwards.
   */
  readonly transfer?: ReadonlyArray<Transferable> | undefined
  /**
   * Called with each progress update the task reports (`Task.progress`), in
   * order, all before the call completes. Updates are coalesced in the
   * worker: at most one per `progressInterval`, the latest winning, and the
   * last one before the result always delivered. A call without it asks the
   * worker for nothing. A callback that throws is logged and changes nothing
   * else. (`pool.applyWithProgress` gives the same as a `Stream`.)
   */
  readonly onProgress?: ((value: unknown) => void) | undefined
  /**
   * Fewest time between two progress updates of the task (default 100
   * milliseconds); 0 delivers every update, none dropped.
   */
  readonly progressInterval?: Duration.Input | undefined
}

/**
 * Callbacks of the `*Async` methods, as Python's `callback` / `error_callback`.
 * They run once the result is ready; one that throws is logged and changes
 * nothing else.
 *
 * @since 0.1.0
 * @category models
 */
export interface AsyncOptions<A, E> {
  /** Called with the result when the task succeeds. */
  readonly callback?: ((value: A) => void) | undefined
  /** Called with the error when the task fails (not when the result is interrupted). */
  readonly errorCallback?: ((error: E) => void) | undefined
}

/**
 * Options of the test layer (`WorkerPool.makeTest`, `WorkerPool.layerTest`):
 * the pool's own options (those about real workers, `backend`,
 * `resourceLimits`, `execArgv`, `argv`, `env`, `name` and
 * `maxHeapPerWorkerMb`, are checked and then ignored), and how its in-process
 * workers order and break things.
 *
 * @since 0.1.0
 * @category models
 */
export interface TestOptions extends Options {
  /**
   * Seeds the order in which tasks complete, and the draws of a `fail` or
   * `crash` rate: the same seed, the same tasks and the same calls give the
   * same order. Defaults to 0.
   */
  readonly seed?: number | string | undefined
  /**
   * Calls to fail: a rate in [0, 1] (each call fails with that probability,
   * drawn from the seed), or a predicate over the call. A failed call throws
   * an `InjectedFailure` error in place of the task, which reaches the caller
   * as a `TaskError` (`remoteName: "InjectedFailure"`).
   */
  readonly fail?: number | ((call: TestCall) => boolean) | undefined
  /**
   * Calls whose worker crashes: a rate in [0, 1] or a predicate, as `fail`.
   * The worker dies in the middle of the call, as if the task had called
   * `process.exit(1)`: the tasks it was running fail with `WorkerCrashed`,
   * those it had not started run on another worker, and it is replaced.
   */
  readonly crash?: number | ((call: TestCall) => boolean) | undefined
}

/**
 * One call of a task function on a test pool's worker, as `TestOptions.fail`
 * and `TestOptions.crash` see it. An initializer's call is one too.
 *
 * @since 0.1.0
 * @category models
 */
export interface TestCall {
  /** The task's `id` (`url#name`): compare with `tasks.f.id`. */
  readonly task: string
  /** The function's name in its module. */
  readonly name: string
  /** Its arguments, as the worker received them (for a `map` item, `[item]`). */
  readonly args: ReadonlyArray<unknown>
  /** The worker that runs it (1, 2, …; a replacement gets a new id). */
  readonly workerId: number
  /** How many calls of task functions the pool's workers made before this one. */
  readonly index: number
}
