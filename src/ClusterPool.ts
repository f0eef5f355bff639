/**
 * The same `Pool` over several machines, on Effect Cluster: `ClusterPool.layer`
 * provides the `WorkerPool` service backed by runner processes, each of which
 * runs tasks on its own local `WorkerPool` (`ClusterPool.runner`, or the CLI:
 * `npx effect-multiprocessing runner --port 4000 --peers …`). A program
 * written against `WorkerPool` runs unchanged: provide this layer instead of
 * `WorkerPool.layer`, and `apply` / `map` / `starmap` / `imap` fan out over the
 * runners.
 *
 * - Values cross as `v8.serialize` bytes, with the structured-clone semantics
 *   of a local pool; errors (declared ones, `TaskError` with the remote stack,
 *   `SerializationError`, `WorkerCrashed`) arrive as from a local pool.
 * - A task crosses as its module's path under a declared `root` (the same
 *   code deployed under it on every runner) and its name.
 * - Interrupting a call interrupts it on its runner, and the task in its
 *   worker (an Effect task's fiber, an async task's `Task.signal()`).
 * - Execution is at-least-once where membership fails over (a task on a runner
 *   that dies runs again elsewhere): make tasks idempotent. See docs/cluster.md.
 *
 * It is the package's `effect-multiprocessing/cluster` export, apart from the
 * index: a program that uses a local pool never loads it, nor `effect/cluster`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { WorkerPool } from "effect-multiprocessing"
 * import * as ClusterPool from "effect-multiprocessing/cluster"
 * import { tasks } from "./tasks.ts"
 *
 * const program = WorkerPool.map(tasks.square, [1, 2, 3]).pipe(
 *   Effect.provide(ClusterPool.layer({
 *     peers: ["10.0.0.1:4000", "10.0.0.2:4000"],
 *     root: new URL(".", import.meta.url)
 *   }))
 * )
 * ```
 *
 * @since 0.1.0
 * @module
 */
import * as Cause from "effect/Cause"
import type * as MessageStorage from "effect/cluster/MessageStorage"
import type * as RunnerStorage from "effect/cluster/RunnerStorage"
import type * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type * as Scope from "effect/Scope"
import type * as SocketServer from "effect/socket/SocketServer"
import type { WorkerStartFailed } from "./PoolError.ts"
import type { Options as PoolOptions } from "./PoolOptions.ts"
import * as WorkerPool from "./WorkerPool.ts"
import * as ClusterCalls from "./internal/cluster/clusterCalls.ts"
import * as ClusterPoolEngine from "./internal/cluster/clusterPool.ts"
import * as ClusterTransport from "./internal/cluster/clusterTransport.ts"
import * as Durable from "./internal/cluster/durable.ts"
import * as RunnerHost from "./internal/cluster/runnerHost.ts"
import * as StaticMembership from "./internal/cluster/staticMembership.ts"
import * as TaskIdentity from "./internal/cluster/taskIdentity.ts"
import * as Unavailable from "./internal/cluster/unavailable.ts"
import { cpuCount } from "./internal/cpu.ts"

/**
 * How the processes of a cluster find the runners and keep messages: a layer
 * providing effect's `RunnerStorage` and `MessageStorage`. Without one, a
 * static list of `peers` is used (no database, no failover). It may read the
 * process's `ShardingConfig` (SQL storage does: the lock expiry, the shard
 * count), which the cluster provides.
 *
 * @since 0.1.0
 * @category models
 */
export type Membership<E = never, R = never> = Layer.Layer<
  RunnerStorage.RunnerStorage | MessageStorage.MessageStorage,
  E,
  R | ShardingConfig.ShardingConfig
>

/**
 * The long form of the `postgres` option: Postgres membership (with failover) and the storage
 * durable calls need; the database's URL and how the cluster uses it.
 *
 * @since 0.1.0
 * @category models
 */
