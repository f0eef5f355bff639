/**
 * A pool's lifecycle: running, closed (it accepts no more tasks; its workers
 * exit once the submitted tasks are done) or terminated (its tasks fail with
 * `PoolTerminated`; its workers are killed). Here are `close`, `join` and
 * `terminate`, the refusal of a call once the pool is not running, and what
 * the pool does when its dispatcher runs out of work.
 *
 * @internal
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberSet from "effect/FiberSet"
import { PoolNotRunning, PoolStillRunning, PoolTerminated } from "../PoolError.ts"
import type { Dispatcher } from "./dispatcher.ts"
import type { Supervisor } from "./supervisor.ts"

export type State = "running" | "closed" | "terminated"

export interface Lifecycle {
  readonly state: () => State
  /** The failure of a call made once the pool is not running. */
  readonly notRunning: () => Effect.Effect<never, PoolNotRunning>
  readonly close: Effect.Effect<void>
  readonly join: Effect.Effect<void, PoolStillRunning>
  readonly terminate: Effect.Effect<void>
  /** The dispatcher has no work left (`Dispatcher.onIdle`). */
  readonly onIdle: () => void
  /** The pool's workers are all ready: from now on, idle workers do not keep the program alive. */
  readonly started: () => void
}

export const make = (options: {
  readonly dispatcher: Dispatcher
  readonly supervisor: Supervisor
  /** Runs an effect in the pool's background. */
  readonly runBackground: (effect: Effect.Effect<unknown>) => void
  /** The fibers of the `*Async` calls, which `join` waits for. */
  readonly asyncResults: FiberSet.FiberSet<unknown, unknown>
}): Lifecycle => {
  const { asyncResults, dispatcher, runBackground, supervisor } = options
  let state: State = "running"
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

  return {
    state: () => state,
    notRunning: () =>
      Effect.fail(
        new PoolNotRunning({
          state: state as "closed" | "terminated",
          message: `the pool is ${state}: it accepts no more tasks`
        })
      ),
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
    terminate,
    onIdle: () => {
      // while the pool starts, its workers keep the program alive (make is waiting for them)
      if (started) supervisor.ref(false)
      if (state === "closed") runBackground(stopWorkers("close"))
    },
    started: () => {
      started = true
      supervisor.ref(dispatcher.outstanding > 0)
    }
  }
}
