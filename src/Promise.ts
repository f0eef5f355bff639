/// <reference lib="esnext.disposable" preserve="true" />

/**
 * The pool for scripts and non-Effect code: every call returns a `Promise`
 * (or an `AsyncIterable`), cancellation is an `AbortSignal`, and
 * `await using` terminates the pool. It is the same engine as `WorkerPool`,
 * run for you: the same workers, dispatch, crash isolation and errors.
 *
 * | Python | here |
 * |---|---|
 * | `with Pool(4) as p:` | `await using pool = await Pool.create({ size: 4 })` |
 * | `p.apply(f, (a, b))` | `await pool.apply(tasks.f, [a, b])` |
 * | `p.map(f, xs)` / `p.starmap(f, tuples)` | `await pool.map(tasks.f, xs)` / `await pool.starmap(tasks.f, tuples)` |
 * | `for r in p.imap(f, xs):` | `for await (const r of pool.imap(tasks.f, xs))` (also `imapUnordered`) |
 * | `r = p.apply_async(f, args, callback)` | `const r = await pool.applyAsync(tasks.f, args, { callback })`, `await r.get()` |
 * | `p.close()` / `p.join()` / `p.terminate()` | `await pool.close()` / `await pool.join()` / `await pool.terminate()` |
 * | (progress) | `await pool.apply(tasks.f, args, { onProgress })` (a task's `Task.progress` updates), `pool.map(tasks.f, xs, { onProgress })` (`{ done, total }`) |
 *
 * A call rejects with the error classes of the Effect API, as themselves (not
 * wrapped): `TaskError`, `WorkerCrashed`, `PoolNotRunning`…, a task module's
 * declared errors as their own classes, and effect's `IllegalArgumentError`
 * for a bad option or argument. A call given an aborted `signal` rejects with
 * the signal's `reason`, as `fetch` does.
 *
 * @example
 * ```ts
 * import { Pool } from "effect-multiprocessing/promise"
 * import { tasks } from "./tasks.ts"
 *
 * await using pool = await Pool.create({ size: 4 })
 * console.log(await pool.map(tasks.square, [1, 2, 3, 4])) // [1, 4, 9, 16]
 * for await (const n of pool.imap(tasks.square, [5, 6])) console.log(n) // 25, 36
 * ```
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as EffectAsyncResult from "./AsyncResult.ts"
import type { DispatchError } from "./PoolError.ts"
import type { ApplyOptions, AsyncOptions, MapOptions, Options } from "./PoolOptions.ts"
import type * as TaskModule from "./Task.ts"
import * as WorkerPool from "./WorkerPool.ts"

/** @since 0.1.0 */
export * as Task from "./Task.ts"

/** @since 0.1.0 */
export {
  type DispatchError,
  PoolNotRunning,
  PoolStillRunning,
  PoolTerminated,
  ResultNotReady,
  SerializationError,
  TaskError,
  WorkerCrashed,
  WorkerStartFailed
} from "./PoolError.ts"

/**
 * effect's error for an option or argument that is wrong (a size or
 * chunksize that is not a positive integer, a value that is not a task…),
 * re-exported so that a script can check `instanceof` with one import.
 *
 * @since 0.1.0
 * @category errors
 */
export const IllegalArgumentError = Cause.IllegalArgumentError

/**
 * An instance of `IllegalArgumentError`.
 *
 * @since 0.1.0
 * @category errors
 */
export type IllegalArgumentError = Cause.IllegalArgumentError

/**
 * effect's error for `AsyncResult.get({ timeout })` when the result is not
 * ready in time, re-exported for `instanceof`.
 *
 * @since 0.1.0
 * @category errors
 */
export const TimeoutError = Cause.TimeoutError

/**
 * An instance of `TimeoutError`.
 *
 * @since 0.1.0
 * @category errors
 */
export type TimeoutError = Cause.TimeoutError

/** @since 0.1.0 */
export type { ApplyOptions, AsyncOptions, MapOptions, Options, Stats } from "./WorkerPool.ts"

