/**
 * The Effect Cluster wiring of a runner and of a client, with the spike's
 * pitfalls handled here once:
 * - every socket has Nagle's algorithm off (`noDelay`): the engine's own
 *   socket layers leave it on, and a reply then waits ~40–90 ms;
 * - the sharding settings are passed, never read from the environment
 *   (`ShardingConfig.layerFromEnv` reads `HOST`, `PORT`, `SHARDS_PER_GROUP`…,
 *   so a `PORT=8080` in a runner's environment changed its address), and the
 *   runner's address is always explicit;
 * - the client's sends are watched, so that a call whose runner cannot be
 *   reached fails after a bounded time (`unavailable.ts`) instead of being
 *   retried for ever.
 *
 * @internal
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as NodeSocketServer from "@effect/platform-node/NodeSocketServer"
import { RunnerAddress } from "effect/cluster/RunnerAddress"
import * as RunnerHealth from "effect/cluster/RunnerHealth"
import * as Runners from "effect/cluster/Runners"
import * as Sharding from "effect/cluster/Sharding"
import * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as Snowflake from "effect/cluster/Snowflake"
import * as SocketRunner from "effect/cluster/SocketRunner"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as RpcClient from "effect/rpc/RpcClient"
import * as RpcSerialization from "effect/rpc/RpcSerialization"
import { Socket } from "effect/socket/Socket"
import type * as SocketServer from "effect/socket/SocketServer"
import type { Membership, Settings } from "../../ClusterPool.ts"
import type { Peer } from "./staticMembership.ts"
import type { Unavailable } from "./unavailable.ts"


/**
 * The defaults: the engine's, with faster failure detection (its defaults
 * stall ~30 s after a runner is killed: a shard lock expires after 35 s).
 */
export const defaultSettings: Settings = {
  shardLockRefreshInterval: Duration.seconds(2),
  shardLockExpiration: Duration.seconds(6),
  runnerHealthCheckInterval: Duration.seconds(5)
}


const config = (settings: Settings | undefined, address: Option.Option<RunnerAddress>) =>
  ShardingConfig.layer({ ...defaultSettings, ...settings, runnerAddress: address, runnerListenAddress: Option.none() })

/** The socket to another runner, with `noDelay`: the engine's `layerClientProtocol`, with Nagle off. */
const clientProtocol: Layer.Layer<Runners.RpcClientProtocol, never, RpcSerialization.RpcSerialization> = Layer
  .effect(Runners.RpcClientProtocol)(
    Effect.gen(function*() {
      const serialization = yield* RpcSerialization.RpcSerialization
      return {
        codecFor: serialization.codecFor,
        make: Effect.fnUntraced(function*(address) {
          const socket = yield* NodeSocket.makeNet({
            openTimeout: 1000,
            timeout: 5500,
            host: address.host,
            port: address.port,
            noDelay: true
          })
          return yield* RpcClient.makeProtocolSocket().pipe(
            Effect.provideService(Socket, socket),
            Effect.provideService(RpcSerialization.RpcSerialization, serialization)
          )
        }, Effect.orDie)
      }
    })
  )

/**
 * The engine's RPC-backed `Runners`, whose sends report to `unavailable`
 * whether they reached a runner, and drop a connection that failed.
 */
const watchedRunners = (unavailable: Unavailable) =>
  Layer.effect(
    Runners.Runners,
    Effect.map(Runners.makeRpc, (runners): Runners.Runners["Service"] => ({
      ...runners,
      send: (options) =>
        runners.send(options).pipe(
          Effect.tapError((error) =>
            error._tag === "RunnerUnavailable"
              // drop the broken connection, so that the retry connects again (the engine drops it only when the
              // runner leaves its storage, which a static list never does: a restarted runner was never found)
              ? Effect.andThen(
                runners.onRunnerUnavailable(options.address),
                unavailable.failed(options.message.envelope.address.entityId)
              )
              : Effect.void
          ),
          Effect.tap(() => unavailable.reached(options.message.envelope.address.entityId))
        )
    }))
  ).pipe(Layer.provide(Snowflake.layerGenerator))

/** A client-only process: it sends to the runners and hosts no entity. */
export const client = <E, R>(options: {
  readonly membership: Membership<E, R>
  readonly settings: Settings | undefined
  readonly unavailable: Unavailable
}): Layer.Layer<Sharding.Sharding, E, R> =>
  Sharding.layer.pipe(
    Layer.provide(watchedRunners(options.unavailable)),
    Layer.provide(RunnerHealth.layerNoop),
    Layer.provide(clientProtocol),
    Layer.provide(options.membership),
    Layer.provide(config(options.settings, Option.none())),
    Layer.provide(RpcSerialization.layerSchemaBinary())
  )

/** A runner listening on `listen` (its address as the others reach it: explicit, never from the environment). */
export const runner = <E, R>(options: {
  readonly address: Peer
  readonly membership: Membership<E, R>
  readonly settings: Settings | undefined
}): Layer.Layer<Sharding.Sharding, E | SocketServer.SocketServerError, R> =>
  SocketRunner.layer.pipe(
    Layer.provide(NodeSocketServer.layer({ host: options.address.host, port: options.address.port, noDelay: true })),
    Layer.provide(RunnerHealth.layerPing.pipe(Layer.provide(Runners.layerRpc), Layer.provide(clientProtocol))),
    Layer.provide(clientProtocol),
    Layer.provide(options.membership),
    Layer.provide(config(options.settings, Option.some(new RunnerAddress(options.address)))),
    Layer.provide(RpcSerialization.layerSchemaBinary())
  )
