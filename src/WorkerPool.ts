/**
 * A pool of workers that runs tasks in parallel: Python's
 * `multiprocessing.Pool` for Effect.
 *
 * | Python | here |
 * |---|---|
 * | `Pool(processes=n)` | `WorkerPool.make({ size: n })` (scoped), `WorkerPool.layer({ size: n })` |
 * | `pool.apply(f, args)` | `pool.apply(task, args)` |
 * | `pool.map(f, xs, chunksize)` | `pool.map(task, xs, { chunksize })` |
 * | `pool.starmap(f, tuples)` | `pool.starmap(task, tuples)` |
 * | `pool.imap(f, xs)` / `imap_unordered` | `pool.imap(task, xs)` / `pool.imapUnordered(...)`: `Stream`s |
 * | `pool.apply_async(...)` etc. | `pool.applyAsync(...)`, `mapAsync`, `starmapAsync`: `AsyncResult`s |
 * | `close()` / `join()` / `terminate()` | `pool.close` / `pool.join` / `pool.terminate` |
 * | `with Pool() as p:` | the pool's `Scope`: closing it terminates the pool and waits for its workers |
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { WorkerPool } from "effect-multiprocessing"
 * import { tasks } from "./tasks.ts"
 *
 * const program = Effect.gen(function*() {
 *   const pool = yield* WorkerPool.make({ size: 4 })
 *   const squares = yield* pool.map(tasks.square, [1, 2, 3, 4]) // [1, 4, 9, 16]
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @module
 */
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as AsyncResult from "./AsyncResult.ts"
import * as Backend from "./Backend.ts"
import type { ApplyOptions, AsyncOptions, MapOptions, Options, TestOptions } from "./PoolOptions.ts"
import * as InProcessWorkers from "./internal/inProcessWorkers.ts"
import * as PoolOptions from "./internal/options.ts"
import * as PoolEngine from "./internal/poolEngine.ts"
import type { DispatchError, PoolNotRunning, PoolStillRunning, WorkerStartFailed } from "./PoolError.ts"
import type { PoolEvent, ProgressUpdate } from "./PoolEvents.ts"
import type { Task } from "./Task.ts"
import * as TaskModule from "./Task.ts"

export type { ApplyOptions, AsyncOptions, MapOptions, MapProgress, Options, TestCall, TestOptions } from "./PoolOptions.ts"
export { cpuCount } from "./internal/cpu.ts"

/**
 * A snapshot of what a pool is doing and has done. A `map` chunk counts as one
 * task. Times are in milliseconds: `wait` from submission until a worker got
 * the task, `run` as the worker measured it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  /** The pool's current workers, by what they are doing. */
  readonly workers: {
    /** Running at least one task. */
    readonly busy: number
    /** Ready, with nothing to do. */
    readonly idle: number
    /** Starting (or running their initializer), or being replaced. */
    readonly starting: number
  }
  /** Tasks waiting for a worker. */
  readonly queued: number
  /** Tasks sent to a worker and not answered yet. */
  readonly running: number
  /** Tasks that ended with a result, since the pool started. */
  readonly succeeded: number
  /** Tasks that ended with an error (their own, or a crash, a termination…), cancelled ones aside. */
  readonly failed: number
  /** Tasks each current worker has answered. */
  readonly tasksPerWorker: ReadonlyArray<{
    /** The worker (as in `WorkerCrashed.workerId`). */
    readonly workerId: number
    /** How many tasks it has answered. */
    readonly tasks: number
  }>
  /** From submission until a worker got the task. */
  readonly wait: TimeSummary
  /** The task's run, as its worker measured it. */
  readonly run: TimeSummary
}

/**
 * Count, mean and maximum of a duration, in milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface TimeSummary {
  /** How many durations were measured. */
  readonly count: number
  /** Their mean (0 when none was). */
  readonly meanMillis: number
  /** The longest. */
  readonly maxMillis: number
}

/**
 * A running pool. Every method is an Effect, so nothing happens until it runs;
 * interrupting a call cancels its tasks in the workers.
 *
 * A call fails with `Cause.IllegalArgumentError` when what it is given is not
 * what the types say (from JavaScript: a value that is not a task handle,
 * `args` that are not an array, items that are not iterable, a `starmap` item
 * that is not a tuple), or when its task is declared in the program's entry
 * module: a worker loading that module would run the program again, so move
 * the tasks to a module of their own.
 *
 * @since 0.1.0
 * @category models
 */
