/**
 * Signal-ignoring cancels: an async task that never settles and ignores
 * `Task.signal()`, cancelled by the soak (interrupted once it runs, or by a
 * timeout). The call must end at once, as cancelled; only replacing its
 * worker (after the pool's bound on a cancel that is not honoured) frees the
 * worker, and no call may be lost or run twice.
 */
import { Effect } from "effect"
import { tasks } from "../soak-tasks.ts"
import { exitOf, interruptAfterStart, type Op } from "./model.ts"

export const signalIgnoring: ReadonlyArray<Op> = [
  {
    name: "cancel: ignores its signal",
    weight: 0.5,
    heavy: "stall",
    build: ({ pool, rng, unit }) => {
      const { unit: u } = unit()
      const call = pool.apply(tasks.ignoreSignal, [u])
      return {
        run: rng.chance(0.5)
          ? interruptAfterStart(call, u, rng.int(0, 20))
          : exitOf(call.pipe(Effect.timeout(rng.int(1, 40)))),
        // it never succeeds: a value would be a violation
        expect: { kind: "cancel", value: Symbol.for("never"), collateralOk: true }
      }
    }
  }
]