export interface PostgresOptions {
  /**
   * The database's URL, e.g. `postgres://user:password@db.internal:5432/cluster`. Every runner and
   * client of one cluster uses the same database (and the same `tablePrefix`).
   *
   * @since 0.1.0
   */
  readonly url: string | Redacted.Redacted<string>
  /**
   * The prefix of the cluster's tables (`<prefix>_runners`, `<prefix>_messages`, …). Default
   * `"cluster"`. Two clusters can share a database under two prefixes.
   *
   * @since 0.1.0
   */
  readonly tablePrefix?: string | undefined
  /**
   * The most database connections this process opens. Default 10.
   *
   * @since 0.1.0
   */
  readonly maxConnections?: number | undefined
  /**
   * How long a processed durable call stays in storage, its result served to a resubmission.
   * Runners delete older ones every `retentionSweepInterval`. Default 24 hours.
   *
   * @since 0.1.0
   */
  readonly retention?: Duration.Input | undefined
  /**
   * How often each runner deletes the processed durable calls older than `retention`. Default
   * 1 minute.
   *
   * @since 0.1.0
   */
  readonly retentionSweepInterval?: Duration.Input | undefined
}

/**
 * Effect Cluster's sharding settings (`ShardingConfig`), but the addresses.
 * Every process of a cluster must use the same shard settings
 * (`shardsPerGroup`). The defaults are the engine's with faster failure
 * detection: shard locks refreshed every 2 s and expiring after 6 s, runners'
 * health checked every 5 s.
 *
 * @since 0.1.0
 * @category models
 */
export type Settings = Partial<Omit<ShardingConfig.ShardingConfig["Service"], "runnerAddress" | "runnerListenAddress">>

/**
 * What both sides of a cluster are given.
 *
 * @since 0.1.0
 * @category models
 */
export interface CommonOptions<E = never, R = never> {
  /**
   * Static membership: every runner's address as `host:port`, the same list on
   * every process (a runner adds itself). No database, no failover: the calls
   * for a runner that is down wait until it is back, or fail after
   * `unavailableTimeout`.
   */
  readonly peers?: ReadonlyArray<string> | undefined
  /**
   * Membership through a PostgreSQL database (the production setup): its URL, or `PostgresOptions`
   * (table prefix, connections, durable mode's retention). Runners register there and take shards
   * with locks held in the database; a runner that dies loses them and the others take over its
   * shards (a few seconds with the default `settings`), and the calls it held run again elsewhere
   * (at-least-once). It also stores durable calls (`durable`, `withJob`). Replaces `peers`. Needs
   * the `@effect/sql-pg` package.
   */
  readonly postgres?: string | Redacted.Redacted<string> | PostgresOptions | undefined
  /** Membership other than a static list or Postgres: replaces `peers`. */
  readonly membership?: Membership<E, R> | undefined
  /**
   * The directory the task modules are found under, the same code deployed
   * under it on every machine: a `URL` (`new URL(".", import.meta.url)` in a
   * module at the top of the code), a URL string or a path. A task crosses as
   * its module's path under it. Defaults to the working directory.
   */
  readonly root?: URL | string | undefined
  /** Sharding settings (see `Settings`). */
  readonly settings?: Settings | undefined
}

/**
 * How to build a `ClusterPool` (the client side).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<E = never, R = never> extends CommonOptions<E, R> {
  /**
   * How many tasks run at once across the runners (their workers in all): what
   * the default `chunksize` of `map` is computed from, as on a local pool.
   * Defaults to the number of peers × this machine's CPU count.
   */
  readonly size?: number | undefined
  /**
   * How many entity ids the calls are spread over (each costs a runner an
   * activation on first use). Defaults to 8 per peer (32 without `peers`).
   */
  readonly entities?: number | undefined
  /** How many chunks of one `map` or `imap` may be in flight at once (default 64). */
  readonly maxChunksInFlight?: number | undefined
  /**
   * How long a call may wait for an unreachable runner before it fails with
   * `WorkerStartFailed` saying so (default 10 seconds; 30 seconds with
   * `postgres`, which must outlast a failover: a dead runner's calls wait
   * for its shards to move, ~5–10 s). A runner that answers is never timed
   * out, however long its task runs.
   */
  readonly unavailableTimeout?: Duration.Input | undefined
  /**
   * Durable mode for every call of this pool (needs `postgres`): each chunk is persisted before it
   * runs, with a primary key from its task and items, so a runner that dies with it hands it on
   * through storage, and the same call made again (a restarted client resubmitting its job) is
   * answered from storage for as long as `PostgresOptions.retention` keeps it. Identical calls are
   * one job then: to scope them, name jobs with `withJob` (which makes calls durable on any
   * Postgres pool). Default false.
   */
  readonly durable?: boolean | undefined
}

