/**
 * How many workers a pool keeps: a fixed number, or a dynamic pool that grows
 * while work waits and every worker is busy (`onBacklog`, up to `max`) and
 * retires a worker idle for `idleTimeout` (`watchIdle`, down to `min`). Here
 * too is `retire`, which closes an idle worker, and `onExhausted`, which
 * retires a worker that ran its `maxTasksPerWorker` and starts its
 * replacement. The supervisor (supervisor.ts) spawns, replaces and stops the
 * workers; this decides when there should be one more or one fewer.
 *
 * @internal
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type { Dispatcher } from "./dispatcher.ts"
import type { Slot } from "./slot.ts"

/** How many workers: a fixed number, or between `min` and `max`, retiring those idle for `idleTimeout`. */
export interface Sizing {
  readonly min: number
  readonly max: number
  /** `undefined` for a fixed size. */
  readonly idleTimeout: Duration.Duration | undefined
}

/** What sizing needs of one of the supervisor's workers. */
export interface Member {
  readonly slot: Slot
  /** Its run in effect's platform: interrupting it closes the worker. `undefined` while it starts. */
  readonly fiber: Fiber.Fiber<unknown, unknown> | undefined
  /** It is closing (and not counted any more). */
  retiring: boolean
}

/** What sizing reads of the supervisor, as it is now (the supervisor's own state object). */
export interface Workers {
  readonly handles: ReadonlySet<Member>
  readonly stopping: boolean
  /** Set once the pool gives up respawning workers. */
  readonly broken: object | undefined
}

/** Wires the dispatcher's `onExhausted`, `onBacklog` and `onSlotIdle` to retiring and spawning workers. */
export const install = (options: {
  readonly sizing: Sizing
  readonly dispatcher: Dispatcher
  readonly workers: Workers
  /** Starts one more worker, in the background (in place of worker `replaces`, if given). */
  readonly spawn: (replaces?: number) => void
  /** Runs an effect in the pool's background (with its services: its `Clock`). */
  readonly fork: (effect: Effect.Effect<void>) => Fiber.Fiber<void>
}): void => {
  const { dispatcher, sizing, spawn, workers } = options

  /** Closes a worker that is idle (it is not replaced unless `replace`). */
  const retire = (slot: Slot, replace: boolean) => {
    for (const handle of workers.handles) {
      if (handle.slot !== slot || handle.retiring) continue
      handle.retiring = true
      slot.ready = false
      if (replace) spawn(slot.workerId)
      if (handle.fiber !== undefined) Effect.runFork(Fiber.interrupt(handle.fiber))
    }
  }
  const members = () => {
    let count = 0
    let starting = 0
    for (const handle of workers.handles) {
      if (handle.retiring) continue
      count++
      if (!handle.slot.ready) starting++
    }
    return { count, starting }
  }

  // a worker that ran its maxTasksPerWorker: start its replacement, then let it close (it is idle)
  dispatcher.onExhausted = (slot) => retire(slot, true)

  // a dynamic pool grows while work waits and every worker is busy, up to max…
  dispatcher.onBacklog = () => {
    if (sizing.idleTimeout === undefined || workers.stopping || workers.broken !== undefined) return
    const { count, starting } = members()
    if (count < sizing.max && starting < dispatcher.queued()) spawn()
  }
  // …and retires a worker that has been idle for idleTimeout, down to min (one timer per worker at a time)
  const idleTimers = new Set<Slot>()
  const watchIdle = (slot: Slot, idleTimeout: Duration.Duration) => {
    idleTimers.add(slot)
    const given = slot.given
    options.fork(Effect.sleep(idleTimeout).pipe(Effect.andThen(Effect.sync(() => {
      idleTimers.delete(slot)
      const idle = slot.ready && slot.inflight.size === 0 && slot.direct.length === 0
      if (!idle || workers.stopping) return
      if (slot.given !== given) return watchIdle(slot, idleTimeout) // it worked meanwhile: idle since later
      if (members().count > sizing.min) retire(slot, false)
    }))))
  }
  dispatcher.onSlotIdle = (slot) => {
    if (sizing.idleTimeout !== undefined && !idleTimers.has(slot)) watchIdle(slot, sizing.idleTimeout)
  }
}
