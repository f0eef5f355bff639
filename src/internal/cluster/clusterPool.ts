/**
 * A `Pool` over a cluster: the methods of a local pool, with the same checks
 * (callChecks.ts, chunking.ts) and the same lifecycle, each call sent to the
 * runners (clusterCalls.ts). `map` / `starmap` send their chunks with a
 * bounded number in flight and fail fast (the first failure interrupts the
 * rest, on the runners too); `imap` keeps an ordered window of chunks.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Stream from "effect/Stream"
import * as AsyncResult from "../../AsyncResult.ts"
import { PoolNotRunning, PoolStillRunning } from "../../PoolError.ts"
import type { AsyncOptions, MapOptions } from "../../PoolOptions.ts"
import type * as TaskModule from "../../Task.ts"
import type { Pool } from "../../WorkerPool.ts"
import { withCallbacks } from "../calls.ts"
import * as CallChecks from "../callChecks.ts"
import * as Chunking from "../chunking.ts"
import * as Progress from "../progress.ts"
import type { Sender } from "./clusterCalls.ts"
import * as TaskIdentity from "./taskIdentity.ts"

export interface Options {
  /** How many tasks run at once across the runners: what the default chunksize is computed from. */
  readonly size: number
  readonly root: string
  /** How many chunks of one `map` / `imap` may be in flight. */
  readonly maxChunksInFlight: number
}

type State = "running" | "closed" | "terminated"

