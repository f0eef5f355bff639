/**
 * Exit after return: a task returns its value, then exits its worker on the
 * next turn of the worker's event loop. Its result was sent before the exit:
 * the call should succeed, but may fail with `WorkerCrashed` (the summary
 * counts the finished results lost that way); no call may be lost or run twice.
 */
import { expectSync, tasks } from "../soak-tasks.ts"
import { exitOf, type Op, workerCrashedOrNothing, x32 } from "./model.ts"

export const exitAfterReturn: ReadonlyArray<Op> = [
  {
    name: "faulty: exit after return",
    weight: 0.4,
    heavy: "crash",
    build: ({ pool, rng, unit }) => {
      const x = x32(rng)
      const { id, unit: u } = unit()
      return {
        run: exitOf(pool.apply(tasks.exitAfterReturn, [u, x, rng.int(3, 9)])),
        expect: {
          kind: "faulty",
          value: expectSync(x),
          collateralOk: false,
          ranOnError: [id],
          finishedIfCrashed: id,
          check: workerCrashedOrNothing
        }
      }
    }
  }
]
