/**
 * Membership over PostgreSQL: the production setup of a cluster pool.
 *
 * Runners register in the `cluster_runners` table and take shards with locks held in the database
 * (PostgreSQL advisory locks, refreshed by each runner); clients find runners there too. Persisted
 * (durable) messages and their replies live in `cluster_messages` / `cluster_replies`. All of this is
 * Effect Cluster's own SQL storage (`SqlRunnerStorage`, `SqlMessageStorage`) over `@effect/sql-pg`;
 * this module only chooses its settings:
 *
 * - failure detection with short, documented defaults ({@link defaultFailureDetection}): the engine's
 *   own (lock refresh 10 s, lock expiry 35 s, health check 1 min) leave a hard-killed runner's shards
 *   unserved for ~30 s; these bring it to a few seconds;
 * - one PostgreSQL connection pool per process, shared by runner storage, message storage and the
 *   retention sweep of durable mode (`durableRetention.ts`).
 *
 * The first runner to start creates the tables (Effect's migrations, safe to run concurrently).
 *
 * @internal
 */
import * as NodeClusterSocket from "@effect/platform-node/NodeClusterSocket"
import * as PgClient from "@effect/sql-pg/PgClient"
import type * as MessageStorage from "effect/cluster/MessageStorage"
import type * as RunnerAddress from "effect/cluster/RunnerAddress"
import * as RunnerHealth from "effect/cluster/RunnerHealth"
import * as Runners from "effect/cluster/Runners"
import type * as RunnerStorage from "effect/cluster/RunnerStorage"
import type * as Sharding from "effect/cluster/Sharding"
import type * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as ShardingConfigModule from "effect/cluster/ShardingConfig"
import * as SocketRunner from "effect/cluster/SocketRunner"
import * as SqlMessageStorage from "effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "effect/cluster/SqlRunnerStorage"
import * as Duration from "effect/Duration"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import type * as SqlClient from "effect/sql/SqlClient"
import type * as SqlError from "effect/sql/SqlError"
import * as RpcSerialization from "effect/rpc/RpcSerialization"
import type * as SocketServer from "effect/socket/SocketServer"
import * as NodeCrypto from "@effect/platform-node/NodeCrypto"

/**
 * How fast a cluster notices a runner that died without saying goodbye (`kill -9`, a lost machine)
 * and gives its shards to the others. Shorter means faster failover and more database traffic.
 *
 * @since 0.1.0
 * @category models
 */
export interface FailureDetection {
  /**
   * How often each runner refreshes the locks on the shards it holds. Default 2 s (engine: 10 s).
   *
   * @since 0.1.0
   */
  readonly shardLockRefreshInterval?: Duration.Input | undefined
  /**
   * After how long without a refresh a shard lock counts as abandoned and another runner may take
   * the shard. Must be a few refresh intervals long, or a runner that is merely slow (a long GC, a
   * loaded database) loses its shards. Default 6 s (engine: 35 s).
   *
   * @since 0.1.0
   */
  readonly shardLockExpiration?: Duration.Input | undefined
  /**
   * How often runners ping each other and unregister one that does not answer. Default 5 s
   * (engine: 1 min).
   *
   * @since 0.1.0
   */
  readonly runnerHealthCheckInterval?: Duration.Input | undefined
  /**
   * How often every process re-reads which runner holds which shard. Default 1 s (engine: 3 s).
   *
   * @since 0.1.0
   */
  readonly refreshAssignmentsInterval?: Duration.Input | undefined
  /**
   * How often a runner polls storage for persisted (durable) messages it has not been handed
   * directly: a durable call sent while its shard moved, or left by a runner that died. Default 2 s
   * (engine: 10 s).
   *
   * @since 0.1.0
   */
  readonly entityMessagePollInterval?: Duration.Input | undefined
}

/**
 * The failure-detection settings a cluster pool uses unless told otherwise: a hard-killed runner's
 * shards are served again after ~4–8 s (measured on loopback; see docs/cluster.md "Failover").
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultFailureDetection: Required<FailureDetection> = {
  shardLockRefreshInterval: Duration.seconds(2),
  shardLockExpiration: Duration.seconds(6),
  runnerHealthCheckInterval: Duration.seconds(5),
  refreshAssignmentsInterval: Duration.seconds(1),
  entityMessagePollInterval: Duration.seconds(2)
}

/**
 * Membership through a PostgreSQL database (`membership: { postgres: url }`).
 *
 * @since 0.1.0
 * @category models
 */
export interface PostgresMembership {
  /**
   * The database's URL, e.g. `postgres://user:password@db.internal:5432/cluster`. Every runner and
   * client of one cluster uses the same database (and the same `tablePrefix`).
   *
   * @since 0.1.0
   */
  readonly postgres: string | Redacted.Redacted<string>
  /**
   * The prefix of the cluster's tables (`<prefix>_runners`, `<prefix>_messages`, …). Default
   * `"cluster"`. Two clusters can share a database under two prefixes.
   *
   * @since 0.1.0
   */
  readonly tablePrefix?: string | undefined
  /**
   * Failure-detection settings; every process of one cluster should use the same. Defaults:
   * {@link defaultFailureDetection}.
   *
   * @since 0.1.0
   */
  readonly failureDetection?: FailureDetection | undefined
  /**
   * The most database connections this process opens. Default 10.
   *
   * @since 0.1.0
   */
  readonly maxConnections?: number | undefined
}

