/**
 * Protocol garbage: a task posts the pool a message that is not a
 * well-formed protocol message (`null`, `[1, null]`, a reply with a bogus
 * status for no job, an object or a sparse array with a bogus length), then keeps its worker busy a while and
 * returns. The pool must survive it; a pool that checks its boundary replaces
 * the worker, so the call may fail with `WorkerCrashed` instead of returning.
 */
import { expectSync, GARBAGE, tasks } from "../soak-tasks.ts"
import { exitOf, type Op, workerCrashedOrNothing, x32 } from "./model.ts"

export const protocolGarbage: ReadonlyArray<Op> = [
  {
    name: "faulty: protocol garbage",
    weight: 0.4,
    heavy: "crash",
    build: ({ pool, rng, unit }) => {
      const x = x32(rng)
      const { id, unit: u } = unit()
      return {
        run: exitOf(pool.apply(tasks.protocolGarbage, [u, x, rng.int(0, GARBAGE.length - 1), rng.int(30, 80)])),
        expect: {
          kind: "faulty",
          value: expectSync(x),
          // it holds its worker synchronously: a worker replaced for it was running nothing else
          collateralOk: false,
          ranOnError: [id],
          finishedIfCrashed: id,
          check: workerCrashedOrNothing
        }
      }
    }
  }
]
