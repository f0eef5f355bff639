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
 */
import * as NodeWorker from "@effect/platform-node/NodeWorker"
import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as AsyncResult from "./AsyncResult.ts"
import * as Backend from "./Backend.ts"
import * as CallChecks from "./internal/callChecks.ts"
import * as Chunking from "./internal/chunking.ts"
import { Dispatcher } from "./internal/dispatcher.ts"
import * as NodeProcesses from "./internal/nodeProcesses.ts"
import * as NodeThreads from "./internal/nodeThreads.ts"
import * as PoolOptions from "./internal/options.ts"
import * as PoolStats from "./internal/poolStats.ts"
import * as Protocol from "./internal/protocol.ts"
import type { Job } from "./internal/slot.ts"
import { admitted, awaitChunks, awaitJob, type Chunked, handOver, submitChunks } from "./internal/submission.ts"
import * as Supervisor from "./internal/supervisor.ts"
import {
  type DispatchError,
  PoolNotRunning,
  PoolStillRunning,
  PoolTerminated,
  type WorkerStartFailed
} from "./PoolError.ts"
import type { Task, Transferable } from "./Task.ts"
import * as TaskModule from "./Task.ts"

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
    readonly min: number
    readonly max: number
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
   * `argv`, `env`, `name`) can be set here too; each one set here wins over
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
 * A snapshot of what a pool is doing and has done. A `map` chunk counts as one
 * task. Times are in milliseconds: `wait` from submission until a worker got
 * the task, `run` as the worker measured it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
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
  readonly succeeded: number
  readonly failed: number
  /** Tasks each current worker has answered. */
  readonly tasksPerWorker: ReadonlyArray<{ readonly workerId: number; readonly tasks: number }>
  readonly wait: TimeSummary
  readonly run: TimeSummary
}

/**
 * Count, mean and maximum of a duration, in milliseconds.
 *
 * @since 0.1.0
 * @category models
 */
export interface TimeSummary {
  readonly count: number
  readonly meanMillis: number
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

/** How many chunks of an `imap` may be in flight per worker. */
const IMAP_CHUNKS_PER_WORKER = 8

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
    const { backend, cancelGracePeriod, maxHeapPerWorkerMb, maxQueue, maxTasksPerWorker, sizing, startTimeout } = parsed
    const size = sizing.max
    const scope = yield* Effect.scope
    const dispatcher = new Dispatcher()
    dispatcher.maxQueue = maxQueue ?? Infinity
    const asyncResults = yield* FiberSet.make<unknown, unknown>()
    const background = yield* FiberSet.make<unknown, unknown>()
    const runBackground = yield* FiberSet.runtime(background)()
    const workersScope = yield* Scope.fork(scope)
    const supervisor = yield* Supervisor.make({
      sizing,
      fork: (effect) => runBackground(effect),
      dispatcher,
      backend: backend.kind === "processes" ? NodeProcesses.processes(backend) : NodeThreads.threads(backend),
      scope: workersScope,
      initializer: options?.initializer === undefined
        ? undefined
        : { task: options.initializer, args: options.initargs ?? [] },
      maxTasksPerWorker,
      maxHeapPerWorkerMb,
      startTimeout
    }).pipe(Effect.provide(NodeWorker.layerPlatform))

    let state: "running" | "closed" | "terminated" = "running"
    let started = false
    const stopped = Deferred.makeUnsafe<void>()

    /** Stops the workers; the first stop to finish marks the pool stopped. */
    const stopWorkers = (how: "close" | "kill") =>
      Effect.suspend(() => {
        dispatcher.rejectWith ??= Exit.fail(
          new PoolNotRunning({ state: "closed", message: "the pool is closed: it accepts no more tasks" })
        )
        supervisor.ref(true)
        return supervisor.stop(how)
      }).pipe(Effect.andThen(Deferred.done(stopped, Exit.void)))

    const stats = Effect.sync(() => PoolStats.snapshot(dispatcher))
    yield* PoolStats.register(dispatcher)

    dispatcher.onBusy = () => {
      supervisor.ref(true)
      supervisor.watch()
    }
    // a cancelled task that has not stopped within the grace period (stuck in synchronous code, or ignoring its
    // signal, or uninterruptible) cannot be stopped any other way: its worker is replaced
    const watchCancelled = (job: Job): Effect.Effect<void> =>
      Effect.sleep(cancelGracePeriod).pipe(Effect.andThen(Effect.suspend(() => {
        const grace = Duration.format(cancelGracePeriod)
        switch (dispatcher.cancelVerdict(job)) {
          case "done":
            return Effect.void
          case "waiting":
            return watchCancelled(job)
          case "stuck":
            return Effect.sync(() =>
              supervisor.kill(job.slot!, `killed: a cancelled ${job.task.name} was still running synchronously after ${grace}`)
            )
          case "ignored":
            return Effect.sync(() =>
              supervisor.kill(
                job.slot!,
                `killed: a cancelled ${job.task.name} had not stopped ${grace} after its worker read the cancel ` +
                  `(it ignores its AbortSignal, or cannot be interrupted)`
              )
            )
        }
      })))
    dispatcher.onCancelRunning = (job) => runBackground(watchCancelled(job))
    dispatcher.onIdle = () => {
      // while the pool starts, its workers keep the program alive (make is waiting for them)
      if (started) supervisor.ref(false)
      if (state === "closed") runBackground(stopWorkers("close"))
    }