export interface Pool {
  /** The number of workers (for a pool sized `{ min, max }`, its maximum). */
  readonly size: number

  /** Runs `task(...args)` in a worker and returns its result. */
  readonly apply: <Args extends ReadonlyArray<unknown>, A, E>(
    task: Task<Args, A, E>,
    args: Readonly<Args>,
    options?: ApplyOptions
  ) => Effect.Effect<A, E | DispatchError | Cause.IllegalArgumentError>

  /**
   * Runs `task(item)` for each item and returns the results in input order.
   * The input is split in chunks; the first failure fails the call and
   * cancels the rest of its work (Python waits for every chunk).
   */
  readonly map: <T extends TaskModule.Any>(
    task: T,
    items: Iterable<TaskModule.MapItem<T>>,
    options?: MapOptions
  ) => Effect.Effect<Array<TaskModule.Result<T>>, TaskModule.Error<T> | DispatchError | Cause.IllegalArgumentError>

  /** Like `map`, with each item an argument tuple: `task(...args)`. */
  readonly starmap: <Args extends ReadonlyArray<unknown>, A, E>(
    task: Task<Args, A, E>,
    items: Iterable<Readonly<Args>>,
    options?: MapOptions
  ) => Effect.Effect<Array<A>, E | DispatchError | Cause.IllegalArgumentError>

  /**
   * A lazy `map`: a `Stream` of results in input order. The input (an
   * `Iterable` or a `Stream`) is read as results are consumed, with a bounded
   * number of chunks in flight.
   */
  readonly imap: <T extends TaskModule.Any, EX = never, RX = never>(
    task: T,
    items: Iterable<TaskModule.MapItem<T>> | Stream.Stream<TaskModule.MapItem<T>, EX, RX>,
    options?: MapOptions
  ) => Stream.Stream<
    TaskModule.Result<T>,
    TaskModule.Error<T> | EX | DispatchError | Cause.IllegalArgumentError,
    RX
  >

  /** Like `imap`, with results in completion order. */
  readonly imapUnordered: <T extends TaskModule.Any, EX = never, RX = never>(
    task: T,
    items: Iterable<TaskModule.MapItem<T>> | Stream.Stream<TaskModule.MapItem<T>, EX, RX>,
    options?: MapOptions
  ) => Stream.Stream<
    TaskModule.Result<T>,
    TaskModule.Error<T> | EX | DispatchError | Cause.IllegalArgumentError,
    RX
  >

  /** Submits `task(...args)` and returns at once with an `AsyncResult`. */
  readonly applyAsync: <Args extends ReadonlyArray<unknown>, A, E>(
    task: Task<Args, A, E>,
    args: Readonly<Args>,
    options?: ApplyOptions & AsyncOptions<A, E | DispatchError>
  ) => Effect.Effect<AsyncResult.AsyncResult<A, E | DispatchError>, PoolNotRunning | Cause.IllegalArgumentError>

  /** Submits a `map` and returns at once with an `AsyncResult`. */
  readonly mapAsync: <T extends TaskModule.Any>(
    task: T,
    items: Iterable<TaskModule.MapItem<T>>,
    options?: MapOptions & AsyncOptions<Array<TaskModule.Result<T>>, TaskModule.Error<T> | DispatchError>
  ) => Effect.Effect<
    AsyncResult.AsyncResult<Array<TaskModule.Result<T>>, TaskModule.Error<T> | DispatchError>,
    PoolNotRunning | Cause.IllegalArgumentError
  >

  /** Submits a `starmap` and returns at once with an `AsyncResult`. */
  readonly starmapAsync: <Args extends ReadonlyArray<unknown>, A, E>(
    task: Task<Args, A, E>,
    items: Iterable<Readonly<Args>>,
    options?: MapOptions & AsyncOptions<Array<A>, E | DispatchError>
  ) => Effect.Effect<
    AsyncResult.AsyncResult<Array<A>, E | DispatchError>,
    PoolNotRunning | Cause.IllegalArgumentError
  >

  /**
   * Runs `task(...args)` once on every worker now in the pool, including one
   * still starting (for example to warm a cache), and returns the results, one
   * per worker.
   */
  readonly broadcast: <Args extends ReadonlyArray<unknown>, A, E>(
    task: Task<Args, A, E>,
    args: Readonly<Args>
  ) => Effect.Effect<Array<A>, E | DispatchError | Cause.IllegalArgumentError>

