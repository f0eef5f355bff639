/**
 * Values and failures across the cluster: `v8.serialize` bytes both ways (what
 * structured clone keeps, a local pool keeps too), and a call's failure
 * encoded on the runner and rebuilt on the client, so that it arrives as it
 * would from a local pool: the same class, `_tag` and fields.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as V8 from "node:v8"
import {
  PoolNotRunning,
  PoolTerminated,
  SerializationError,
  TaskError,
  WorkerCrashed,
  WorkerStartFailed
} from "../../PoolError.ts"
import type * as Task from "../../Task.ts"
import { DeclaredFailure } from "./taskRunnerEntity.ts"

/** What a runner may answer a call with (`CallFailure` in taskRunnerEntity.ts). */
export type CallFailure =
  | TaskError
  | SerializationError
  | WorkerCrashed
  | WorkerStartFailed
  | PoolNotRunning
  | PoolTerminated
  | DeclaredFailure

const reason = (error: unknown): string => error instanceof Error ? error.message : String(error)

/** `v8.serialize` of a call's arguments, or the `SerializationError` the call fails with (a function, a symbol…). */
export const encodeArguments = (task: Task.Any, value: unknown): Uint8Array | SerializationError => {
  try {
    return V8.serialize(value)
  } catch (error) {
    return new SerializationError({
      task: task.id,
      direction: "argument",
      message: `the arguments of ${task.name} cannot be sent to a runner: ${reason(error)}`
    })
  }
}

/** `v8.serialize` of a result on the runner, or the `SerializationError` the call fails with. */
export const encodeResult = (task: Task.Any, value: unknown): Uint8Array | SerializationError => {
  try {
    return V8.serialize(value)
  } catch (error) {
    return new SerializationError({
      task: task.id,
      direction: "result",
      message: `the result of ${task.name} cannot be sent back from its runner: ${reason(error)}`
    })
  }
}

/** `v8.deserialize` of bytes from the other side, or the `SerializationError` the call fails with. */
export const decode = (
  task: Task.Any,
  direction: "argument" | "result",
  bytes: Uint8Array
): { readonly value: unknown } | SerializationError => {
  try {
    return { value: V8.deserialize(bytes) }
  } catch (error) {
    return new SerializationError({
      task: task.id,
      direction,
      message: `the ${direction === "result" ? "result" : "arguments"} of ${task.name} could not be read: ${
        reason(error)
      }`
    })
  }
}

const known = [TaskError, SerializationError, WorkerCrashed, WorkerStartFailed, PoolNotRunning, PoolTerminated]

/**
 * A failure of the runner's local pool as it crosses back: one of the pool's
 * own errors as it is, a declared error of the task encoded by its module's
 * schema, anything else (an `IllegalArgumentError`) as a `TaskError`.
 */
export const encodeFailure = (task: Task.Any, error: unknown): CallFailure => {
  if (known.some((Class) => error instanceof Class)) return error as CallFailure
  const declared = task.errors.encode(error)
  if (declared !== undefined) {
    const bytes = encodeResult(task, declared[1])
    return bytes instanceof SerializationError ? bytes : new DeclaredFailure({ index: declared[0], encoded: bytes })
  }
  return taskError(task, error)
}

/** An error of the runner itself, or one a local pool has no class for, as a `TaskError` for the task. */
export const taskError = (task: Task.Any | string, error: unknown): TaskError =>
  new TaskError({
    task: typeof task === "string" ? task : task.id,
    remoteName: error instanceof Error ? error.name : Cause.isIllegalArgumentError(error) ? error._tag : "Error",
    message: reason(error),
    remoteStack: error instanceof Error ? error.stack : undefined
  })

/**
 * The runner names the task by its own module URL; the caller knows it by
 * its own (`task.id`, as a local pool's errors name it).
 */
const asClients = (task: Task.Any, failure: TaskError | SerializationError): TaskError | SerializationError => {
  if (failure.task === task.id) return failure
  const message = failure.message.replace(`(in task ${failure.task})`, `(in task ${task.id})`)
  return failure instanceof TaskError
    ? new TaskError({ ...failure, task: task.id, message, remoteMessage: failure.remoteMessage ?? failure.message })
    : new SerializationError({ task: task.id, direction: failure.direction, message })
}

/** A failure from a runner, rebuilt on the client: a declared error decoded by the task's module's schema. */
export const decodeFailure = (task: Task.Any, failure: CallFailure): unknown => {
  if (failure instanceof TaskError || failure instanceof SerializationError) return asClients(task, failure)
  if (!(failure instanceof DeclaredFailure)) return failure
  const encoded = decode(task, "result", failure.encoded)
  if (encoded instanceof SerializationError) return encoded
  try {
    return task.errors.decode(failure.index, encoded.value)
  } catch (error) {
    return new TaskError({
      task: task.id,
      remoteName: "DecodeError",
      message: `a declared error of ${task.name} could not be decoded: ${reason(error)}`
    })
  }
}
