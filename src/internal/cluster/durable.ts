/**
 * Durable mode: a chunk of calls sent as a persisted message with a primary key, so that
 *
 * - the request is written to the cluster's message storage (Postgres) before it runs: a runner
 *   that dies with it is replaced by another that reads it from storage and runs it (at least once);
 * - its result is stored with it: the same chunk sent again (a client that crashed and resubmits its
 *   job, or two clients submitting the same job) is answered from storage without running again,
 *   for as long as the retention keeps it (`durableRetention.ts`).
 *
 * The primary key of a chunk is `<job>/<digest>`, where the digest (SHA-256) covers the task id,
 * the mode and the chunk's argument bytes, and `<job>` is the job id the caller gave ({@link withJob})
 * or, for a durable pool with no job id, `auto`. So a key is never reused for different work (a job id
 * reused with other arguments runs them), and two chunks of one job with the same task and the same
 * items share one run and one result. The entity id a durable chunk goes to is a function of its key
 * (the storage's deduplication is per entity address), from the bounded set of ids the volatile calls
 * use. The RPCs (`RunChunkDurable`, `WarmUp`) are declared with the entity (taskRunnerEntity.ts).
 *
 * Durable mode needs message storage: Postgres membership. A static-peer cluster has none.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { createHash } from "node:crypto"
import type { Mode } from "./taskRunnerEntity.ts"

/**
 * The job the calls of a fiber belong to, when a durable one was named with {@link withJob}.
 */
export const CurrentJob = Context.Reference<Option.Option<string>>(
  "effect-multiprocessing/cluster/CurrentJob",
  { defaultValue: Option.none }
)

/**
 * Runs `effect` with its cluster-pool calls made durable under the job id `job`: each chunk is
 * persisted with the key `<job>/<digest of task and arguments>`, and a call that was
 * already answered within the retention is answered from storage.
 */
export const withJob: {
  (job: string): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(effect: Effect.Effect<A, E, R>, job: string): Effect.Effect<A, E, R>
} = ((...args: Array<any>) =>
  args.length === 1
    ? (effect: Effect.Effect<any, any, any>) => Effect.provideService(effect, CurrentJob, Option.some(args[0]))
    : Effect.provideService(args[0], CurrentJob, Option.some(args[1]))) as any

/** The longest job id (the storage digests longer keys, but a short one stays readable in its tables). */
export const MAX_JOB_ID_LENGTH = 64

/** The primary key of one durable chunk. */
export const chunkKey = (options: {
  readonly job: string
  readonly task: string
  readonly mode: typeof Mode.Type
  readonly argsList: Uint8Array
}): string => {
  const digest = createHash("sha256")
    .update(options.task).update("\0").update(options.mode).update("\0").update(options.argsList)
    .digest("base64url")
  return `${options.job}/${digest}`
}

/** The index (among `count` entity ids) a durable chunk with this key is sent to: a fixed function of the key. */
export const entityIndexFor = (key: string, count: number): number =>
  createHash("sha256").update(key).digest().readUInt32BE(0) % count

/** The job of a durable pool's calls made outside any `withJob`. */
export const AUTO_JOB = "auto"

/** Whether a job id is usable: non-empty, short, with no "/" (the key's separator). */
export const isValidJobId = (job: string): boolean =>
  job.length > 0 && job.length <= MAX_JOB_ID_LENGTH && !job.includes("/")
