/**
 * A runner's side of the `TaskRunner` entity: each call is resolved to its
 * task under the runner's root (taskIdentity.ts), run on the runner's own
 * local `WorkerPool`, and answered with its result's bytes or its failure
 * encoded (clusterValues.ts). A chunk is a local `map` / `starmap`, so it is
 * spread over the runner's workers. Interrupting a call (the client did)
 * interrupts the local call, which cancels the task in its worker.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Task from "../../Task.ts"
import { WorkerPool } from "../../WorkerPool.ts"
import * as Values from "./clusterValues.ts"
import * as TaskIdentity from "./taskIdentity.ts"
import { TaskRunner } from "./taskRunnerEntity.ts"

const resolveTask = (id: string, root: string, runner: string) =>
  Effect.tryPromise({
    try: () => TaskIdentity.resolve(id, root, runner),
    catch: (error) => Values.taskError(id, error)
  })

const decodeOrFail = (task: Task.Any, bytes: Uint8Array) => {
  const decoded = Values.decode(task, "argument", bytes)
  return "value" in decoded ? Effect.succeed(decoded.value) : Effect.fail(decoded)
}

/** A local call's outcome as the runner answers it: the result's bytes, or the failure encoded. */
const answer = <A, E, R>(task: Task.Any, call: Effect.Effect<A, E, R>) =>
  call.pipe(
    Effect.catchCause((cause) => {
      if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
      const error = Cause.findErrorOption(cause)
      return Effect.fail(
        error._tag === "Some" ? Values.encodeFailure(task, error.value) : Values.taskError(task, Cause.squash(cause))
      )
    }),
    Effect.flatMap((value) => {
      const bytes = Values.encodeResult(task, value)
      return bytes instanceof Uint8Array ? Effect.succeed(bytes) : Effect.fail(bytes)
    })
  )

/**
 * The entity's handlers over the runner's `WorkerPool`, registered with unbounded
 * concurrency per entity id (the default is one call at a time).
 */
export const layer = (options: { readonly root: string; readonly runner: string }) =>
  TaskRunner.toLayer(
    Effect.gen(function*() {
      const pool = yield* WorkerPool
      const { root, runner } = options
      const runChunk = (payload: { readonly task: string; readonly mode: "map" | "starmap"; readonly argsList: Uint8Array }) =>
        Effect.gen(function*() {
          const task = yield* resolveTask(payload.task, root, runner)
          const items = yield* decodeOrFail(task, payload.argsList)
          if (!Array.isArray(items)) {
            return yield* Values.taskError(task, new TypeError("a chunk's items must be an array"))
          }
          return yield* answer(
            task,
            payload.mode === "starmap" ? pool.starmap(task, items) : pool.map(task, items)
          )
        })
      return TaskRunner.of({
        RunChunk: ({ payload }) => runChunk(payload),
        // durable mode (durable.ts): the same chunk, persisted; the engine stores the answer
        RunChunkDurable: ({ payload }) => runChunk(payload),
        WarmUp: () => Effect.void,
        RunCall: ({ payload }) =>
          Effect.gen(function*() {
            const task = yield* resolveTask(payload.task, root, runner)
            const args = yield* decodeOrFail(task, payload.args)
            if (!Array.isArray(args)) {
              return yield* Values.taskError(task, new TypeError("a call's arguments must be an array"))
            }
            return yield* answer(task, pool.apply(task, args))
          })
      })
    }),
    { concurrency: "unbounded" }
  )

