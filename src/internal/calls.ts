/**
 * A pool's calls: `apply`, `map` / `starmap`, the `imap` streams, the
 * `*Async` variants (with Python's callbacks) and `broadcast`, over the
 * submission helpers (submission.ts). Each call checks what it is given
 * (callChecks.ts) and that the pool is running (lifecycle.ts) before it
 * submits anything.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Fiber from "effect/Fiber"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Stream from "effect/Stream"
import * as AsyncResult from "../AsyncResult.ts"
import type { PoolNotRunning } from "../PoolError.ts"
import type * as TaskModule from "../Task.ts"
import type { ApplyOptions, AsyncOptions, MapOptions } from "../PoolOptions.ts"
import type { Pool } from "../WorkerPool.ts"
import * as CallChecks from "./callChecks.ts"
import * as Chunking from "./chunking.ts"
import type { Dispatcher } from "./dispatcher.ts"
import type { Lifecycle } from "./lifecycle.ts"
import * as Progress from "./progress.ts"
import * as Protocol from "./protocol.ts"
import * as Tracing from "./tracing.ts"
import type { Job } from "./slot.ts"
import { admitted, awaitChunks, awaitJob, type Chunked, handOver, JobResult, submitChunks } from "./submission.ts"

/** How many chunks of an `imap` may be in flight per worker. */
const IMAP_CHUNKS_PER_WORKER = 8

/** What the calls need of their pool. */
export interface Engine {
  readonly dispatcher: Dispatcher
  readonly lifecycle: Lifecycle
  /** The number of workers (for a pool sized `{ min, max }`, its maximum). */
  readonly size: number
  readonly maxQueue: number | undefined
  /** Where the `*Async` calls wait for their results. */
  readonly asyncResults: FiberSet.FiberSet<unknown, unknown>
}

/** The methods of a `Pool` that submit tasks. */
export type Calls = Pick<
  Pool,
  | "apply"
  | "map"
  | "starmap"
  | "imap"
  | "imapUnordered"
  | "applyAsync"
  | "mapAsync"
  | "starmapAsync"
  | "broadcast"
  | "applyWithProgress"
>

/** Pools made in this process, for the `effect-multiprocessing.pool` attribute of a call's span. */
let pools = 0

