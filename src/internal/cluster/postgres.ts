/**
 * Membership over PostgreSQL (`ClusterPool` option `postgres`): the production setup.
 *
 * Runners register in `<prefix>_runners` and take shards with locks held in the database
 * (PostgreSQL advisory locks, refreshed by each runner); clients find runners there too. A runner
 * that dies loses its locks (its connection closes, or its locks expire), the others take its shards,
 * and the calls it held are sent again (at-least-once). Persisted (durable) messages and their replies
 * live in `<prefix>_messages` / `<prefix>_replies`. All of this is Effect Cluster's own SQL storage
 * (`SqlRunnerStorage`, `SqlMessageStorage`) over `@effect/sql-pg`; this module chooses its settings:
 * one PostgreSQL connection pool per process, shared by runner storage, message storage and, on a
 * runner, the retention sweep of durable mode (`durableRetention.ts`). The first runner to start
 * creates the tables (Effect's migrations; several starting at once do not conflict).
 *
 * The layer needs the process's `ShardingConfig` (the lock expiry and the shard count must be the
 * process's own): the cluster transport provides it (clusterTransport.ts).
 *
 * @internal
 */
import * as NodeCrypto from "@effect/platform-node/NodeCrypto"
import * as PgClient from "@effect/sql-pg/PgClient"
import type * as MessageStorage from "effect/cluster/MessageStorage"
import type * as RunnerStorage from "effect/cluster/RunnerStorage"
import type * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as SqlMessageStorage from "effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "effect/cluster/SqlRunnerStorage"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import type * as SqlError from "effect/sql/SqlError"
import type { PostgresOptions } from "../../ClusterPool.ts"
import * as DurableRetention from "./durableRetention.ts"

/** The `postgres` option in its long form. */
export const normalize = (option: string | Redacted.Redacted<string> | PostgresOptions): PostgresOptions =>
  typeof option === "string" || Redacted.isRedacted(option) ? { url: option } : option

/** The PostgreSQL client of one process (also provided as the generic `SqlClient`). */
const layerClient = (options: PostgresOptions) =>
  PgClient.layer({
    url: Redacted.isRedacted(options.url) ? options.url : Redacted.make(options.url),
    applicationName: "effect-multiprocessing",
    maxConnections: options.maxConnections ?? 10
  })

/**
 * Runner and message storage in PostgreSQL. On a runner (`sweep: true`) it also runs the retention
 * sweep of durable calls for as long as it lives.
 */
export const layer = (options: PostgresOptions, role: { readonly sweep: boolean }): Layer.Layer<
  MessageStorage.MessageStorage | RunnerStorage.RunnerStorage,
  SqlError.SqlError,
  ShardingConfig.ShardingConfig
> => {
  const prefix = options.tablePrefix
  const storage = Layer.mergeAll(
    SqlMessageStorage.layerWith({ prefix }).pipe(Layer.provide(NodeCrypto.layerDigest)),
    SqlRunnerStorage.layerWith({ prefix })
  )
  const withSweep = role.sweep
    ? Layer.merge(
      storage,
      // after the storage: its migrations have created the tables the sweep reads
      DurableRetention.layer({
        retention: options.retention,
        interval: options.retentionSweepInterval,
        tablePrefix: prefix
      }).pipe(Layer.provide(storage))
    )
    : storage
  return withSweep.pipe(Layer.provide(layerClient(options)))
}