/**
 * How to start a runner.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunnerOptions<E = never, R = never> extends CommonOptions<E, R> {
  /** The host the runner listens on, and the others reach it by (default `127.0.0.1`). */
  readonly host?: string | undefined
  /** The port it listens on. */
  readonly port: number
  /** The runner's local pool: every option of `WorkerPool.make` (size, backend, …). */
  readonly pool?: PoolOptions | undefined
}

const illegal = (message: string) => new Cause.IllegalArgumentError(message)

const parsePeers = (peers: ReadonlyArray<string> | undefined) => {
  const parsed: Array<StaticMembership.Peer> = []
  for (const text of peers ?? []) {
    const peer = typeof text === "string" ? StaticMembership.parsePeer(text) : undefined
    if (peer === undefined) return illegal(`ClusterPool: a peer must be host:port, got ${JSON.stringify(text)}`)
    parsed.push(peer)
  }
  return parsed
}

const membershipOf = <E, R>(
  options: CommonOptions<E, R>,
  self?: StaticMembership.Peer
): Membership<E, R> | Cause.IllegalArgumentError => {
  if (options.membership !== undefined) return options.membership
  if (options.postgres !== undefined) {
    const postgres = options.postgres
    // loaded only when used: a static-peer cluster needs no @effect/sql-pg
    return Layer.unwrap(Effect.map(
      Effect.promise(() => import("./internal/cluster/postgres.ts")),
      // a runner (self) sweeps durable calls past their retention
      (Postgres) => Postgres.layer(Postgres.normalize(postgres), { sweep: self !== undefined })
    )) as Membership<any, never>
  }
  const peers = parsePeers(options.peers)
  if (Cause.isIllegalArgumentError(peers)) return peers
  if (self !== undefined) peers.push(self)
  if (peers.length === 0) return illegal("ClusterPool: give the runners' addresses (peers: [\"host:port\", …]) or a membership")
  return StaticMembership.layer(peers)
}

const positiveInt = (name: string, value: unknown) =>
  value === undefined || (typeof value === "number" && Number.isSafeInteger(value) && value >= 1)
    ? undefined
    : illegal(`ClusterPool: ${name} must be a positive integer, got ${String(value)}`)

/**
 * Starts a client of the cluster and returns a `Pool` over it. The pool lives
 * in the current `Scope`: closing it terminates the pool (its calls in flight
 * are interrupted, on the runners too).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E = never, R = never>(
  options: Options<E, R>
): Effect.Effect<WorkerPool.Pool, Cause.IllegalArgumentError | E, Scope.Scope | R> =>
  Effect.gen(function*() {
    const invalid = positiveInt("size", options.size) ?? positiveInt("entities", options.entities) ??
      positiveInt("maxChunksInFlight", options.maxChunksInFlight)
    if (invalid) return yield* invalid
    if (options.durable && options.postgres === undefined && options.membership === undefined) {
      return yield* illegal("ClusterPool: durable mode needs message storage: give postgres (static peers keep no messages)")
    }
    const membership = membershipOf(options)
    if (Cause.isIllegalArgumentError(membership)) return yield* membership
    const peers = options.membership === undefined ? (options.peers?.length ?? 0) : 0
    const timeout = Duration.fromInputUnsafe(
      options.unavailableTimeout ?? (options.postgres !== undefined ? Duration.seconds(30) : Duration.seconds(10))
    )
    const unavailable = yield* Unavailable.make(timeout)
    const sharding = yield* Layer.build(ClusterTransport.client({ membership, settings: options.settings, unavailable }))
    const sender = yield* ClusterCalls.make({
      entities: options.entities ?? (peers > 0 ? 8 * peers : 32),
      unavailable,
      durable: options.durable
    })
      .pipe(Effect.provideContext(sharding))
    return yield* ClusterPoolEngine.make(sender, {
      size: options.size ?? Math.max(1, peers) * (yield* cpuCount),
      root: TaskIdentity.normalizeRoot(options.root),
      maxChunksInFlight: options.maxChunksInFlight ?? 64
    })
  })

/**
 * Provides `WorkerPool` from `make`: the layer to provide in place of
 * `WorkerPool.layer` to run the same program on a cluster.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <E = never, R = never>(
  options: Options<E, R>
): Layer.Layer<WorkerPool.WorkerPool, Cause.IllegalArgumentError | E, R> =>
  Layer.effect(WorkerPool.WorkerPool, make(options))

/**
 * A runner: listens on `host:port`, joins the cluster, and runs the calls it
 * is sent on a local `WorkerPool` built from `pool`. As a layer, it runs as
 * long as it is built: `Layer.launch(ClusterPool.runner({ ... }))` under
 * `NodeRuntime.runMain` runs until SIGTERM / SIGINT, then hands its shards off
 * (with a membership that fails over) and stops its workers.
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { Layer } from "effect"
 * import * as ClusterPool from "effect-multiprocessing/cluster"
 *
 * Layer.launch(ClusterPool.runner({
 *   port: 4000,
 *   peers: ["10.0.0.1:4000", "10.0.0.2:4000"],
 *   root: new URL(".", import.meta.url),
 *   pool: { size: 8, backend: "processes" }
 * })).pipe(NodeRuntime.runMain)
 * ```
 *
 * @since 0.1.0
 * @category runners
 */