export const make = (engine: Engine): Calls => {
  const { dispatcher, lifecycle } = engine
  const pool = ++pools
  const withPool = { ...engine, pool }
  /** `applyAsync` with a callback, or in a span of ours: the wait runs in a fiber of the pool's (`startAsync`). */
  const applyAsyncTraced: Pool["applyAsync"] = (task, args, options) =>
    Tracing.call("applyAsync", pool, task, (context, traced, span) => {
      const invalid = CallChecks.applyCall("applyAsync", task, args)
      if (invalid) return Effect.fail<Cause.IllegalArgumentError | PoolNotRunning>(invalid)
      if (lifecycle.state() !== "running") return lifecycle.notRunning()
      return Effect.flatMap(Progress.watchOf(options), (watch) =>
        Effect.flatMap(
          admitted(dispatcher, () =>
            Tracing.mark(
              dispatcher.submit(task, Protocol.MODE_APPLY, args, 1, options?.transfer, watch),
              context,
              traced
            )),
          (job) => startAsync(engine, Tracing.endWith(awaitJob(dispatcher, job), span, traced), options)
        ))
    }, false)
  const calls: Calls = {
    // the hot path: one callback that submits and waits, unless the caller's tracer records, the caller watches
    // the task's progress or the queue is bounded (then the callback goes on with `applyIn`)
    apply: (task, args, options) =>
      Effect.callback<any, any>((resume) => {
        const fiber = Fiber.getCurrent()!
        if (options?.onProgress !== undefined || engine.maxQueue !== undefined || Tracing.records(fiber)) {
          return resume(
            options?.onProgress === undefined
              ? applyIn(engine, pool, fiber, task, args, options, undefined)
              : Effect.flatMap(
                Progress.watchOf(options),
                (watch) => applyIn(engine, pool, fiber, task, args, options, watch)
              )
          )
        }
        const invalid = CallChecks.applyCall("apply", task, args)
        if (invalid) return resume(Effect.fail(invalid))
        if (lifecycle.state() !== "running") return resume(lifecycle.notRunning())
        const job = Tracing.mark(
          dispatcher.submit(task, Protocol.MODE_APPLY, args, 1, options?.transfer, undefined),
          fiber.context,
          undefined
        )
        if (job.exit !== undefined) return resume(job.exit)
        job.waiter = resume
        return Effect.sync(() => dispatcher.cancel(job))
      }),
    applyWithProgress: (task, args, options) =>
      Progress.stream((onProgress) => calls.apply(task, args, { ...options, onProgress })),
    map: (task, items, options) =>
      Tracing.call("map", pool, task, (context, traced) =>
        Effect.flatMap(
          mapWith(engine, "map", Protocol.MODE_MAP, task, items, options, context, traced),
          (group) => awaitChunks(dispatcher, group)
        )),
    starmap: (task, items, options) =>
      Tracing.call("starmap", pool, task, (context, traced) =>
        Effect.flatMap(
          mapWith(engine, "starmap", Protocol.MODE_STARMAP, task, items, options, context, traced),
          (group) => awaitChunks(dispatcher, group)
        )),
    imap: imapWith(withPool, false) as Pool["imap"],
    imapUnordered: imapWith(withPool, true) as Pool["imapUnordered"],
    // without callbacks or a span of ours, the result is read off its job: no fiber per call (see `JobResult`)
    applyAsync: (task, args, options) =>
      Effect.withFiber((fiber) =>
        options?.callback === undefined && options?.errorCallback === undefined &&
          !Tracing.records(fiber as Fiber.Fiber<unknown, unknown>)
          ? applyAsyncNow(engine, fiber.context, task, args, options)
          : applyAsyncTraced(task, args, options)
      ),
    mapAsync: (task, items, options) =>
      Tracing.call("mapAsync", pool, task, (context, traced, span) =>
        Effect.flatMap(
          mapWith(engine, "mapAsync", Protocol.MODE_MAP, task, items, options, context, traced),
          (group) => startAsync(engine, Tracing.endWith(awaitChunks(dispatcher, group), span, traced), options)
        ), false),
    starmapAsync: (task, items, options) =>
      Tracing.call("starmapAsync", pool, task, (context, traced, span) =>
        Effect.flatMap(
          mapWith(engine, "starmapAsync", Protocol.MODE_STARMAP, task, items, options, context, traced),
          (group) => startAsync(engine, Tracing.endWith(awaitChunks(dispatcher, group), span, traced), options)
        ), false),
    broadcast: (task, args) =>
      Tracing.call("broadcast", pool, task, (context, traced) => {
        const invalid = CallChecks.applyCall("broadcast", task, args)
        if (invalid) return Effect.fail(invalid)
        if (lifecycle.state() !== "running") return lifecycle.notRunning()
        const jobs = dispatcher.members().map((slot) =>
          Tracing.mark(dispatcher.submitTo(slot, task, Protocol.MODE_APPLY, args, 1), context, traced)
        )
        return Effect.forEach(jobs, (job) => awaitJob(dispatcher, job), { concurrency: "unbounded" })
      })
  }
  return calls
}

/** One `apply` from `fiber`: in a span of ours only if the fiber's tracer records. */
const applyIn = (
  engine: Engine,
  pool: number,
  fiber: Fiber.Fiber<unknown, unknown>,
  task: TaskModule.Any,
  args: ReadonlyArray<unknown>,
  options: ApplyOptions | undefined,
  watch: Progress.Watch | undefined
): Effect.Effect<any, any> =>
  Tracing.records(fiber)
    ? Tracing.call("apply", pool, task, (context, traced) => applyNow(engine, task, args, options, context, traced, watch))
    : applyNow(engine, task, args, options, fiber.context, undefined, watch)

