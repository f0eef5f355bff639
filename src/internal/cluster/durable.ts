/**
 * Durable mode: a chunk of calls sent as a persisted message with a primary key, so that
 *
 * - the request is written to the cluster's message storage (Postgres) before it runs: a runner
 *   that dies with it is replaced by another that reads it from storage and runs it (at least once);
 * - its result is stored with it: the same chunk sent again (a client that crashed and resubmits its
 *   job, or two clients submitting the same job) is answered from storage without running again,
 *   for as long as the retention keeps it (`durableRetention.ts`).
 *
 * The primary key of a chunk is `<job>/<chunk index>/<digest>`, where the digest (SHA-256) covers
 * the task id, the mode and the chunk's argument bytes, and `<job>` is the job id the caller gave
 * ({@link withJob}) or, for a durable pool with no job id, `auto`. So a key is never reused for
 * different work: a job id that is reused with other arguments runs them. The entity id a durable
 * chunk goes to is a function of its key (the storage's deduplication is per entity), taken from the
 * same bounded set of ids the volatile calls use.
 *
 * Durable mode needs message storage: Postgres membership. A static-peer cluster has none.
 *
 * @internal
 */
import * as ClusterSchema from "effect/cluster/ClusterSchema"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Rpc from "effect/rpc/Rpc"
import * as Schema from "effect/Schema"
import { createHash } from "node:crypto"
import { CallFailure, Mode } from "./taskRunnerEntity.ts"

/**
 * The job the calls of a fiber belong to, when a durable one was named with {@link withJob}.
 */
export const CurrentJob = Context.Reference<Option.Option<string>>(
  "effect-multiprocessing/cluster/CurrentJob",
  { defaultValue: Option.none }
)

/**
 * Runs `effect` with its cluster-pool calls made durable under the job id `job`: each chunk is
 * persisted with the key `<job>/<chunk index>/<digest of task and arguments>`, and a call that was
 * already answered within the retention is answered from storage.
 */
export const withJob: {
  (job: string): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(effect: Effect.Effect<A, E, R>, job: string): Effect.Effect<A, E, R>
} = ((...args: Array<any>) =>
  args.length === 1
    ? (effect: Effect.Effect<any, any, any>) => Effect.provideService(effect, CurrentJob, Option.some(args[0]))
    : Effect.provideService(args[0], CurrentJob, Option.some(args[1]))) as any

/** The longest job id: the key must fit the storage's 255-character message id with the entity address. */
export const MAX_JOB_ID_LENGTH = 64

/** The primary key of one durable chunk. */
export const chunkKey = (options: {
  readonly job: string
  readonly chunk: number
  readonly task: string
  readonly mode: typeof Mode.Type
  readonly argsList: Uint8Array
}): string => {
  const digest = createHash("sha256")
    .update(options.task).update("\0").update(options.mode).update("\0").update(options.argsList)
    .digest("base64url")
  return `${options.job}/${options.chunk}/${digest}`
}

/** The entity id (one of `entityIds`) a durable chunk with this key is sent to: a fixed function of the key. */
export const entityIdFor = (key: string, entityIds: ReadonlyArray<string>): string => {
  const hash = createHash("sha256").update(key).digest()
  return entityIds[hash.readUInt32BE(0) % entityIds.length]!
}

/**
 * A chunk of calls of one task, persisted: the payload of `RunChunk` plus its primary key. The
 * runner's handler is the same as `RunChunk`'s.
 */
export const RunChunkDurable = Rpc.make("RunChunkDurable", {
  payload: {
    /** The chunk's primary key ({@link chunkKey}). */
    key: Schema.String,
    /** The task's portable id. */
    task: Schema.String,
    mode: Mode,
    /** `v8.serialize` of the items. */
    argsList: Schema.Uint8Array
  },
  success: Schema.Uint8Array,
  error: CallFailure,
  primaryKey: (payload) => payload.key
}).annotate(ClusterSchema.Persisted, true)

/**
 * A volatile no-op call a client makes once before its first durable one. A fresh client does not
 * yet know which runner holds which shard, and its first persisted message would wait in storage
 * for the runner's next poll (seconds); one volatile round trip first makes it ~20 ms.
 */
export const WarmUp = Rpc.make("WarmUp", {})

/** Whether a job id is usable: non-empty, short, with no "/" (the key's separator). */
export const isValidJobId = (job: string): boolean =>
  job.length > 0 && job.length <= MAX_JOB_ID_LENGTH && !job.includes("/")
