/**
 * Typed errors across the worker boundary.
 *
 * - An Effect task that fails with an error its module declares
 *   (`Task.module(url, fns, { errors: [InvalidRow] })`) delivers that same
 *   error to the caller: same `_tag`, same fields, `instanceof InvalidRow`.
 *   It appears in the call's error type, so `Effect.catchTag` handles it.
 * - A task that throws (or rejects, dies, or fails with an undeclared error)
 *   arrives as a `TaskError` carrying the remote error's name, message and
 *   stack: Python's exception with its `RemoteTraceback`.
 *
 * Run it with `npx node examples/typed-errors.ts`.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect } from "effect"
import { TaskError, WorkerPool } from "../src/index.ts"
import { InvalidRow, tasks } from "./error-tasks.ts"

const program = Effect.gen(function*() {
  const pool = yield* WorkerPool.make({ size: 2 })

  // A success, for reference.
  console.log("average([1, 2, 3]) =", yield* pool.apply(tasks.average, [[1, 2, 3]]))

  // A declared failure. The call's type is
  //   Effect<number, InvalidRow | DispatchError>
  // so catchTag("InvalidRow", ...) is checked by the compiler, and `error` is
  // a real InvalidRow rebuilt from its schema on this side.
  const fallback = yield* pool.apply(tasks.average, [[]]).pipe(
    Effect.catchTag("InvalidRow", (error) => {
      console.log("caught InvalidRow:", {
        reason: error.reason,
        row: error.row,
        instanceofInvalidRow: error instanceof InvalidRow
      })
      return Effect.succeed(0)
    })
  )
  console.log("average([]) fell back to", fallback)

  // A task that throws arrives as a TaskError: the remote name, message and
  // stack (pointing into error-tasks.ts, in the worker) come with it.
  yield* pool.apply(tasks.parseJson, ["{ not json"]).pipe(
    Effect.catchTag("TaskError", (error) => {
      console.log("caught TaskError:", {
        task: error.task.slice(error.task.lastIndexOf("/") + 1), // `error-tasks.ts#parseJson`
        remoteName: error.remoteName, // "SyntaxError"
        message: error.message,
        instanceofTaskError: error instanceof TaskError
      })
      console.log("remote stack, first lines:\n" + error.remoteStack?.split("\n").slice(0, 3).join("\n"))
      return Effect.void
    })
  )

  // An error the module does not declare cannot be rebuilt as itself: it
  // arrives as a TaskError named after it.
  const undeclared = yield* Effect.flip(pool.apply(tasks.undeclared, []))
  if (undeclared instanceof TaskError) {
    console.log("undeclared error arrives as a TaskError, remoteName:", undeclared.remoteName) // "Undeclared"
  }

  // In a map, the first failure fails the whole call (and cancels the rest).
  const mapped = yield* pool.map(tasks.average, [[1, 2], [3, NaN], [5, 6]]).pipe(
    Effect.catchTag("InvalidRow", (error) => Effect.succeed(`map failed: ${error.reason} [${error.row.join(", ")}]`))
  )
  console.log(mapped)
}).pipe(Effect.scoped)

NodeRuntime.runMain(program)
