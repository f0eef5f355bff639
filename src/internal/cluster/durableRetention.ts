/**
 * Retention of durable mode's stored messages: Effect Cluster keeps every persisted request and its
 * reply in `<prefix>_messages` / `<prefix>_replies` for ever (it marks them processed and never
 * deletes them). Each runner of a Postgres cluster therefore sweeps, every `interval`, the requests
 * that were processed more than `retention` ago, with their replies and their follow-up messages
 * (acks of streamed chunks, interrupts).
 *
 * "Processed more than `retention` ago" is read from the request's id: Effect's message ids are
 * snowflakes whose high bits are the creation time in milliseconds since 2025-01-01 (`Snowflake.ts`),
 * so a request created before `now - retention` whose `processed` flag is set is old enough. A request
 * that is still pending is never deleted, however old. The sweep is idempotent, so several runners
 * sweeping the same tables at once is harmless; it deletes at most `batch` requests a statement and
 * repeats until none is left, keeping each transaction short.
 *
 * What it means for durable mode: within the retention a resubmitted job (same job id, same chunk)
 * is answered from storage; after it, the same submission runs again.
 *
 * @internal
 */
import * as Snowflake from "effect/cluster/Snowflake"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as SqlClient from "effect/sql/SqlClient"
import type * as SqlError from "effect/sql/SqlError"

/**
 * How long durable mode keeps the results of processed calls, and how often it sweeps older ones.
 *
 * @since 0.1.0
 * @category models
 */
export interface Retention {
  /**
   * How long a processed durable call's request and result stay in storage (a resubmission within
   * it is answered from storage). Default 24 hours.
   *
   * @since 0.1.0
   */
  readonly retention?: Duration.Input | undefined
  /**
   * How often each runner deletes what is older. Default 1 minute.
   *
   * @since 0.1.0
   */
  readonly interval?: Duration.Input | undefined
}

/** The default retention of processed durable calls. */
export const DEFAULT_RETENTION = Duration.hours(24)
/** How often runners sweep by default. */
export const DEFAULT_SWEEP_INTERVAL = Duration.minutes(1)
/** The most requests one DELETE statement removes. */
const BATCH = 5_000

/** The smallest snowflake id created at or after `millis` (Unix time). */
export const snowflakeAt = (millis: number): bigint =>
  BigInt(Math.max(0, Math.floor(millis - Snowflake.constEpochMillis))) << 22n

/**
 * Deletes the durable requests processed before `retention` ago (with their replies and follow-up
 * messages); answers how many requests it deleted.
 */
export const sweep = Effect.fnUntraced(function*(options: {
  readonly retention: Duration.Input
  readonly tablePrefix?: string | undefined
}): Effect.fn.Return<number, SqlError.SqlError, SqlClient.SqlClient> {
  const sql = (yield* SqlClient.SqlClient).withoutTransforms()
  const prefix = options.tablePrefix ?? "cluster"
  const messages = sql(`${prefix}_messages`)
  const replies = sql(`${prefix}_replies`)
  const now = yield* Clock.currentTimeMillis
  const cutoff = snowflakeAt(now - Duration.toMillis(Duration.fromInputUnsafe(options.retention))).toString()
  let total = 0
  while (true) {
    // kind 0 = a request; its id is also the request_id of its replies and follow-up messages (kinds 1
    // and 2). One statement: the three deletes see the same snapshot and commit together.
    const rows = yield* sql<{ n: number }>`
      WITH old AS (
        DELETE FROM ${messages}
        WHERE id IN (
          SELECT id FROM ${messages}
          WHERE kind = 0 AND processed = TRUE AND id < ${cutoff}::bigint
          LIMIT ${BATCH}
        )
        RETURNING id
      ), gone_replies AS (
        DELETE FROM ${replies} WHERE request_id IN (SELECT id FROM old)
      ), gone_follow_ups AS (
        DELETE FROM ${messages} WHERE kind <> 0 AND request_id IN (SELECT id FROM old)
      )
      SELECT count(*)::int AS n FROM old
    `
    const deleted = rows[0]?.n ?? 0
    total += deleted
    if (deleted < BATCH) return total
  }
})

/**
 * A runner's periodic sweep (the first one at start), for as long as the layer lives. A failed
 * sweep (the database unreachable for a moment) is logged and retried at the next interval.
 */
export const layer = (options: Retention & { readonly tablePrefix?: string | undefined }): Layer.Layer<
  never,
  never,
  SqlClient.SqlClient
> =>
  Layer.effectDiscard(
    sweep({ retention: options.retention ?? DEFAULT_RETENTION, tablePrefix: options.tablePrefix }).pipe(
      Effect.catchCause((cause) => Effect.logWarning("durable retention sweep failed", cause)),
      Effect.repeat(Schedule.spaced(options.interval ?? DEFAULT_SWEEP_INTERVAL)),
      Effect.interruptible,
      Effect.forkScoped
    )
  )