    // uninterruptible: a terminate cut short would leave the pool half stopped, and join waiting forever
    const terminate = Effect.uninterruptible(Effect.suspend(() => {
      if (state === "terminated") return Deferred.await(stopped)
      state = "terminated"
      dispatcher.rejectWith = Exit.fail(
        new PoolNotRunning({ state: "terminated", message: "the pool is terminated: it accepts no more tasks" })
      )
      dispatcher.failAll(new PoolTerminated({ message: "the pool was terminated before the task finished" }))
      return stopWorkers("kill")
    }))
    yield* Effect.addFinalizer(() => terminate)

    // a pool that cannot start leaves no worker behind: those still starting are killed, and waited for
    yield* Effect.onError(supervisor.start, () => terminate)
    started = true
    supervisor.ref(dispatcher.outstanding > 0)

    const notRunning = () =>
      Effect.fail(
        new PoolNotRunning({
          state: state as "closed" | "terminated",
          message: `the pool is ${state}: it accepts no more tasks`
        })
      )

    /** Validates a map's options and reads its input (an input that throws fails the call with that error). */
    const prepareMap = <X>(items: Iterable<X>, options: MapOptions | undefined) =>
      Effect.suspend(() => {
        if (options?.chunksize !== undefined) {
          const invalid = Chunking.validate(options.chunksize)
          if (invalid) return Effect.fail(invalid)
        }
        let list: ReadonlyArray<X>
        try {
          list = Array.isArray(items) ? items : Array.from(items)
        } catch (error) {
          return Effect.die(error)
        }
        return Effect.succeed({ list, chunksize: options?.chunksize ?? Chunking.defaultChunksize(list.length, size) })
      })

    const mapWith = (
      method: string,
      mode: typeof Protocol.MODE_MAP | typeof Protocol.MODE_STARMAP,
      task: TaskModule.Any,
      items: Iterable<unknown>,
      options: MapOptions | undefined
    ) =>
      Effect.suspend((): Effect.Effect<Chunked, PoolNotRunning | Cause.IllegalArgumentError> => {
        const invalid = CallChecks.mapCall(method, task, items)
        if (invalid) return Effect.fail(invalid)
        return state !== "running" ? notRunning() : Effect.flatMap(
          prepareMap(items, options),
          ({ chunksize, list }) => {
            const notTuples = mode === Protocol.MODE_STARMAP ? CallChecks.tuples(method, list) : undefined
            return notTuples ? Effect.fail(notTuples) : submitChunks(dispatcher, task, mode, list, chunksize)
          }
        )
      })

    const imapWith = (unordered: boolean) =>
    (
      task: TaskModule.Any,
      items: Iterable<unknown> | Stream.Stream<unknown, unknown, unknown>,
      options: MapOptions | undefined
    ): Stream.Stream<unknown, unknown, unknown> =>
      Stream.unwrap(Effect.suspend((): Effect.Effect<
        Stream.Stream<unknown, unknown, unknown>,
        PoolNotRunning | Cause.IllegalArgumentError
      > => {
        const mistake = CallChecks.imapCall(unordered ? "imapUnordered" : "imap", task, items, Stream.isStream)
        if (mistake) return Effect.fail(mistake)
        if (state !== "running") return notRunning()
        const chunksize = options?.chunksize ?? 1
        const invalid = Chunking.validate(chunksize)
        if (invalid) return Effect.fail(invalid)
        // an iterable is read one chunk at a time (Stream.fromIterable would read 4096 items ahead)
        const input = Stream.isStream(items)
          ? items
          : Stream.fromIterable(items, { chunkSize: Array.isArray(items) ? undefined : chunksize })
        // while the stream runs, the pool is not idle: a close waits for the rest of its input
        const release = dispatcher.busy()
        return Effect.succeed(input.pipe(
          Stream.grouped(chunksize),
          // each chunk's outcome as an Exit, so that an ordered stream emits every result
          // before a failed chunk, and fails (cancelling the chunks in flight) when it reaches it
          Stream.mapEffect(
            (chunk) =>
              Effect.exit(Effect.flatMap(
                admitted(dispatcher, () => dispatcher.submit(task, Protocol.MODE_MAP, chunk, chunk.length)),
                (job) => awaitJob<ReadonlyArray<unknown>, unknown>(dispatcher, job)
              )),
            { concurrency: Math.min(size * IMAP_CHUNKS_PER_WORKER, maxQueue ?? Infinity), unordered }
          ),
          Stream.mapEffect((exit) => exit),
          // one result at a time, each let go of by the chunk once emitted: no consumed result is kept alive
          Stream.flatMap((results) => Stream.fromIterable(handOver(results), { chunkSize: 1 })),
          Stream.ensuring(Effect.sync(release))
        ))
      }))

