/** The worker of effect's RPC worker pool: an `RpcServer` over `NodeWorkerRunner`. */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeWorkerRunner from "@effect/platform-node/NodeWorkerRunner"
import { Effect, Layer } from "effect"
import { RpcServer } from "effect/rpc"
import * as Work from "../work.ts"
import { Rpcs } from "./effect-rpc.ts"

const Handlers = Rpcs.toLayer({
  add: ({ args }) => Effect.succeed(Work.add(args[0], args[1])),
  howManyWithinRangeRows: ({ rows }) => Effect.succeed(Work.howManyWithinRangeRows(rows)),
  cpu: ({ args }) => Effect.succeed(Work.cpu(args[0], args[1])),
  scaleCopy: ({ values }) => Effect.succeed(Work.scale(values)),
  scaleTransfer: ({ values }) => Effect.succeed(Work.scale(values))
})

const Main = RpcServer.layer(Rpcs).pipe(
  Layer.provide(Handlers),
  Layer.provide(RpcServer.layerProtocolWorkerRunner),
  Layer.provide(NodeWorkerRunner.layer)
)

NodeRuntime.runMain(Layer.launch(Main))
