/**
 * Errors: declared typed errors arrive as themselves; thrown and rejected ones as `TaskError`.
 */
import { SoakDeclared, tasks } from "../soak-tasks.ts"
import { describe, exitOf, isTaskError, type Op, range, x32 } from "./model.ts"

export const errors: ReadonlyArray<Op> = [
  {
    name: "declared error",
    weight: 3,
    build: ({ pool, rng, unit }) => {
      const { id, unit: u } = unit()
      const n = rng.int(0, 1000)
      return {
        run: exitOf(pool.apply(tasks.declaredFail, [u, n])),
        expect: {
          kind: "declared",
          collateralOk: true,
          ranOnError: [id],
          check: (error) =>
            !(error instanceof SoakDeclared)
              ? `expected SoakDeclared, got ${describe(error)}`
              : error._tag !== "SoakDeclared" || error.unit !== u[1] || error.n !== n
              ? `SoakDeclared with wrong fields: ${JSON.stringify(error)} (expected unit ${u[1]}, n ${n})`
              : undefined
        }
      }
    }
  },
  {
    name: "thrown sync",
    weight: 2,
    build: ({ pool, unit }) => {
      const { id, unit: u } = unit()
      return {
        run: exitOf(pool.apply(tasks.throwSync, [u])),
        expect: {
          kind: "thrown",
          collateralOk: false,
          ranOnError: [id],
          check: (error) => isTaskError(error, "RangeError", `unit ${u[1]} throws`)
        }
      }
    }
  },
  {
    name: "thrown async",
    weight: 1,
    build: ({ pool, rng, unit }) => {
      const { id, unit: u } = unit()
      return {
        run: exitOf(pool.apply(tasks.rejectAsync, [u, rng.int(0, 2)])),
        expect: {
          kind: "thrown",
          collateralOk: true,
          ranOnError: [id],
          check: (error) => isTaskError(error, "SyntaxError", `unit ${u[1]} rejects`)
        }
      }
    }
  },
  {
    name: "map with a throwing item",
    weight: 1,
    build: ({ pool, rng, item }) => {
      const n = rng.int(1, 30)
      const bad = rng.int(0, n - 1)
      const made = range(n).map((i) => item(x32(rng), 0, i === bad ? 1 : 0))
      const badUnit = made[bad].item[1]
      return {
        run: exitOf(pool.map(tasks.throwingItem, made.map((m) => m.item), { chunksize: rng.int(1, 8) })),
        expect: {
          kind: "thrown",
          collateralOk: true,
          ranOnError: [made[bad].id],
          check: (error) => isTaskError(error, "RangeError", `item ${badUnit} throws`)
        }
      }
    }
  }
]