  /**
   * What the pool is doing and has done. The same figures are kept in Effect
   * `Metric` gauges (`effect_multiprocessing_*`, with a `pool` attribute),
   * read from the pool whenever metrics are read, so any metrics exporter
   * shows them; closing the pool removes its series.
   */
  readonly stats: Effect.Effect<Stats>

  // -- progress and events (see PoolEvents.ts and docs/observability.md) --

  /**
   * `apply` as a `Stream`: the task's progress updates (`Task.progress`), in
   * order, then its result (`Done`), then the end; the stream fails with the
   * call's error. Updates are coalesced as for `onProgress` (at most one per
   * `progressInterval`, the last one before the result always delivered); a
   * consumer more than 1024 updates behind loses the oldest, never the
   * result. Interrupting the stream cancels the task.
   */
  readonly applyWithProgress: <Args extends ReadonlyArray<unknown>, A, E>(
    task: Task<Args, A, E>,
    args: Readonly<Args>,
    options?: Omit<ApplyOptions, "onProgress">
  ) => Stream.Stream<ProgressUpdate<A>, E | DispatchError | Cause.IllegalArgumentError>

  /**
   * What happens to the pool's workers and queue, from the moment the stream
   * runs (see `PoolEvents`): started, ready, exited, crashed (with the
   * cause), replaced, recycled, failed to start; the queue full, drained. It
   * never slows the pool: a subscriber more than 1024 events behind loses the
   * oldest. It ends when the pool's scope closes.
   */
  readonly events: Stream.Stream<PoolEvent>

  /**
   * `events`, subscribed now (for as long as the current scope): the stream
   * it returns has every event from this moment on, however late it runs.
   */
  readonly subscribeEvents: Effect.Effect<Stream.Stream<PoolEvent>, never, Scope.Scope>

  /** Stops accepting tasks; the workers exit once the submitted tasks are done. */
  readonly close: Effect.Effect<void>
  /**
   * Waits until every worker has exited (and every async callback has run).
   * Fails with `PoolStillRunning` before `close` or `terminate`.
   */
  readonly join: Effect.Effect<void, PoolStillRunning>
  /**
   * Stops at once: queued and running tasks fail with `PoolTerminated`, the
   * workers are killed, even one stuck in a synchronous loop. Waits until they
   * have exited.
   */
  readonly terminate: Effect.Effect<void>
}

/**
 * The pool as a service, for programs that provide it with a layer.
 *
 * @since 0.1.0
 * @category services
 */
export class WorkerPool extends Context.Service<WorkerPool, Pool>()("effect-multiprocessing/WorkerPool") {}

/**
 * Starts a pool of `size` workers (threads, or processes with
 * `backend: "processes"`) and waits until all are ready. The
 * pool lives in the current `Scope`: closing it terminates the pool and waits
 * until every worker has exited.
 *
 * Fails with `Cause.IllegalArgumentError` for an option that is wrong (a size
 * that is not a positive integer, a `cancelGracePeriod` that is not a finite
 * duration, `resourceLimits` Node cannot start a worker with, an initializer
 * that is not a task or is declared in the program's entry module, a start
 * while a worker loads a task module without `nested: true`), and with
 * `WorkerStartFailed` if workers cannot start.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  options?: Options
): Effect.Effect<Pool, Cause.IllegalArgumentError | WorkerStartFailed, Scope.Scope> =>
  Effect.gen(function*() {
    const parsed = PoolOptions.parse(options, yield* Backend.Backend)
    if (Cause.isIllegalArgumentError(parsed)) return yield* parsed
    return yield* PoolEngine.make(
      parsed,
      options?.initializer === undefined ? undefined : { task: options.initializer, args: options.initargs ?? [] }
    )
  })

/**
 * Provides `WorkerPool` from `make`: the pool lives as long as the layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: Options): Layer.Layer<WorkerPool, Cause.IllegalArgumentError | WorkerStartFailed> =>
  Layer.effect(WorkerPool, make(options))

/**
 * Provides `WorkerPool` from options read from Effect `Config`, so that, for
 * example, the pool size can come from the environment without code changes.
 * Each option may be a plain value or a `Config` of it.
 *
 * @example
 * ```ts
 * import { Config } from "effect"
 *
 * const PoolLive = WorkerPool.layerConfig({
 *   size: Config.Int("POOL_SIZE").pipe(Config.withDefault(4)),
 *   maxTasksPerWorker: Config.Int("POOL_MAX_TASKS_PER_WORKER").pipe(Config.withDefault(1000))
 * })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerConfig = (
  options: Config.Wrap<Options>
): Layer.Layer<WorkerPool, Cause.IllegalArgumentError | WorkerStartFailed | Config.ConfigError> =>
  Layer.effect(WorkerPool, Effect.flatMap(Config.unwrap(options), make))

/**
 * A pool for tests, whose workers run in this thread: the real pool (its
 * dispatch, chunking, errors, cancellation and lifecycle) over in-process
 * workers that run each task on the caller's thread, with every argument and
 * result copied by `structuredClone` as real workers' are. Fast and
 * deterministic: the order in which tasks complete (that of `imapUnordered`,
 * of the `*Async` calls, of a `map`'s chunks) is shuffled by `seed`, the same
 * seed giving the same order; `fail` and `crash` inject failures
 * (`TaskError`s) and worker crashes (`WorkerCrashed`) into chosen calls.
 *
 * It does not model memory limits, CPU parallelism (one task runs at a time),
 * the isolation of workers (they share this thread's modules and globals), or
 * the killing of a task stuck in synchronous code (it blocks the test). See
 * docs/testing.md.
 *
 * @example
 * ```ts
 * const pool = yield* WorkerPool.makeTest({ size: 4, seed: 42 })
 * const results = yield* Stream.runCollect(pool.imapUnordered(tasks.square, [1, 2, 3]))
 * ```
 *
 * @since 0.1.0
 * @category testing
 */