export const make = (sender: Sender, options: Options) =>
  Effect.gen(function*() {
    const { maxChunksInFlight, root, size } = options
    let state: State = "running"
    let outstanding = 0
    const idle = yield* Deferred.make<void>()
    const asyncResults = yield* FiberSet.make<unknown, unknown>()

    const notRunning = () =>
      Effect.fail(
        new PoolNotRunning({
          state: state as "closed" | "terminated",
          message: `the pool is ${state}: it accepts no more tasks`
        })
      )
    const settle = () => {
      if (outstanding === 0 && state !== "running") Deferred.doneUnsafe(idle, Effect.void)
    }
    const release = () => {
      outstanding--
      settle()
    }
    /**
     * Runs a call that `prepare` checked and built, counted from then until it
     * ends (`join` waits for it): the count and its release are installed
     * together, uninterruptibly, so an interruption can never leave a call
     * counted for ever. (An async call is counted by its fiber in `asyncResults`.)
     */
    const run = <A>(prepare: Effect.Effect<Effect.Effect<A, unknown>, unknown>): Effect.Effect<A, unknown> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(prepare, (call) => {
          outstanding++
          return Effect.ensuring(restore(call), Effect.sync(release))
        })
      )
    const idOf = (task: TaskModule.Any) => TaskIdentity.portableId(task, root)

    const prepareMap = (
      method: string,
      starmap: boolean,
      task: TaskModule.Any,
      items: Iterable<unknown>,
      mapOptions: MapOptions | undefined
    ): Effect.Effect<Effect.Effect<Array<unknown>, unknown>, unknown> =>
      Effect.suspend((): Effect.Effect<Effect.Effect<Array<unknown>, unknown>, unknown> => {
        const invalid = CallChecks.mapCall(method, task, items)
        if (invalid) return Effect.fail(invalid)
        if (state !== "running") return notRunning()
        if (mapOptions?.chunksize !== undefined) {
          const wrong = Chunking.validate(mapOptions.chunksize)
          if (wrong) return Effect.fail(wrong)
        }
        const id = idOf(task)
        if (typeof id !== "string") return Effect.fail(id)
        let list: ReadonlyArray<unknown>
        try {
          list = Array.isArray(items) ? items : Array.from(items)
        } catch (error) {
          return Effect.die(error)
        }
        const notTuples = starmap ? CallChecks.tuples(method, list) : undefined
        if (notTuples) return Effect.fail(notTuples)
        const chunksize = mapOptions?.chunksize ?? Chunking.defaultChunksize(list.length, size)
        const chunks: Array<ReadonlyArray<unknown>> = []
        for (let offset = 0; offset < list.length; offset += chunksize) chunks.push(list.slice(offset, offset + chunksize))
        const mode = starmap ? "starmap" : "map"
        return Effect.succeed(Effect.flatMap(Progress.mapCounter(mapOptions, list.length), (counter) =>
          Effect.map(
            Effect.forEach(chunks, (chunk) =>
              counter === undefined
                ? sender.chunk(task, id, mode, chunk)
                : Effect.tap(sender.chunk(task, id, mode, chunk), () => Effect.sync(() => counter.add(chunk.length))), {
              concurrency: maxChunksInFlight
            }),
            (results) => results.flat()
          )))
      })

    const prepareApply = (method: string, task: TaskModule.Any, args: ReadonlyArray<unknown>) =>
      Effect.suspend((): Effect.Effect<Effect.Effect<unknown, unknown>, unknown> => {
        const invalid = CallChecks.applyCall(method, task, args)
        if (invalid) return Effect.fail(invalid)
        if (state !== "running") return notRunning()
        const id = idOf(task)
        if (typeof id !== "string") return Effect.fail(id)
        return Effect.succeed(sender.call(task, id, args))
      })

    const startAsync = (wait: Effect.Effect<unknown, unknown>, asyncOptions: AsyncOptions<any, any> | undefined) =>
      Effect.map(
        FiberSet.run(asyncResults, asyncOptions?.callback || asyncOptions?.errorCallback ? withCallbacks(wait, asyncOptions) : wait),
        AsyncResult.fromFiber
      )

    const imapWith = (unordered: boolean) =>
    (
      task: TaskModule.Any,
      items: Iterable<unknown> | Stream.Stream<unknown, unknown, unknown>,
      mapOptions: MapOptions | undefined
    ): Stream.Stream<unknown, unknown, unknown> =>
      Stream.unwrap(Effect.suspend((): Effect.Effect<Stream.Stream<unknown, unknown, unknown>, unknown> => {
        const mistake = CallChecks.imapCall(unordered ? "imapUnordered" : "imap", task, items, Stream.isStream)
        if (mistake) return Effect.fail(mistake)
        if (state !== "running") return notRunning()
        const chunksize = mapOptions?.chunksize ?? 1
        const invalid = Chunking.validate(chunksize)
        if (invalid) return Effect.fail(invalid)
        const id = idOf(task)
        if (typeof id !== "string") return Effect.fail(id)
        const input = Stream.isStream(items)
          ? items
          : Stream.fromIterable(items, { chunkSize: Array.isArray(items) ? undefined : chunksize })
        // while the stream runs the pool is not idle: join waits for it
        outstanding++
        const total = Array.isArray(items) ? items.length : undefined
        return Effect.map(Progress.mapCounter(mapOptions, total), (counter) => input.pipe(
          Stream.grouped(chunksize),
          // each chunk's outcome as an Exit: an ordered stream emits every result before a failed chunk
          Stream.mapEffect((chunk) => {
            const sent = sender.chunk(task, id, "map", chunk)
            return Effect.exit(counter === undefined ? sent : Effect.tap(sent, () => Effect.sync(() => counter.add(chunk.length))))
          }, {
            concurrency: maxChunksInFlight,
            unordered
          }),
          Stream.mapEffect((exit) => exit),
          Stream.flatMap((results) => Stream.fromArray(results)),
          Stream.ensuring(Effect.sync(release))
        ))
      }))

    const terminate = Effect.uninterruptible(Effect.suspend(() => {
      if (state !== "terminated") {
        state = "terminated"
        settle()
      }
      return Effect.andThen(sender.terminate, Deferred.await(idle))
    }))

    const pool: Pool = {
      size,
      apply: (task, args) => run(prepareApply("apply", task, args)) as any,
      map: (task, items, mapOptions) => run(prepareMap("map", false, task, items, mapOptions)) as any,
      starmap: (task, items, mapOptions) => run(prepareMap("starmap", true, task, items, mapOptions)) as any,
      // a task's own `Task.progress` updates are not forwarded from the runners: only the result
      applyWithProgress: (task, args) =>
        Progress.stream(() => run(prepareApply("applyWithProgress", task, args))) as any,
      // a client has no workers of its own: its event stream is empty, and ends with the pool's scope
      events: Stream.empty,
      subscribeEvents: Effect.succeed(Stream.empty),
      imap: imapWith(false) as Pool["imap"],
      imapUnordered: imapWith(true) as Pool["imapUnordered"],
      applyAsync: (task, args, asyncOptions) =>
        Effect.flatMap(prepareApply("applyAsync", task, args), (wait) => startAsync(wait, asyncOptions)) as any,
      mapAsync: (task, items, mapOptions) =>
        Effect.flatMap(
          prepareMap("mapAsync", false, task, items, mapOptions),
          (wait) => startAsync(wait, mapOptions)
        ) as any,
      starmapAsync: (task, items, mapOptions) =>
        Effect.flatMap(
          prepareMap("starmapAsync", true, task, items, mapOptions),
          (wait) => startAsync(wait, mapOptions)
        ) as any,
      broadcast: (task) =>
        Effect.fail(
          new Cause.IllegalArgumentError(
            `broadcast: a ClusterPool cannot reach every worker of every runner (calls go to runners by entity id); ` +
              `run ${String((task as { name?: unknown })?.name)} in a per-worker setup (Task.module's layer) instead`
          )
        ),
      stats: Effect.sync(() => {
        const { failed, inFlight, maxMillis, roundTrips, succeeded, totalMillis } = sender.counts
        return {
          workers: { busy: 0, idle: 0, starting: 0 },
          queued: 0,
          running: inFlight,
          succeeded,
          failed,
          tasksPerWorker: [],
          wait: { count: 0, meanMillis: 0, maxMillis: 0 },
          run: { count: roundTrips, meanMillis: roundTrips === 0 ? 0 : totalMillis / roundTrips, maxMillis }
        }
      }),
      close: Effect.sync(() => {
        if (state !== "running") return
        state = "closed"
        settle()
      }),
      join: Effect.suspend(() =>
        state === "running"
          ? Effect.fail(new PoolStillRunning({ message: "join needs the pool closed or terminated first" }))
          : Effect.andThen(Deferred.await(idle), FiberSet.awaitEmpty(asyncResults))
      ),
      terminate
    }
    yield* Effect.addFinalizer(() => terminate)
    return pool
  })