export const runner = <E = never, R = never>(
  options: RunnerOptions<E, R>
): Layer.Layer<
  never,
  Cause.IllegalArgumentError | WorkerStartFailed | SocketServer.SocketServerError | E,
  R
> =>
  Layer.unwrap(Effect.suspend(() => {
    const self = { host: options.host ?? "127.0.0.1", port: options.port }
    if (!Number.isSafeInteger(self.port) || self.port < 1 || self.port > 65535) {
      return Effect.fail(illegal(`ClusterPool.runner: port must be an integer in 1–65535, got ${String(options.port)}`))
    }
    const membership = membershipOf(options, self)
    if (Cause.isIllegalArgumentError(membership)) return Effect.fail(membership)
    const root = TaskIdentity.normalizeRoot(options.root)
    // built in this order, torn down in reverse: the pool, then the runner's sharding, then the handlers
    return Effect.succeed(RunnerHost.layer({ root, runner: StaticMembership.formatPeer(self) }).pipe(
      Layer.provide(ClusterTransport.runner({ address: self, membership, settings: options.settings })),
      Layer.provide(WorkerPool.layer(options.pool))
    ))
  }))

/**
 * Makes the cluster-pool calls of `effect` durable under the job id `job` (a pool with `postgres`):
 * each chunk is persisted with the key `<job>/<digest of its task and items>`, runs at least once
 * even if its runner dies, and a call already answered within the retention is answered from
 * storage instead of running again, so a client that restarts and resubmits its job gets the
 * results of the chunks that had finished. A job id is 1–64 characters, without "/".
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { WorkerPool } from "effect-multiprocessing"
 * import * as ClusterPool from "effect-multiprocessing/cluster"
 * import { tasks } from "./tasks.ts"
 *
 * const nightly = WorkerPool.map(tasks.resize, images).pipe(ClusterPool.withJob("resize-2026-12-01"))
 * ```
 *
 * @since 0.1.0
 * @category durable mode
 */
export const withJob: {
  (job: string): <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E | Cause.IllegalArgumentError, R>
  <A, E, R>(effect: Effect.Effect<A, E, R>, job: string): Effect.Effect<A, E | Cause.IllegalArgumentError, R>
} = ((...args: Array<any>) => {
  const wrap = <A, E, R>(effect: Effect.Effect<A, E, R>, job: string) =>
    Durable.isValidJobId(job)
      ? Durable.withJob(effect, job)
      : Effect.fail(illegal(`ClusterPool.withJob: a job id is 1–${Durable.MAX_JOB_ID_LENGTH} characters without "/", got ${JSON.stringify(job)}`))
  return args.length === 1 ? (effect: Effect.Effect<any, any, any>) => wrap(effect, args[0]) : wrap(args[0], args[1])
}) as any