export const makeTest = (
  options?: TestOptions
): Effect.Effect<Pool, Cause.IllegalArgumentError | WorkerStartFailed, Scope.Scope> =>
  Effect.gen(function*() {
    const parsed = PoolOptions.parse(options, yield* Backend.Backend)
    if (Cause.isIllegalArgumentError(parsed)) return yield* parsed
    const testing = InProcessWorkers.parse(options)
    if (Cause.isIllegalArgumentError(testing)) return yield* testing
    return yield* PoolEngine.make(
      parsed,
      options?.initializer === undefined ? undefined : { task: options.initializer, args: options.initargs ?? [] },
      yield* InProcessWorkers.make(testing)
    )
  })

/**
 * Provides `WorkerPool` from `makeTest`: the layer to provide in tests in
 * place of `WorkerPool.layer`.
 *
 * @example
 * ```ts
 * it.effect("squares", () =>
 *   WorkerPool.map(tasks.square, [1, 2, 3]).pipe(Effect.provide(WorkerPool.layerTest({ seed: 7 }))))
 * ```
 *
 * @since 0.1.0
 * @category testing
 */
export const layerTest = (
  options?: TestOptions
): Layer.Layer<WorkerPool, Cause.IllegalArgumentError | WorkerStartFailed> => Layer.effect(WorkerPool, makeTest(options))

// -- accessors ------------------------------------------------------------------

/**
 * `apply` on the `WorkerPool` service.
 *
 * @since 0.1.0
 * @category accessors
 */
export const apply = <Args extends ReadonlyArray<unknown>, A, E>(
  task: Task<Args, A, E>,
  args: Readonly<Args>,
  options?: ApplyOptions
): Effect.Effect<A, E | DispatchError | Cause.IllegalArgumentError, WorkerPool> =>
  WorkerPool.use((pool) => pool.apply(task, args, options))

/**
 * `map` on the `WorkerPool` service.
 *
 * @since 0.1.0
 * @category accessors
 */
export const map = <T extends TaskModule.Any>(
  task: T,
  items: Iterable<TaskModule.MapItem<T>>,
  options?: MapOptions
): Effect.Effect<
  Array<TaskModule.Result<T>>,
  TaskModule.Error<T> | DispatchError | Cause.IllegalArgumentError,
  WorkerPool
> =>
  WorkerPool.use((pool) => pool.map(task, items, options))

/**
 * `starmap` on the `WorkerPool` service.
 *
 * @since 0.1.0
 * @category accessors
 */
export const starmap = <Args extends ReadonlyArray<unknown>, A, E>(
  task: Task<Args, A, E>,
  items: Iterable<Readonly<Args>>,
  options?: MapOptions
): Effect.Effect<Array<A>, E | DispatchError | Cause.IllegalArgumentError, WorkerPool> =>
  WorkerPool.use((pool) => pool.starmap(task, items, options))

/**
 * `imap` on the `WorkerPool` service.
 *
 * @since 0.1.0
 * @category accessors
 */