/**
 * The `signal` of a call: aborting it cancels the call's tasks in the
 * workers exactly as interrupting the Effect call does (an async task sees
 * `Task.signal()` abort, an Effect task's fiber is interrupted, a synchronous
 * task still running after `cancelGracePeriod` has its worker replaced), and
 * the call rejects with `signal.reason`. A signal aborted already rejects the
 * call without submitting anything.
 *
 * @since 0.1.0
 * @category models
 */
export interface SignalOptions {
  /** Aborting it cancels the call's tasks in the workers; the call rejects with `signal.reason`. */
  readonly signal?: AbortSignal | undefined
}

/**
 * Python's `AsyncResult`, for the `*Async` calls: the task was submitted when
 * the call resolved. Its outcome is read only when asked for (`get`), so a
 * failure nobody reads is no unhandled rejection; the callbacks given to the
 * call run once it is ready, and `join` waits for them.
 *
 * @since 0.1.0
 * @category models
 */
export interface AsyncResult<A> {
  /**
   * The result, or its error. With a `timeout`, rejects with `TimeoutError`
   * if it is not ready by then; the task keeps running and a later `get` can
   * still return it.
   */
  readonly get: (options?: { readonly timeout?: Duration.Input | undefined }) => Promise<A>
  /** Resolves once the result is ready (or the timeout has passed); never rejects. */
  readonly wait: (options?: { readonly timeout?: Duration.Input | undefined }) => Promise<void>
  /** Whether the result is ready. */
  readonly ready: () => boolean
  /** Whether the task succeeded; throws `ResultNotReady` before it is ready. */
  readonly successful: () => boolean
}

/**
 * A task's input for `imap` and `imapUnordered`: any iterable, or an async
 * iterable (a generator reading a file, a stream…), read lazily as results
 * are consumed.
 *
 * @since 0.1.0
 * @category models
 */
export type Input<A> = Iterable<A> | AsyncIterable<A>

/**
 * A running pool, for code that does not use Effect. Create it with
 * `Pool.create`; end it with `terminate` (or `await using`), or with `close`
 * then `join`.
 *
 * A pool that is never ended does not keep its program alive: once its
 * workers are idle they no longer hold the event loop, as with the Effect
 * API. While a task runs, the program waits for it.
 *
 * @since 0.1.0
 * @category models
 */
export class Pool implements AsyncDisposable {
  readonly #pool: WorkerPool.Pool
  readonly #scope: Scope.Closeable

  private constructor(pool: WorkerPool.Pool, scope: Scope.Closeable) {
    this.#pool = pool
    this.#scope = scope
  }

  /**
   * Starts a pool (the options of `WorkerPool.make`) and resolves once every
   * worker is ready. Rejects with `IllegalArgumentError` for a wrong option
   * (a size that is not a positive integer…) and with `WorkerStartFailed` if
   * workers cannot start; a pool that fails to start leaves no worker behind.
   */
  static async create(options?: Options): Promise<Pool> {
    const scope = Scope.makeUnsafe()
    const exit = await Effect.runPromiseExit(Scope.provide(WorkerPool.make(options), scope))
    if (Exit.isSuccess(exit)) return new Pool(exit.value, scope)
    await Effect.runPromise(Scope.close(scope, Exit.void))
    throw Cause.squash(exit.cause)
  }

  /** The number of workers (for a pool sized `{ min, max }`, its maximum). */
  get size(): number {
    return this.#pool.size
  }