/** Submits one `apply` and waits for it, for a caller with `context`. */
const applyNow = (
  engine: Engine,
  task: TaskModule.Any,
  args: ReadonlyArray<unknown>,
  options: ApplyOptions | undefined,
  context: Context.Context<never>,
  traced: Tracing.Traced | undefined,
  /** The progress watch, if its caller asked for the task's progress. */
  watch: Progress.Watch | undefined
): Effect.Effect<any, any> => {
  const { dispatcher, lifecycle, maxQueue } = engine
  const invalid = CallChecks.applyCall("apply", task, args)
  if (invalid) return Effect.fail(invalid)
  if (lifecycle.state() !== "running") return lifecycle.notRunning()
  if (maxQueue === undefined) {
    return awaitJob(
      dispatcher,
      Tracing.mark(dispatcher.submit(task, Protocol.MODE_APPLY, args, 1, options?.transfer, watch), context, traced)
    )
  }
  const submit = () =>
    Tracing.mark(dispatcher.submit(task, Protocol.MODE_APPLY, args, 1, options?.transfer, watch), context, traced)
  return Effect.flatMap(
    admitted(dispatcher, submit),
    (job) => awaitJob(dispatcher, job)
  )
}

/** Submits one `applyAsync` for a caller with `context`, whose result is read off its job (`JobResult`). */
const applyAsyncNow = (
  engine: Engine,
  context: Context.Context<never>,
  task: TaskModule.Any,
  args: ReadonlyArray<unknown>,
  options: (ApplyOptions & AsyncOptions<any, any>) | undefined
): Effect.Effect<any, any> => {
  const { dispatcher, lifecycle } = engine
  const invalid = CallChecks.applyCall("applyAsync", task, args)
  if (invalid) return Effect.fail(invalid)
  if (lifecycle.state() !== "running") return lifecycle.notRunning()
  const submit = (watch: Progress.Watch | undefined) =>
    Tracing.mark(dispatcher.submit(task, Protocol.MODE_APPLY, args, 1, options?.transfer, watch), context, undefined)
  const result = (job: Job) => new JobResult(dispatcher, job, context, engine.asyncResults)
  if (options?.onProgress === undefined && engine.maxQueue === undefined) return Effect.succeed(result(submit(undefined)))
  return Effect.flatMap(
    Progress.watchOf(options),
    (watch) => Effect.map(admitted(dispatcher, () => submit(watch)), result)
  )
}

/** Validates a map's options and reads its input (an input that throws fails the call with that error). */
const prepareMap = <X>(size: number, items: Iterable<X>, options: MapOptions | undefined) =>
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
  engine: Engine,
  method: string,
  mode: typeof Protocol.MODE_MAP | typeof Protocol.MODE_STARMAP,
  task: TaskModule.Any,
  items: Iterable<unknown>,
  options: MapOptions | undefined,
  context: Context.Context<never>,
  traced: Tracing.Traced | undefined
) =>
  Effect.suspend((): Effect.Effect<Chunked, PoolNotRunning | Cause.IllegalArgumentError> => {
    const invalid = CallChecks.mapCall(method, task, items)
    if (invalid) return Effect.fail(invalid)
    return engine.lifecycle.state() !== "running" ? engine.lifecycle.notRunning() : Effect.flatMap(
      prepareMap(engine.size, items, options),
      ({ chunksize, list }) => {
        const notTuples = mode === Protocol.MODE_STARMAP ? CallChecks.tuples(method, list) : undefined
        if (notTuples) return Effect.fail(notTuples)
        if (traced !== undefined) {
          traced.span.attribute(Tracing.ATTR.items, list.length)
          traced.span.attribute(Tracing.ATTR.chunksize, chunksize)
        }
        if (options?.onProgress === undefined) {
          return submitChunks(engine.dispatcher, task, mode, list, chunksize, undefined, context, traced)
        }
        return Effect.flatMap(
          Progress.mapCounter(options, list.length),
          (counter) => submitChunks(engine.dispatcher, task, mode, list, chunksize, counter, context, traced)
        )
      }
    )
  })

