/**
 * Progress, the caller's side: a call that asked for its task's progress
 * (`onProgress` on `apply` / `applyAsync`, `applyWithProgress`) carries a
 * `Watch` on its job; the dispatcher sends `OP_WATCH_PROGRESS` with it, and
 * the reply side hands each checked `STATUS_TASK_PROGRESS` to `onProgress`
 * (replies.ts). A call that did not ask carries none, and pays nothing.
 *
 * A `map` / `starmap` / `imap` reports `{ done, total }` as its chunks
 * finish: no worker message is needed for that (`MapCounter`).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import type { ProgressUpdate } from "../PoolEvents.ts"
import type { ApplyOptions, MapOptions, MapProgress } from "../PoolOptions.ts"

/** Fewest milliseconds between two progress updates of one task, unless the caller says otherwise. */
export const DEFAULT_INTERVAL_MILLIS = 100

/** How many updates `applyWithProgress` keeps for a consumer that lags behind (the oldest go first). */
export const STREAM_BUFFER = 1024

/** A call's wish to see its task's progress. */
export interface Watch {
  /** Sent to the worker: fewest milliseconds between two updates (0: every update). */
  readonly intervalMillis: number
  /** Called with each update, in order, before the call's result; never throws. */
  readonly onProgress: (value: unknown) => void
}

/** `progressInterval` in milliseconds, or what is wrong with it. */
export const intervalOf = (input: Duration.Input | undefined): number | Cause.IllegalArgumentError => {
  if (input === undefined) return DEFAULT_INTERVAL_MILLIS
  const duration = Duration.fromInput(input)
  const millis = duration._tag === "None" ? NaN : Duration.toMillis(duration.value)
  if (!(millis >= 0 && millis < Infinity)) {
    return new Cause.IllegalArgumentError(`progressInterval must be a finite, non-negative duration, got ${String(input)}`)
  }
  return millis
}

/** Runs a user's callback; one that throws is logged (in the caller's context) and changes nothing else. */
const guarded = <A>(context: Context.Context<never>, what: string, f: (value: A) => void) => (value: A): void => {
  try {
    f(value)
  } catch (error) {
    Effect.runForkWith(context)(
      Effect.logError(`effect-multiprocessing: an ${what} callback threw; the call is unaffected`, error)
    )
  }
}

/**
 * The watch of an `apply` / `applyAsync` with `onProgress` (`undefined`
 * without), in the caller's context (for the log of a callback that throws).
 */
export const watchOf = (
  options: ApplyOptions | undefined
): Effect.Effect<Watch | undefined, Cause.IllegalArgumentError> => {
  const onProgress = options?.onProgress
  if (onProgress === undefined) return Effect.succeed(undefined)
  return Effect.flatMap(Effect.context<never>(), (context) => {
    const intervalMillis = intervalOf(options?.progressInterval)
    if (Cause.isIllegalArgumentError(intervalMillis)) return Effect.fail(intervalMillis)
    return Effect.succeed({ intervalMillis, onProgress: guarded(context, "onProgress", onProgress) })
  })
}

/** Counts a map's items done as its chunks finish, for its `onProgress`. */
export interface MapCounter {
  /** `n` more items are done. */
  readonly add: (n: number) => void
}

/**
 * The counter of a `map` / `starmap` / `imap` with `onProgress` (`undefined`
 * without): it reports `{ done: 0, total }` at once, then after each chunk.
 */
export const mapCounter = (
  options: MapOptions | undefined,
  total: number | undefined
): Effect.Effect<MapCounter | undefined> => {
  const onProgress = options?.onProgress
  if (onProgress === undefined) return Effect.succeed(undefined)
  return Effect.map(Effect.context<never>(), (context) => {
    const report = guarded<MapProgress>(context, "onProgress", onProgress)
    let done = 0
    report({ done, total })
    return { add: (n) => report({ done: done += n, total }) }
  })
}

/**
 * `applyWithProgress`: the call, run with an `onProgress` that feeds a
 * stream, which ends with the call's result (or fails with its error).
 */
export const stream = <A, E>(
  apply: (onProgress: (value: unknown) => void) => Effect.Effect<A, E>
): Stream.Stream<ProgressUpdate<A>, E> =>
  Stream.callback<ProgressUpdate<A>, E>((queue) =>
    Effect.flatMap(
      Effect.exit(apply((value) => Queue.offerUnsafe(queue, { _tag: "Progress", value }))),
      (exit) =>
        Effect.sync(() => {
          if (Exit.isFailure(exit)) return Queue.failCauseUnsafe(queue, exit.cause)
          Queue.offerUnsafe(queue, { _tag: "Done", value: exit.value })
          Queue.endUnsafe(queue)
        })
    ), { bufferSize: STREAM_BUFFER, strategy: "sliding" })
