/**
 * The client side of a `ClusterPool`: a call crosses to a runner as one RPC
 * of the `TaskRunner` entity (a `map` chunk as `RunChunk`, an `apply` as
 * `RunCall`), addressed to one of a small, fixed set of entity ids in turn
 * (each id costs the runner an activation; the engine spreads the ids over
 * the runners). Its arguments and results cross as `v8.serialize` bytes; its
 * failure is rebuilt as a local pool's would be (clusterValues.ts). Each send
 * is raced against the pool's termination and against the bounded wait for
 * a runner (unavailable.ts); interrupting it interrupts the call on the
 * runner, and so the task in its worker.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import type { Sharding } from "effect/cluster/Sharding"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import { PoolTerminated, TaskError, WorkerCrashed, WorkerStartFailed } from "../../PoolError.ts"
import type * as Task from "../../Task.ts"
import * as Values from "./clusterValues.ts"
import * as Durable from "./durable.ts"
import type { Unavailable } from "./unavailable.ts"
import { TaskRunner } from "./taskRunnerEntity.ts"

/** What the calls of a pool share: where to send, and how the pool stands. */
export interface Sender {
  /** Runs a chunk of `task` on a runner: the results in order. */
  readonly chunk: (
    task: Task.Any,
    id: string,
    mode: "map" | "starmap",
    items: ReadonlyArray<unknown>
  ) => Effect.Effect<Array<unknown>, unknown>
  /** Runs one call of `task` on a runner. */
  readonly call: (task: Task.Any, id: string, args: ReadonlyArray<unknown>) => Effect.Effect<unknown, unknown>
  /** Fails every call in flight, and every later send, with `PoolTerminated`. */
  readonly terminate: Effect.Effect<void>
  /** Sends in flight, and their outcomes so far. */
  readonly counts: { inFlight: number; succeeded: number; failed: number; roundTrips: number; totalMillis: number; maxMillis: number }
}

/** The entity ids the calls go to, in turn. */
export const entityIds = (count: number): ReadonlyArray<string> => Array.from({ length: count }, (_, i) => `w${i}`)

