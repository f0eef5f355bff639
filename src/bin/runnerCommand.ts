/**
 * The `runner` command of the CLI (`npx effect-multiprocessing runner`), on
 * effect's own `cli` module: it starts a `ClusterPool.runner` hosting a local
 * `WorkerPool` and runs until SIGTERM / SIGINT, when it leaves the cluster
 * (handing its shards off with a membership that fails over) and stops its
 * workers.
 *
 * @internal
 */
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as ClusterPool from "../ClusterPool.ts"
import type { Options as PoolOptions } from "../PoolOptions.ts"

const optionalInt = (name: string, description: string) =>
  Flag.Int(name).pipe(Flag.withDescription(description), Flag.optional)

/** The flags of `runner`. */
export const flags = {
  port: Flag.Int("port").pipe(Flag.withDescription("the port the runner listens on")),
  host: Flag.String("host").pipe(
    Flag.withDescription("the host it listens on, and the others reach it by"),
    Flag.withDefault("127.0.0.1")
  ),
  peers: Flag.String("peers").pipe(
    Flag.withDescription("static membership: every runner's host:port, comma-separated (this one may be among them)"),
    Flag.optional
  ),
  postgres: Flag.Redacted("postgres").pipe(
    Flag.withDescription(
      "Postgres membership (failover, durable mode): the database URL, the same on every process; or set " +
        "EFFECT_MP_POSTGRES_URL (a URL with a password is then not visible in the process list)"
    ),
    Flag.withFallbackConfig(Config.Redacted("EFFECT_MP_POSTGRES_URL")),
    Flag.optional
  ),
  root: Flag.Directory("root").pipe(
    Flag.withDescription("the directory the task modules are found under (default: the working directory)"),
    Flag.optional
  ),
  size: optionalInt("size", "the runner's workers (default: its CPU count)"),
  backend: Flag.Literals("backend", ["threads", "processes"]).pipe(
    Flag.withDescription("worker threads or child processes"),
    Flag.withDefault("threads")
  ),
  maxTasksPerWorker: optionalInt("max-tasks-per-worker", "replace a worker after that many tasks"),
  maxQueue: optionalInt("max-queue", "the most tasks that may wait for a worker"),
  maxHeapPerWorkerMb: optionalInt("max-heap-mb", "each worker's heap limit, in MiB"),
  cancelGracePeriodMs: optionalInt("cancel-grace-period-ms", "how long a cancelled task may take to stop (ms)"),
  startTimeoutMs: optionalInt("start-timeout-ms", "how long a worker may take to start (ms)"),
  shardsPerGroup: optionalInt("shards-per-group", "shards per group: the same on every process of the cluster")
} as const

type Parsed = {
  readonly [K in keyof typeof flags]: (typeof flags)[K] extends Flag.Flag<infer A> ? A : never
}

/** The runner's options from the parsed flags. */
export const runnerOptions = (parsed: Parsed): ClusterPool.RunnerOptions => {
  const value = <A>(option: Option.Option<A>) => Option.getOrUndefined(option)
  const pool: PoolOptions = {
    size: value(parsed.size),
    backend: parsed.backend,
    maxTasksPerWorker: value(parsed.maxTasksPerWorker),
    maxQueue: value(parsed.maxQueue),
    maxHeapPerWorkerMb: value(parsed.maxHeapPerWorkerMb),
    cancelGracePeriod: Option.map(parsed.cancelGracePeriodMs, Duration.millis).pipe(Option.getOrUndefined),
    startTimeout: Option.map(parsed.startTimeoutMs, Duration.millis).pipe(Option.getOrUndefined)
  }
  return {
    host: parsed.host,
    port: parsed.port,
    peers: Option.map(parsed.peers, (peers) => peers.split(",").map((peer) => peer.trim()).filter((peer) => peer !== ""))
      .pipe(Option.getOrUndefined),
    postgres: value(parsed.postgres),
    root: value(parsed.root),
    pool,
    settings: Option.isSome(parsed.shardsPerGroup) ? { shardsPerGroup: parsed.shardsPerGroup.value } : undefined
  }
}

/** `runner`: starts a runner and runs until interrupted. */
export const runner = Command.make("runner", flags, (parsed) =>
  Effect.gen(function*() {
    const options = runnerOptions(parsed)
    yield* Effect.logInfo(
      `effect-multiprocessing runner on ${options.host}:${options.port} (${options.pool?.backend}, ${
        options.pool?.size ?? "one per CPU"
      } workers)`
    )
    return yield* Layer.launch(ClusterPool.runner(options))
  })).pipe(Command.withDescription("start a runner of a ClusterPool, hosting a local WorkerPool"))

/** The CLI: `effect-multiprocessing <command>`. */
export const cli = Command.make("effect-multiprocessing").pipe(
  Command.withDescription("Python's multiprocessing.Pool for Effect: the cluster runner"),
  Command.withSubcommands([runner])
)