const imapWith = (engine: Engine & { readonly pool: number }, unordered: boolean) =>
(
  task: TaskModule.Any,
  items: Iterable<unknown> | Stream.Stream<unknown, unknown, unknown>,
  options: MapOptions | undefined
): Stream.Stream<unknown, unknown, unknown> =>
  Stream.unwrap(Tracing.call(unordered ? "imapUnordered" : "imap", engine.pool, task, (context, traced, span): Effect.Effect<
    Stream.Stream<unknown, unknown, unknown>,
    PoolNotRunning | Cause.IllegalArgumentError
  > => {
    const { dispatcher, maxQueue, size } = engine
    const mistake = CallChecks.imapCall(unordered ? "imapUnordered" : "imap", task, items, Stream.isStream)
    if (mistake) return Effect.fail(mistake)
    if (engine.lifecycle.state() !== "running") return engine.lifecycle.notRunning()
    const chunksize = options?.chunksize ?? 1
    const invalid = Chunking.validate(chunksize)
    if (invalid) return Effect.fail(invalid)
    // an iterable is read one chunk at a time (Stream.fromIterable would read 4096 items ahead)
    const input = Stream.isStream(items)
      ? items
      : Stream.fromIterable(items, { chunkSize: Array.isArray(items) ? undefined : chunksize })
    // while the stream runs, the pool is not idle: a close waits for the rest of its input
    const release = dispatcher.busy()
    if (traced !== undefined) traced.span.attribute(Tracing.ATTR.chunksize, chunksize)
    const stream = (counter: Progress.MapCounter | undefined) =>
      input.pipe(
      Stream.grouped(chunksize),
      // each chunk's outcome as an Exit, so that an ordered stream emits every result
      // before a failed chunk, and fails (cancelling the chunks in flight) when it reaches it
      Stream.mapEffect(
        (chunk) =>
          Effect.exit(Effect.flatMap(
            admitted(
              dispatcher,
              () => Tracing.mark(dispatcher.submit(task, Protocol.MODE_MAP, chunk, chunk.length), context, traced)
            ),
            (job) =>
              counter === undefined
                ? awaitJob<ReadonlyArray<unknown>, unknown>(dispatcher, job)
                : Effect.tap(
                  awaitJob<ReadonlyArray<unknown>, unknown>(dispatcher, job),
                  () => Effect.sync(() => counter.add(chunk.length))
                )
          )),
        { concurrency: Math.min(size * IMAP_CHUNKS_PER_WORKER, maxQueue ?? Infinity), unordered }
      ),
      Stream.mapEffect((exit) => exit),
      // one result at a time, each let go of by the chunk once emitted: no consumed result is kept alive
      Stream.flatMap((results) =>
        results.length === 1
          ? Stream.fromArray(results) // chunksize 1, the default: a chunk of one is let go of once consumed
          : Stream.fromIterable(handOver(results), { chunkSize: 1 })
      ),
      Stream.ensuring(Effect.sync(release))
    )
    // the call's span lasts as long as the stream
    const spanned = (counter: Progress.MapCounter | undefined) =>
      span === undefined ? stream(counter) : Stream.onExit(stream(counter), (exit) => Tracing.end(span, traced, exit))
    if (options?.onProgress === undefined) return Effect.succeed(spanned(undefined))
    return Effect.map(Progress.mapCounter(options, Array.isArray(items) ? items.length : undefined), spanned)
  }, false))

/** Runs the wait in a fiber of the pool's scope, with Python's callbacks. */
const startAsync = <A, E>(engine: Engine, wait: Effect.Effect<A, E>, options: AsyncOptions<A, E> | undefined) =>
  Effect.map(
    FiberSet.run(
      engine.asyncResults,
      options?.callback || options?.errorCallback ? withCallbacks(wait, options) : wait
    ),
    AsyncResult.fromFiber
  )

/** Python's `callback` / `error_callback` around an async call's wait; one that throws is logged, nothing else. */
export const withCallbacks = <A, E>(wait: Effect.Effect<A, E>, options: AsyncOptions<A, E>) =>
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
