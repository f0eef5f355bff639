/**
 * Scenario 6, memory: run by `bench/run.ts` in a fresh Node.js process per
 * measurement, so that nothing else lives in the heap being measured.
 *
 *   node bench/memory-probe.ts <kind> <size>
 *
 * Loads every module first, then measures the process RSS before starting a
 * pool of `size` workers and after each worker has run tasks (a garbage
 * collection before each reading), and prints `{ "perWorkerBytes": … }`: the
 * RSS growth divided by `size`. `bare` and `bare-effect` are plain worker
 * threads (the second imports effect) that answer one message each.
 */
import {
  bareEffectWorker,
  bareWorker,
  effectRpc,
  type Kind,
  ours,
  piscina,
  poolifier,
  rawPipelined,
  tinypool,
  workerpoolKind
} from "./lib/contenders.ts"
import { gc, sleep } from "./lib/stats.ts"

const [kindId = "ours", sizeArg = "2"] = process.argv.slice(2)
const size = Number(sizeArg)

const kinds: Record<string, Kind> = {
  ours,
  raw: rawPipelined,
  piscina,
  poolifier,
  tinypool,
  workerpool: workerpoolKind,
  rpc: effectRpc,
  bare: bareWorker,
  "bare-effect": bareEffectWorker
}

const settle = async () => {
  gc()
  await sleep(200)
  gc()
}

const kind = kinds[kindId]
if (kind === undefined) throw new Error(`unknown kind ${kindId}`)
await settle()
const before = process.memoryUsage.rss()
const pool = await kind.start(size)
// every worker runs tasks: 4 per worker, ~10 ms each
await pool.cpu(Array.from({ length: 4 * size }, (_, i) => i), 5_000_000)
await settle()
const after = process.memoryUsage.rss()
process.stdout.write(JSON.stringify({ kind: kindId, size, before, after, perWorkerBytes: (after - before) / size }) + "\n")
await Promise.race([pool.close(), sleep(3_000)])
process.exit(0)
