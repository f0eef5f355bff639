/**
 * The one cluster entity a `ClusterPool` talks to: `TaskRunner`, with an RPC
 * for a chunk of calls (a `map` / `starmap` chunk) and one for a single call
 * (`apply`). Values cross as `v8.serialize` bytes (`Schema.Uint8Array`), not
 * as JSON, so that they keep the structured-clone semantics of a local pool
 * (`undefined`, `bigint`, `Map`, `Date`, typed arrays). The failures a local
 * pool call can have cross as themselves (their classes are schema-backed); a
 * task's declared error crosses encoded by its module's own schema
 * (`DeclaredFailure`), and is rebuilt on the client.
 *
 * The client and every runner must agree on this file: it is the protocol.
 *
 * @internal
 */
import * as ClusterSchema from "effect/cluster/ClusterSchema"
import * as Entity from "effect/cluster/Entity"
import * as Rpc from "effect/rpc/Rpc"
import * as Schema from "effect/Schema"
import {
  PoolNotRunning,
  PoolTerminated,
  SerializationError,
  TaskError,
  WorkerCrashed,
  WorkerStartFailed
} from "../../PoolError.ts"

/**
 * A task's declared error, encoded by its module's schema (`Task.errors`) and
 * then by `v8.serialize`: the client decodes it with the same schema.
 */
export class DeclaredFailure extends Schema.TaggedError<DeclaredFailure>(
  "effect-multiprocessing/cluster/DeclaredFailure"
)("DeclaredFailure", {
  /** The index of the error's schema among the module's declared errors. */
  index: Schema.Number,
  /** The error's encoded form, as `v8.serialize` bytes. */
  encoded: Schema.Uint8Array
}) {}

/** Every failure a runner can answer a call with. */
export const CallFailure = Schema.Union([
  TaskError,
  SerializationError,
  WorkerCrashed,
  WorkerStartFailed,
  PoolNotRunning,
  PoolTerminated,
  DeclaredFailure
])

/**
 * The largest message a cluster socket carries (the engine's default is 16
 * MiB, and a larger frame breaks the connection for every call on it): a
 * value's bytes are checked against `MAX_VALUE_BYTES` before they are sent,
 * and the rest of a frame is the envelope.
 */
export const MAX_FRAME_BYTES = 1024 * 1024 * 1024
/** The largest argument list or result, as `v8.serialize` bytes, that crosses. */
export const MAX_VALUE_BYTES = MAX_FRAME_BYTES - 1024 * 1024

/** How the items of a chunk are applied: `task(item)` or `task(...item)`. */
export const Mode = Schema.Literals(["map", "starmap"])

/**
 * A chunk of calls of one task: `argsList` is `v8.serialize` of the items; the
 * answer is `v8.serialize` of the results, in order.
 */
export const RunChunk = Rpc.make("RunChunk", {
  payload: {
    /** The task's portable id: `<module path relative to the root>#<name>`. */
    task: Schema.String,
    mode: Mode,
    argsList: Schema.Uint8Array
  },
  success: Schema.Uint8Array,
  error: CallFailure
})

/** One call: `args` is `v8.serialize` of the argument tuple; the answer is `v8.serialize` of the result. */
export const RunCall = Rpc.make("RunCall", {
  payload: {
    task: Schema.String,
    args: Schema.Uint8Array
  },
  success: Schema.Uint8Array,
  error: CallFailure
})

/**
 * Durable mode (durable.ts): a chunk persisted in the cluster's message storage with a primary key
 * (`key`), answered from storage when sent again. The runner handles it as `RunChunk`.
 */
export const RunChunkDurable = Rpc.make("RunChunkDurable", {
  payload: {
    /** The chunk's primary key (durable.ts `chunkKey`). */
    key: Schema.String,
    task: Schema.String,
    mode: Mode,
    argsList: Schema.Uint8Array
  },
  success: Schema.Uint8Array,
  error: CallFailure,
  primaryKey: (payload) => payload.key
}).annotate(ClusterSchema.Persisted, true)

/** A volatile no-op a client sends once before its first durable call (durable.ts). */
export const WarmUp = Rpc.make("WarmUp", {})

/** The entity: every runner registers it; the client addresses it by a small, fixed set of entity ids. */
export const TaskRunner = Entity.make("effect-multiprocessing/TaskRunner", [RunChunk, RunCall, RunChunkDurable, WarmUp])