export const imap = <T extends TaskModule.Any, EX = never, RX = never>(
  task: T,
  items: Iterable<TaskModule.MapItem<T>> | Stream.Stream<TaskModule.MapItem<T>, EX, RX>,
  options?: MapOptions
): Stream.Stream<
  TaskModule.Result<T>,
  TaskModule.Error<T> | EX | DispatchError | Cause.IllegalArgumentError,
  RX | WorkerPool
> =>
  Stream.unwrap(WorkerPool.useSync((pool) => pool.imap(task, items, options)))

/**
 * `imapUnordered` on the `WorkerPool` service.
 *
 * @since 0.1.0
 * @category accessors
 */
export const imapUnordered = <T extends TaskModule.Any, EX = never, RX = never>(
  task: T,
  items: Iterable<TaskModule.MapItem<T>> | Stream.Stream<TaskModule.MapItem<T>, EX, RX>,
  options?: MapOptions
): Stream.Stream<
  TaskModule.Result<T>,
  TaskModule.Error<T> | EX | DispatchError | Cause.IllegalArgumentError,
  RX | WorkerPool
> =>
  Stream.unwrap(WorkerPool.useSync((pool) => pool.imapUnordered(task, items, options)))

/**
 * `applyAsync` on the `WorkerPool` service.
 *
 * @since 0.1.0
 * @category accessors
 */
export const applyAsync = <Args extends ReadonlyArray<unknown>, A, E>(
  task: Task<Args, A, E>,
  args: Readonly<Args>,
  options?: ApplyOptions & AsyncOptions<A, E | DispatchError>
): Effect.Effect<
  AsyncResult.AsyncResult<A, E | DispatchError>,
  PoolNotRunning | Cause.IllegalArgumentError,
  WorkerPool
> =>
  WorkerPool.use((pool) => pool.applyAsync(task, args, options))

/**
 * `mapAsync` on the `WorkerPool` service.
 *
 * @since 0.1.0
 * @category accessors
 */
export const mapAsync = <T extends TaskModule.Any>(
  task: T,
  items: Iterable<TaskModule.MapItem<T>>,
  options?: MapOptions & AsyncOptions<Array<TaskModule.Result<T>>, TaskModule.Error<T> | DispatchError>
): Effect.Effect<
  AsyncResult.AsyncResult<Array<TaskModule.Result<T>>, TaskModule.Error<T> | DispatchError>,
  PoolNotRunning | Cause.IllegalArgumentError,
  WorkerPool
> => WorkerPool.use((pool) => pool.mapAsync(task, items, options))

/**
 * `starmapAsync` on the `WorkerPool` service.
 *
 * @since 0.1.0
 * @category accessors
 */
export const starmapAsync = <Args extends ReadonlyArray<unknown>, A, E>(
  task: Task<Args, A, E>,
  items: Iterable<Readonly<Args>>,
  options?: MapOptions & AsyncOptions<Array<A>, E | DispatchError>
): Effect.Effect<
  AsyncResult.AsyncResult<Array<A>, E | DispatchError>,
  PoolNotRunning | Cause.IllegalArgumentError,
  WorkerPool
> => WorkerPool.use((pool) => pool.starmapAsync(task, items, options))

/**
 * `broadcast` on the `WorkerPool` service.
 *
 * @since 0.1.0
 * @category accessors
 */
export const broadcast = <Args extends ReadonlyArray<unknown>, A, E>(
  task: Task<Args, A, E>,
  args: Readonly<Args>
): Effect.Effect<Array<A>, E | DispatchError | Cause.IllegalArgumentError, WorkerPool> =>
  WorkerPool.use((pool) => pool.broadcast(task, args))

/**
 * `stats` of the `WorkerPool` service.
 *
 * @since 0.1.0
 * @category accessors
 */
export const stats: Effect.Effect<Stats, never, WorkerPool> = WorkerPool.use((pool) => pool.stats)

/**
 * `close` on the `WorkerPool` service.
 *
 * @since 0.1.0
 * @category accessors
 */
export const close: Effect.Effect<void, never, WorkerPool> = WorkerPool.use((pool) => pool.close)

/**
 * `join` on the `WorkerPool` service.
 *
 * @since 0.1.0
 * @category accessors
 */
export const join: Effect.Effect<void, PoolStillRunning, WorkerPool> = WorkerPool.use((pool) => pool.join)

/**
 * `terminate` on the `WorkerPool` service.
 *
 * @since 0.1.0
 * @category accessors
 */
export const terminate: Effect.Effect<void, never, WorkerPool> = WorkerPool.use((pool) => pool.terminate)
