/**
 * The bounded wait for a runner. The engine retries a send whose runner
 * cannot be reached every `sendRetryInterval`, for ever; a `ClusterPool` call
 * must not hang silently. The client's sends report here, per entity id,
 * whether they reached a runner (clusterTransport.ts); a call waits on its
 * entity id's `gone` signal, which a watcher fires once the entity's runner
 * has been unreachable for `timeout`: the call then fails with a clear error
 * (and its send is interrupted, so the engine stops retrying it).
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"

/** The sends' reports, and the calls' waits. */
export interface Unavailable {
  /** A send to the runner of `entityId` found no runner there. */
  readonly failed: (entityId: string) => Effect.Effect<void>
  /** A send to the runner of `entityId` reached it. */
  readonly reached: (entityId: string) => Effect.Effect<void>
  /**
   * Completes (with the reason) once the runner of `entityId` has been
   * unreachable for the timeout; never while it answers.
   */
  readonly gone: (entityId: string) => Effect.Effect<string>
}

interface Watch {
  since: number | undefined
  signal: Deferred.Deferred<string>
}

/** Starts the watcher (in the current scope): it looks every `timeout / 10` (at most every second). */
export const make = (timeout: Duration.Duration): Effect.Effect<Unavailable, never, Scope.Scope> =>
  Effect.gen(function*() {
    const watches = new Map<string, Watch>()
    const watchOf = (entityId: string): Watch => {
      let watch = watches.get(entityId)
      if (watch === undefined) {
        watch = { since: undefined, signal: Deferred.makeUnsafe<string>() }
        watches.set(entityId, watch)
      }
      return watch
    }
    const limit = Duration.toMillis(timeout)
    const check = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      for (const [entityId, watch] of watches) {
        if (watch.since !== undefined && now - watch.since >= limit) {
          // the calls waiting now fail; later ones wait on a fresh signal, and fail in their turn if it is still down
          watches.delete(entityId)
          yield* Deferred.succeed(
            watch.signal,
            `no runner answered for ${Duration.format(timeout)}: the runner that serves these calls cannot be ` +
              `reached (is it started, and listening at the address the others know it by?)`
          )
        }
      }
    })
    const every = Duration.millis(Math.max(10, Math.min(1000, limit / 10)))
    yield* Effect.forkScoped(Effect.repeat(check, Schedule.spaced(every)))
    return {
      failed: (entityId) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.sync(() => {
            const watch = watchOf(entityId)
            watch.since ??= now
          })),
      reached: (entityId) =>
        Effect.sync(() => {
          const watch = watches.get(entityId)
          if (watch !== undefined) watch.since = undefined
        }),
      gone: (entityId) => Effect.suspend(() => Deferred.await(watchOf(entityId).signal))
    }
  })
