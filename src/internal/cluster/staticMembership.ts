/**
 * Membership from a fixed list of runners, with no database: a
 * `RunnerStorage` that always returns the same runners (each healthy) and
 * grants every shard asked for, and no message storage. Every process (the
 * runners and the clients) is given the same list, so each computes the same
 * shard assignment. There is no failover: the calls for a runner that is down
 * wait until it is back, or until the client's `unavailableTimeout`.
 *
 * @internal
 */
import * as MachineId from "effect/cluster/MachineId"
import * as MessageStorage from "effect/cluster/MessageStorage"
import { Runner } from "effect/cluster/Runner"
import { RunnerAddress } from "effect/cluster/RunnerAddress"
import * as RunnerStorage from "effect/cluster/RunnerStorage"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** A runner's address, as given: `host:port`. */
export interface Peer {
  readonly host: string
  readonly port: number
}

/** Parses `host:port` (an IPv6 host in brackets: `[::1]:4000`). */
export const parsePeer = (text: string): Peer | undefined => {
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(text.trim())
  if (match === null) return undefined
  const port = Number(match[2])
  return port >= 1 && port <= 65535 ? { host: match[1], port } : undefined
}

/** `host:port`, as `parsePeer` reads it. */
export const formatPeer = (peer: Peer): string => peer.host.includes(":") ? `[${peer.host}]:${peer.port}` : `${peer.host}:${peer.port}`

/** The peers without duplicates, in a fixed order (every process must see the same list). */
export const normalizePeers = (peers: ReadonlyArray<Peer>): Array<Peer> => {
  const byKey = new Map(peers.map((peer) => [formatPeer(peer), peer]))
  return [...byKey.keys()].sort().map((key) => byKey.get(key)!)
}

/** The static `RunnerStorage` over `peers`. */
export const runnerStorage = (peers: ReadonlyArray<Peer>): Layer.Layer<RunnerStorage.RunnerStorage> => {
  const sorted = normalizePeers(peers)
  const runners = sorted.map((peer) =>
    [new Runner({ address: new RunnerAddress(peer), groups: ["default"], weight: 1 }), true] as const
  )
  const indexOf = (address: RunnerAddress) =>
    sorted.findIndex((peer) => peer.host === address.host && peer.port === address.port)
  return Layer.succeed(RunnerStorage.RunnerStorage)(RunnerStorage.RunnerStorage.of({
    getRunners: Effect.sync(() => runners.map(([runner, healthy]) => [runner, healthy] as const)),
    // a machine id unique among the runners (it seeds their snowflake ids): the runner's place in the list
    register: (runner) => Effect.succeed(MachineId.make(Math.max(0, indexOf(runner.address)))),
    unregister: () => Effect.void,
    setRunnerHealth: () => Effect.void,
    acquire: (_address, shardIds) => Effect.succeed(Array.from(shardIds)),
    refresh: (_address, shardIds) => Effect.succeed(Array.from(shardIds)),
    release: () => Effect.void,
    releaseAll: () => Effect.void
  }))
}

/** Static membership: the runner storage over `peers` and no message storage (volatile calls only). */
export const layer = (
  peers: ReadonlyArray<Peer>
): Layer.Layer<RunnerStorage.RunnerStorage | MessageStorage.MessageStorage> =>
  Layer.merge(runnerStorage(peers), MessageStorage.layerNoop)
