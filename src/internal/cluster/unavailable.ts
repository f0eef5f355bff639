/**
 * The bounded wait for a runner, and the end of the calls in flight when the
 * pool is terminated. The engine retries a send whose runner cannot be
 * reached every `sendRetryInterval`, for ever; a `ClusterPool` call must not
 * hang silently. The client's sends report here, per entity id, whether they
 * reached a runner (clusterTransport.ts); a call in flight listens on its
 * entity id, and a watcher fails it once the entity's runner has been
 * unreachable for `timeout` (its send is then interrupted, so the engine stops
 * retrying it). Listeners are plain callbacks, so a call costs no fiber here.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"

/** Why the calls of an entity id end before their runner answers. */
export type Reason =
  | { readonly _tag: "Unreachable"; readonly message: string }
  | { readonly _tag: "Terminated" }

/** The sends' reports, and the calls' listeners. */
export interface Unavailable {
  /** A send to the runner of `entityId` found no runner there. */
  readonly failed: (entityId: string) => Effect.Effect<void>
  /** A send to the runner of `entityId` reached it. */
  readonly reached: (entityId: string) => Effect.Effect<void>
  /**
   * Calls `listener` (once) when the calls of `entityId` must end: its runner
   * has been unreachable for the timeout, or the pool was terminated. Returns
   * the function that removes the listener.
   */
  readonly listen: (entityId: string, listener: (reason: Reason) => void) => () => void
  /** Ends every call in flight, and every later one, with `Terminated`. */
  readonly terminate: () => void
}

interface Watch {
  since: number | undefined
  readonly listeners: Set<(reason: Reason) => void>
}

/** Starts the watcher (in the current scope): it looks every `timeout / 10` (at most every second). */
export const make = (timeout: Duration.Duration): Effect.Effect<Unavailable, never, Scope.Scope> =>
  Effect.gen(function*() {
    const watches = new Map<string, Watch>()
    let terminated = false
    const watchOf = (entityId: string): Watch => {
      let watch = watches.get(entityId)
      if (watch === undefined) {
        watch = { since: undefined, listeners: new Set() }
        watches.set(entityId, watch)
      }
      return watch
    }
    const end = (watch: Watch, reason: Reason) => {
      const listeners = [...watch.listeners]
      watch.listeners.clear()
      for (const listener of listeners) listener(reason)
    }
    const limit = Duration.toMillis(timeout)
    const unreachable: Reason = {
      _tag: "Unreachable",
      message: `no runner answered for ${Duration.format(timeout)}: the runner that serves these calls cannot be ` +
        `reached (is it started, and listening at the address the others know it by?)`
    }
    const check = Effect.map(Clock.currentTimeMillis, (now) => {
      for (const watch of watches.values()) {
        // the calls waiting now fail; later ones wait their own timeout, counted from their own failed send
        if (watch.since !== undefined && now - watch.since >= limit) {
          watch.since = undefined
          end(watch, unreachable)
        }
      }
    })
    const every = Duration.millis(Math.max(10, Math.min(1000, limit / 10)))
    yield* Effect.forkScoped(Effect.repeat(check, Schedule.spaced(every)))
    return {
      failed: (entityId) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const watch = watchOf(entityId)
          if (watch.listeners.size > 0) watch.since ??= now
        }),
      reached: (entityId) =>
        Effect.sync(() => {
          const watch = watches.get(entityId)
          if (watch !== undefined) watch.since = undefined
        }),
      listen: (entityId, listener) => {
        if (terminated) {
          listener({ _tag: "Terminated" })
          return () => {}
        }
        const watch = watchOf(entityId)
        watch.listeners.add(listener)
        return () => {
          watch.listeners.delete(listener)
        }
      },
      terminate: () => {
        terminated = true
        for (const watch of watches.values()) end(watch, { _tag: "Terminated" })
      }
    }
  })