/** Whether a membership option is the Postgres one. */
export const isPostgres = (membership: unknown): membership is PostgresMembership =>
  typeof membership === "object" && membership !== null && "postgres" in membership

/** The sharding settings that failure detection sets, with the defaults filled in. */
export const shardingSettings = (
  failureDetection: FailureDetection | undefined
): Partial<ShardingConfig.ShardingConfig["Service"]> => {
  const pick = <K extends keyof FailureDetection>(key: K): Duration.Input =>
    failureDetection?.[key] ?? defaultFailureDetection[key]
  return {
    shardLockRefreshInterval: pick("shardLockRefreshInterval"),
    shardLockExpiration: pick("shardLockExpiration"),
    runnerHealthCheckInterval: pick("runnerHealthCheckInterval"),
    refreshAssignmentsInterval: pick("refreshAssignmentsInterval"),
    entityMessagePollInterval: pick("entityMessagePollInterval")
  }
}

/** The PostgreSQL client of one process (also provided as the generic `SqlClient`). */
export const layerClient = (
  membership: PostgresMembership
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError.SqlError> =>
  PgClient.layer({
    url: Redacted.isRedacted(membership.postgres) ? membership.postgres : Redacted.make(membership.postgres),
    applicationName: "effect-multiprocessing",
    maxConnections: membership.maxConnections ?? 10
  })

/**
 * Runner and message storage in PostgreSQL, with the SQL client they share (for the retention
 * sweep). Needs the process's `ShardingConfig`.
 */
export const layerStorage = (
  membership: PostgresMembership
): Layer.Layer<
  MessageStorage.MessageStorage | RunnerStorage.RunnerStorage | SqlClient.SqlClient,
  SqlError.SqlError,
  ShardingConfig.ShardingConfig
> => {
  const prefix = membership.tablePrefix
  return Layer.mergeAll(
    SqlMessageStorage.layerWith({ prefix }).pipe(Layer.provide(NodeCrypto.layerDigest)),
    SqlRunnerStorage.layerWith({ prefix })
  ).pipe(Layer.provideMerge(layerClient(membership)))
}

/**
 * The sharding of one process of a Postgres cluster: a runner (hosting shards, listening on
 * `runnerAddress`) or a client only. The socket transport is Effect's (`NodeClusterSocket`) unless
 * `transport` gives another (the cluster pool's, with Nagle's algorithm off). The sharding settings
 * are explicit (`ShardingConfig.layer`, never `layerFromEnv`, which reads `HOST` / `PORT` from the
 * environment); failure detection fills in the defaults above.
 */
export const layerSharding = (
  membership: PostgresMembership,
  options: {
    readonly clientOnly: boolean
    readonly runnerAddress?: RunnerAddress.RunnerAddress | undefined
    readonly shardingConfig?: Partial<ShardingConfig.ShardingConfig["Service"]> | undefined
    readonly transport?: {
      readonly clientProtocol: Layer.Layer<Runners.RpcClientProtocol, never, RpcSerialization.RpcSerialization>
      readonly socketServer: Layer.Layer<
        SocketServer.SocketServer,
        SocketServer.SocketServerError,
        ShardingConfig.ShardingConfig
      >
    } | undefined
  }
): Layer.Layer<
  Sharding.Sharding | Runners.Runners | MessageStorage.MessageStorage | SqlClient.SqlClient,
  SqlError.SqlError | SocketServer.SocketServerError
> => {
  const clientProtocol = options.transport?.clientProtocol ?? NodeClusterSocket.layerClientProtocol
  const socketServer = options.transport?.socketServer ?? NodeClusterSocket.layerSocketServer
  const config = ShardingConfigModule.layer({
    ...shardingSettings(membership.failureDetection),
    ...options.shardingConfig,
    runnerAddress: options.runnerAddress ? Option.some(options.runnerAddress) : Option.none()
  })
  const runner: Layer.Layer<Sharding.Sharding | Runners.Runners, SocketServer.SocketServerError, any> =
    options.clientOnly
      ? SocketRunner.layerClientOnly.pipe(Layer.provide(clientProtocol))
      : SocketRunner.layer.pipe(
        Layer.provide([socketServer, clientProtocol]),
        Layer.provide(RunnerHealth.layerPing.pipe(Layer.provide(Runners.layerRpc), Layer.provide(clientProtocol)))
      )
  return runner.pipe(
    Layer.provideMerge(layerStorage(membership)),
    Layer.provide(config),
    Layer.provide(RpcSerialization.layerSchemaBinary({}))
  ) as any
}
