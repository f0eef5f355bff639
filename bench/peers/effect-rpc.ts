/**
 * effect's own worker pool: the RPC group that `RpcClient.layerProtocolWorker`
 * (caller) and `RpcServer.layerProtocolWorkerRunner` (worker) speak.
 */
import { Schema } from "effect"
import { Rpc, RpcGroup } from "effect/rpc"
import * as Transferable from "effect/workers/Transferable"

const Pair = Schema.Tuple([Schema.Number, Schema.Number])
const Rows = Schema.Array(Schema.Array(Schema.Number))
/** A `Float64Array` passed through structured clone as is (a plain schema would encode it as JSON). */
const Floats = Schema.Any as any as Schema.declare<Float64Array<ArrayBuffer>>
/** The same, with its buffer in the transfer list. */
const FloatsMoved = Transferable.schema(Floats, (values) => [values.buffer])

export class Rpcs extends RpcGroup.make(
  Rpc.make("add", { payload: { args: Pair }, success: Schema.Number }),
  Rpc.make("howManyWithinRangeRows", { payload: { rows: Rows }, success: Schema.Array(Schema.Number) }),
  Rpc.make("cpu", { payload: { args: Pair }, success: Schema.Number }),
  Rpc.make("scaleCopy", { payload: { values: Floats }, success: Floats }),
  Rpc.make("scaleTransfer", { payload: { values: FloatsMoved }, success: FloatsMoved })
) {}