  /** What the pool is doing and has done: a snapshot, taken at each read. */
  get stats(): WorkerPool.Stats {
    return Effect.runSync(this.#pool.stats)
  }

  /**
   * Runs `task(...args)` in a worker and resolves with its result. With
   * `onProgress`, the task's `Task.progress` updates are passed to it, in
   * order, before the result (see `ApplyOptions.onProgress`).
   */
  apply<Args extends ReadonlyArray<unknown>, A, E>(
    task: TaskModule.Task<Args, A, E>,
    args: Readonly<Args>,
    options?: ApplyOptions & SignalOptions
  ): Promise<A> {
    return run(() => this.#pool.apply(task, args, options), options?.signal)
  }

  /**
   * Runs `task(item)` for each item and resolves with the results in input
   * order. The first failure rejects the call and cancels the rest of its work.
   */
  map<T extends TaskModule.Any>(
    task: T,
    items: Iterable<TaskModule.MapItem<T>>,
    options?: MapOptions & SignalOptions
  ): Promise<Array<TaskModule.Result<T>>> {
    return run(() => this.#pool.map(task, items, options), options?.signal)
  }

  /** Like `map`, with each item an argument tuple: `task(...args)`. */
  starmap<Args extends ReadonlyArray<unknown>, A, E>(
    task: TaskModule.Task<Args, A, E>,
    items: Iterable<Readonly<Args>>,
    options?: MapOptions & SignalOptions
  ): Promise<Array<A>> {
    return run(() => this.#pool.starmap(task, items, options), options?.signal)
  }

  /**
   * A lazy `map`, for `for await`: results in input order, the input read as
   * results are consumed. Leaving the loop early (`break`, `return`, a throw)
   * cancels the work still in flight, as interrupting the Effect stream does;
   * a failure or an abort of `signal` makes the loop throw it.
   */
  imap<T extends TaskModule.Any>(
    task: T,
    items: Input<TaskModule.MapItem<T>>,
    options?: MapOptions & SignalOptions
  ): AsyncIterable<TaskModule.Result<T>> {
    return iterate(this.#pool.imap(task, input(items), options), options?.signal)
  }

  /** Like `imap`, with results in completion order. */
  imapUnordered<T extends TaskModule.Any>(
    task: T,
    items: Input<TaskModule.MapItem<T>>,
    options?: MapOptions & SignalOptions
  ): AsyncIterable<TaskModule.Result<T>> {
    return iterate(this.#pool.imapUnordered(task, input(items), options), options?.signal)
  }

  /**
   * Python's `apply_async`: submits `task(...args)` and resolves at once (with
   * `maxQueue`, once there is room) with an `AsyncResult`. Rejects only if
   * the task cannot be submitted (`PoolNotRunning`, `IllegalArgumentError`).
   */
  applyAsync<Args extends ReadonlyArray<unknown>, A, E>(
    task: TaskModule.Task<Args, A, E>,
    args: Readonly<Args>,
    options?: ApplyOptions & AsyncOptions<A, E | DispatchError> & SignalOptions
  ): Promise<AsyncResult<A>> {
    return submit(() => this.#pool.applyAsync(task, args, options), options?.signal)
  }

  /** Python's `map_async`: submits a `map` and resolves at once with an `AsyncResult`. */
  mapAsync<T extends TaskModule.Any>(
    task: T,
    items: Iterable<TaskModule.MapItem<T>>,
    options?:
      & MapOptions
      & AsyncOptions<Array<TaskModule.Result<T>>, TaskModule.Error<T> | DispatchError>
      & SignalOptions
  ): Promise<AsyncResult<Array<TaskModule.Result<T>>>> {
    return submit(() => this.#pool.mapAsync(task, items, options), options?.signal)
  }

  /** Python's `starmap_async`: submits a `starmap` and resolves at once with an `AsyncResult`. */
  starmapAsync<Args extends ReadonlyArray<unknown>, A, E>(
    task: TaskModule.Task<Args, A, E>,
    items: Iterable<Readonly<Args>>,
    options?: MapOptions & AsyncOptions<Array<A>, E | DispatchError> & SignalOptions
  ): Promise<AsyncResult<Array<A>>> {
    return submit(() => this.#pool.starmapAsync(task, items, options), options?.signal)
  }

  /** Runs `task(...args)` once on every worker now in the pool; one result per worker. */
  broadcast<Args extends ReadonlyArray<unknown>, A, E>(
    task: TaskModule.Task<Args, A, E>,
    args: Readonly<Args>,
    options?: SignalOptions
  ): Promise<Array<A>> {
    return run(() => this.#pool.broadcast(task, args), options?.signal)
  }

  /** Stops accepting tasks; the workers exit once the submitted tasks are done. */
  close(): Promise<void> {
    return Effect.runPromise(this.#pool.close)
  }

  /**
   * Waits until every worker has exited (and every `*Async` callback has
   * run), then releases the pool. Rejects with `PoolStillRunning` before
   * `close` or `terminate`.
   */
  join(): Promise<void> {
    return run(() => Effect.andThen(this.#pool.join, Scope.close(this.#scope, Exit.void)), undefined)
  }

  /**
   * Stops at once: queued and running tasks reject with `PoolTerminated`, the
   * workers are killed (even one stuck in a synchronous loop). Resolves once
   * they have exited and the pool is released. Idempotent.
   */
  terminate(): Promise<void> {
    return Effect.runPromise(Effect.andThen(this.#pool.terminate, Scope.close(this.#scope, Exit.void)))
  }

  /** `terminate`, for `await using pool = await Pool.create()`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.terminate()
  }
}

/**
 * Runs a call: resolves with its value, rejects with its error itself (the
 * first failure, else the first defect), or with `signal.reason` once the
 * signal has cancelled it. An aborted signal rejects before the call is made.
 */
const run = <A, E>(call: () => Effect.Effect<A, E>, signal: AbortSignal | undefined): Promise<A> => {
  if (signal?.aborted) return Promise.reject(signal.reason)
  return Effect.runPromiseExit(Effect.suspend(call), { signal }).then((exit) => {
    if (Exit.isSuccess(exit)) return exit.value
    throw rejection(exit.cause, signal)
  })
}

/** What a failed call rejects with: an interruption by the signal is its reason. */
const rejection = (cause: Cause.Cause<unknown>, signal: AbortSignal | undefined): unknown =>
  signal?.aborted && Cause.hasInterruptsOnly(cause) ? signal.reason : Cause.squash(cause)

/** Submits an `*Async` call; the signal, once the call is submitted, cancels its result. */
const submit = <A, E>(
  call: () => Effect.Effect<EffectAsyncResult.AsyncResult<A, E>, unknown>,
  signal: AbortSignal | undefined
): Promise<AsyncResult<A>> =>
  run(call, signal).then((result) => {
    if (signal !== undefined) {
      const cancel = () => Effect.runFork(Fiber.interrupt(result.fiber))
      if (signal.aborted) cancel()
      else {
        signal.addEventListener("abort", cancel, { once: true })
        result.fiber.addObserver(() => signal.removeEventListener("abort", cancel))
      }
    }
    return {
      get: (options) =>
        Effect.runPromiseExit(result.get(options)).then((exit) => {
          if (Exit.isSuccess(exit)) return exit.value
          throw rejection(exit.cause, signal)
        }),
      wait: (options) => Effect.runPromise(result.wait(options)),
      ready: () => Effect.runSync(result.ready),
      successful: () => Effect.runSync(result.successful)
    }
  })

/** An async iterable becomes a `Stream` (its errors fail the call as themselves); an iterable stays as it is. */
const input = <A>(items: Input<A>): Iterable<A> | Stream.Stream<A, unknown> =>
  typeof items === "object" && items !== null && Symbol.asyncIterator in items
    ? Stream.fromAsyncIterable(items, (error) => error)
    : items as Iterable<A>

/**
 * A stream as an `AsyncIterable` whose loop throws the stream's error itself;
 * leaving the loop closes the stream. An abort of the signal fails it with the
 * signal's reason; a signal aborted already fails it before anything starts.
 */
const iterate = <A, E>(stream: Stream.Stream<A, E>, signal: AbortSignal | undefined): AsyncIterable<A> =>
  Stream.toAsyncIterable(
    signal === undefined ? stream : Stream.unwrap(Effect.suspend(() =>
      signal.aborted
        ? Effect.fail(signal.reason as unknown)
        : Effect.succeed(Stream.interruptWhen(stream, aborted(signal)))
    ))
  )

/** Fails with the signal's reason when it aborts. */
const aborted = (signal: AbortSignal): Effect.Effect<never, unknown> =>
  Effect.callback<never, unknown>((resume) => {
    const onAbort = () => resume(Effect.fail(signal.reason))
    if (signal.aborted) return onAbort()
    signal.addEventListener("abort", onAbort, { once: true })
    return Effect.sync(() => signal.removeEventListener("abort", onAbort))
  })
