/**
 * Crashes: tasks that kill their worker (`process.exit`, an uncaught throw in a timer) fail with `WorkerCrashed`.
 */
import { WorkerCrashed } from "../../src/index.ts"
import { tasks } from "../soak-tasks.ts"
import { describe, exitOf, type Op, range, x32 } from "./model.ts"

export const crashes: ReadonlyArray<Op> = [
  {
    name: "crash: process.exit",
    weight: 0.6,
    heavy: "crash",
    build: ({ pool, rng, unit }) => {
      const { id, unit: u } = unit()
      const code = rng.int(3, 9)
      return {
        run: exitOf(pool.apply(tasks.crashExit, [u, code])),
        expect: {
          kind: "crash",
          collateralOk: true,
          ranOnError: [id],
          // a sync task that exits at once: its worker died of exactly this
          check: (error) =>
            !(error instanceof WorkerCrashed)
              ? `expected WorkerCrashed, got ${describe(error)}`
              : error.exitCode !== code || error.signal !== null
              ? `expected exit code ${code}, got ${error.exitCode} / ${error.signal}: ${error.message}`
              : undefined
        }
      }
    }
  },
  {
    name: "crash: throw in timer",
    weight: 0.6,
    heavy: "crash",
    build: ({ pool, unit }) => {
      const { id, unit: u } = unit()
      const message = `soak: uncaught in a timer, unit ${u[1]}`
      return {
        run: exitOf(pool.apply(tasks.crashTimer, [u, message])),
        expect: {
          kind: "crash",
          collateralOk: true,
          ranOnError: [id],
          // async: another crash on its worker may come first, so any WorkerCrashed will do
          check: (error) => error instanceof WorkerCrashed ? undefined : `expected WorkerCrashed, got ${describe(error)}`
        }
      }
    }
  },
  {
    name: "crash: map item exits",
    weight: 0.3,
    heavy: "crash",
    build: ({ pool, rng, item }) => {
      const n = rng.int(1, 20)
      const bad = rng.int(0, n - 1)
      const made = range(n).map((i) => item(x32(rng), 0, i === bad ? rng.int(3, 9) : 0))
      return {
        run: exitOf(pool.map(tasks.crashingItem, made.map((m) => m.item), { chunksize: rng.int(1, 6) })),
        expect: {
          kind: "crash",
          collateralOk: true,
          check: (error) => error instanceof WorkerCrashed ? undefined : `expected WorkerCrashed, got ${describe(error)}`
        }
      }
    }
  }
]