export const make = (options: {
  readonly entities: number
  readonly unavailable: Unavailable
  /** Every chunk durable (durable.ts), not only those under `Durable.withJob`. */
  readonly durable?: boolean | undefined
}): Effect.Effect<Sender, never, Sharding | Scope.Scope> =>
  Effect.gen(function*() {
    const clientFor = yield* TaskRunner.client
    const ids = entityIds(options.entities)
    const clients = ids.map(clientFor)
    let next = 0
    const counts = { inFlight: 0, succeeded: 0, failed: 0, roundTrips: 0, totalMillis: 0, maxMillis: 0 }

    const send = <A>(
      task: Task.Any,
      run: (client: typeof clients[number]) => Effect.Effect<A, unknown>,
      read: (value: A) => Effect.Effect<unknown, unknown>,
      to?: number
    ): Effect.Effect<unknown, unknown> =>
      Effect.suspend(() => {
        const index = to ?? next
        if (to === undefined) next = (next + 1) % clients.length
        const started = performance.now()
        counts.inFlight++
        return guarded(ids[index], run(clients[index])).pipe(
          Effect.catchCause((cause) => Effect.failCause(clusterCause(task, cause))),
          Effect.flatMap(read),
          Effect.onExit((exit) =>
            Effect.sync(() => {
              counts.inFlight--
              if (Exit.isSuccess(exit)) counts.succeeded++
              else if (!Cause.hasInterruptsOnly(exit.cause)) counts.failed++
              const millis = performance.now() - started
              counts.roundTrips++
              counts.totalMillis += millis
              counts.maxMillis = Math.max(counts.maxMillis, millis)
            })
          )
        )
      })

    /**
     * Runs a send in a fiber of its own, and ends the call early, interrupting
     * the send, when its runner is unreachable or the pool is terminated.
     */
    const guarded = <A>(entityId: string, rpc: Effect.Effect<A, unknown>): Effect.Effect<A, unknown> =>
      Effect.flatMap(Effect.forkChild(rpc), (fiber) =>
        Effect.callback<A, unknown>((resume) => {
          const stop = options.unavailable.listen(entityId, (reason) => {
            fiber.interruptUnsafe()
            resume(Effect.fail(
              reason._tag === "Terminated"
                ? new PoolTerminated({ message: "the pool was terminated before the task finished" })
                : new WorkerStartFailed({ attempts: 0, message: `ClusterPool: ${reason.message}` })
            ))
          })
          fiber.addObserver((exit) => {
            stop()
            resume(exit)
          })
          return Effect.suspend(() => {
            stop()
            return Fiber.interrupt(fiber)
          })
        }))

    // durable mode (durable.ts): the job of this call, if it is durable
    const durableJob: Effect.Effect<string | undefined> = Effect.map(
      Effect.service(Durable.CurrentJob),
      (job) => Option.isSome(job) ? job.value : options.durable ? Durable.AUTO_JOB : undefined
    )
    // one volatile round trip before the first durable call (a fresh client's first persisted message
    // would otherwise wait in storage for a runner's poll); guarded like any send, and retried if it failed
    let warm: Effect.Effect<unknown, unknown> | undefined
    const warmUp = (task: Task.Any) =>
      Effect.suspend(() => {
        if (warm === undefined) {
          warm = Effect.runSync(Effect.cached(
            send(task, (client) => client.WarmUp(), Effect.succeed, 0).pipe(
              Effect.onExit((exit) => Exit.isSuccess(exit) ? Effect.void : Effect.sync(() => (warm = undefined)))
            )
          ))
        }
        return warm
      })
    const sendDurable = (task: Task.Any, job: string, id: string, mode: "map" | "starmap", argsList: Uint8Array) => {
      const key = Durable.chunkKey({ job, task: id, mode, argsList })
      return Effect.andThen(
        warmUp(task),
        send(
          task,
          (client) => client.RunChunkDurable({ key, task: id, mode, argsList }),
          readResult(task),
          Durable.entityIndexFor(key, ids.length)
        )
      )
    }

    const readResult = (task: Task.Any) => (bytes: Uint8Array) => {
      const decoded = Values.decode(task, "result", bytes)
      return "value" in decoded ? Effect.succeed(decoded.value) : Effect.fail(decoded)
    }

    return {
      counts,
      terminate: Effect.sync(options.unavailable.terminate),
      chunk: (task, id, mode, items) => {
        const argsList = Values.encodeArguments(task, items)
        if (!(argsList instanceof Uint8Array)) return Effect.fail(argsList)
        return Effect.flatMap(durableJob, (job) =>
          job === undefined
            ? send(task, (client) => client.RunChunk({ task: id, mode, argsList }), readResult(task))
            : sendDurable(task, job, id, mode, argsList)
        ).pipe(
          Effect.flatMap((values) =>
            Array.isArray(values) && values.length === items.length
              ? Effect.succeed(values)
              : Effect.fail(Values.taskError(task, new TypeError("a runner answered a chunk with the wrong number of results")))
          )
        )
      },
      call: (task, id, args) =>
        Effect.flatMap(durableJob, (job) => {
          // a durable call is a durable chunk of one starmap item
          const bytes = Values.encodeArguments(task, job === undefined ? args : [args])
          if (!(bytes instanceof Uint8Array)) return Effect.fail(bytes)
          return job === undefined
            ? send(task, (client) => client.RunCall({ task: id, args: bytes }), readResult(task))
            : Effect.map(sendDurable(task, job, id, "starmap", bytes), (results) => (results as Array<unknown>)[0])
        })
    }
  })

/**
 * A send's failure as the caller sees it: a runner's answer rebuilt (a
 * declared error decoded); the engine's own errors as a `TaskError` naming
 * them; a defect (the volatile call's runner was lost, its connection broke)
 * or the runner's interruption of the call (it was shut down) as
 * `WorkerCrashed`, the error a local pool gives when the worker holding a
 * task dies.
 */
const clusterCause = (task: Task.Any, cause: Cause.Cause<unknown>): Cause.Cause<unknown> => {
  // the caller's own interruption never reaches here (an interrupted fiber runs no error handler): this one is
  // the runner's, which stopped the call as it shut down
  if (Cause.hasInterruptsOnly(cause)) {
    return Cause.fail(
      new WorkerCrashed({
        workerId: -1,
        exitCode: null,
        signal: null,
        message: `the runner of a call of ${task.name} stopped it before it finished (the runner was shut down)`
      })
    )
  }
  const error = Cause.findErrorOption(cause)
  if (error._tag === "Some") {
    const failure = error.value as { readonly _tag?: string }
    switch (failure._tag) {
      case "MailboxFull":
      case "AlreadyProcessingMessage":
      case "PersistenceError":
      case "EntityNotAssignedToRunner":
        return Cause.fail(
          new TaskError({
            task: task.id,
            remoteName: failure._tag,
            message: `the cluster did not deliver the call: ${String((failure as { message?: string }).message ?? failure._tag)}`
          })
        )
      default:
        return Cause.fail(Values.decodeFailure(task, failure as Values.CallFailure))
    }
  }
  const defect = Cause.squash(cause)
  return Cause.fail(
    new WorkerCrashed({
      workerId: -1,
      exitCode: null,
      signal: null,
      message: `the runner of a call of ${task.name} was lost before it answered: ${
        defect instanceof Error ? defect.message : String(defect)
      }`
    })
  )
}