    /** Runs the wait in a fiber of the pool's scope, with Python's callbacks. */
    const startAsync = <A, E>(wait: Effect.Effect<A, E>, options: AsyncOptions<A, E> | undefined) =>
      Effect.map(
        FiberSet.run(asyncResults, options?.callback || options?.errorCallback ? withCallbacks(wait, options) : wait),
        AsyncResult.fromFiber
      )

    const pool: Pool = {
      size,
      stats,
      apply: (task, args, options) =>
        Effect.suspend(() => {
          const invalid = CallChecks.applyCall("apply", task, args)
          if (invalid) return Effect.fail(invalid)
          if (state !== "running") return notRunning()
          const submit = () => dispatcher.submit(task, Protocol.MODE_APPLY, args, 1, options?.transfer)
          return maxQueue === undefined
            ? awaitJob(dispatcher, submit())
            : Effect.flatMap(admitted(dispatcher, submit), (job) => awaitJob(dispatcher, job))
        }),
      map: (task, items, options) =>
        Effect.flatMap(
          mapWith("map", Protocol.MODE_MAP, task, items, options),
          (group) => awaitChunks(dispatcher, group)
        ),
      starmap: (task, items, options) =>
        Effect.flatMap(
          mapWith("starmap", Protocol.MODE_STARMAP, task, items, options),
          (group) => awaitChunks(dispatcher, group)
        ),
      imap: imapWith(false) as Pool["imap"],
      imapUnordered: imapWith(true) as Pool["imapUnordered"],
      applyAsync: (task, args, options) =>
        Effect.suspend(() => {
          const invalid = CallChecks.applyCall("applyAsync", task, args)
          if (invalid) return Effect.fail<Cause.IllegalArgumentError | PoolNotRunning>(invalid)
          if (state !== "running") return notRunning()
          return Effect.flatMap(
            admitted(dispatcher, () => dispatcher.submit(task, Protocol.MODE_APPLY, args, 1, options?.transfer)),
            (job) => startAsync(awaitJob(dispatcher, job), options)
          )
        }),
      mapAsync: (task, items, options) =>
        Effect.flatMap(
          mapWith("mapAsync", Protocol.MODE_MAP, task, items, options),
          (group) => startAsync(awaitChunks(dispatcher, group), options)
        ),
      starmapAsync: (task, items, options) =>
        Effect.flatMap(
          mapWith("starmapAsync", Protocol.MODE_STARMAP, task, items, options),
          (group) => startAsync(awaitChunks(dispatcher, group), options)
        ),
      broadcast: (task, args) =>
        Effect.suspend(() => {
          const invalid = CallChecks.applyCall("broadcast", task, args)
          if (invalid) return Effect.fail(invalid)
          if (state !== "running") return notRunning()
          const jobs = dispatcher.members().map((slot) =>
            dispatcher.submitTo(slot, task, Protocol.MODE_APPLY, args, 1)
          )
          return Effect.forEach(jobs, (job) => awaitJob(dispatcher, job), { concurrency: "unbounded" })
        }),
      close: Effect.sync(() => {
        if (state !== "running") return
        state = "closed"
        if (dispatcher.outstanding === 0) runBackground(stopWorkers("close"))
      }),
      join: Effect.suspend(() =>
        state === "running"
          ? Effect.fail(new PoolStillRunning({ message: "join needs the pool closed or terminated first" }))
          : Effect.andThen(Deferred.await(stopped), FiberSet.awaitEmpty(asyncResults))
      ),
      terminate
    }
    return pool
  })

const withCallbacks = <A, E>(wait: Effect.Effect<A, E>, options: AsyncOptions<A, E>) =>
  Effect.onExit(wait, (exit) =>
    Effect.suspend(() => {
      try {
        if (exit._tag === "Success") {
          options.callback?.(exit.value)
        } else {
          // Python calls error_callback with the exception; an interruption is not one
          const error = Cause.findErrorOption(exit.cause)
          if (error._tag === "Some") options.errorCallback?.(error.value)
        }
        return Effect.void
      } catch (error) {
        return Effect.logError("effect-multiprocessing: an AsyncResult callback threw; the pool is unaffected", error)
      }
    }))

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
