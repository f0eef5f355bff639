/** Scenario 5: 64 × 8 MiB typed arrays, copied or transferred both ways. */
import { config, log, MiB, SIZE } from "../lib/config.ts"
import * as C from "../lib/contenders.ts"
import { type Entry, interleave } from "../lib/interleave.ts"
import { assert, guarded, type Started, startAll } from "../lib/pools.ts"
import * as R from "../lib/report.ts"
import * as Data from "../lib/data.ts"
import { emit } from "../lib/results.ts"
import type { Scenario } from "../lib/scenario.ts"
import { fmtRatio } from "../lib/stats.ts"
import * as Work from "../work.ts"

const title = "large payloads"

const kinds = C.peers.filter((k) => k.id !== "piscina64")

/** The sequential row, then every pool copying, then every pool transferring (keys `<id>-copy`, `<id>-transfer`). */
const entriesOf = (pools: Started<C.Contender>): Array<Entry> => {
  const { payloadBytes: bytes, payloadCount: count } = config
  const prepare = () => Data.payloads(count, bytes)
  const check = (out: ReadonlyArray<C.Floats>) => {
    assert(out.length === count, `${out.length} arrays`)
    for (let k = 0; k < count; k++) {
      const a = out[k]
      assert(a.length === bytes / 8 && a[0] === 2 * k + 1 && a[a.length - 1] === 2 * k + 1, `array ${k}`)
    }
  }
  const gbPerSecond = (ms: number) => (count * bytes) / 1e9 / (ms / 1000)
  const entry = (id: string, key: string, label: string, transfer: boolean, note?: string) =>
    guarded<C.Contender>(pools, id, (pool) => ({
      key,
      label,
      note,
      prepare,
      run: (arrays: Array<C.Floats>) => pool.payload(arrays, transfer),
      check,
      metric: gbPerSecond
    }))(id === "ours" ? C.ours.label : label)
  const entries: Array<Entry> = [{
    key: "seq",
    label: "sequential (main thread, in place)",
    prepare,
    run: async (arrays: Array<C.Floats>) => arrays.map(Work.scale),
    check,
    metric: gbPerSecond
  }]
  for (const transfer of [false, true]) {
    const mode = transfer ? "transfer" : "copy"
    entries.push(
      entry("ours", `ours-${mode}`, `${C.ours.label}: apply${transfer ? " { transfer }, Task.transfer result" : ""}`, transfer),
      ...kinds.map((kind) =>
        entry(
          kind.id,
          `${kind.id}-${mode}`,
          kind.label,
          transfer,
          transfer && kind.id === "poolifier"
            ? "poolifier cannot transfer a result back: arguments are transferred, results copied"
            : undefined
        )
      )
    )
  }
  return entries
}

const run = async () => {
  log(`\nScenario 5: ${title}`)
  const pools = await startAll<C.Kind<any>>([C.ours, ...kinds])
  const series = await interleave("scenario 5", entriesOf(pools))
  await pools.closeAll()
  const result: Record<"copy" | "transfer", Array<R.Series>> = { copy: [], transfer: [] }
  const seq = series[0]
  for (const s of series.slice(1)) {
    const mode = s.key.endsWith("-transfer") ? "transfer" : "copy"
    result[mode].push({ ...s, key: s.key.replace(/-(copy|transfer)$/, "") })
  }
  const copyOf = (key: string) => R.med(result.copy.find((s) => s.key === key))
  const size = `${config.payloadCount} × ${config.payloadBytes / MiB} MiB Float64Array`
  emit({
    id: "s5-copy",
    title: `Scenario 5a: ${size}, processed (x → 2x + 1) and returned, copied both ways, pool size ${SIZE}`,
    unit: "GB/s",
    better: "higher",
    reference: "ours",
    rows: [seq, ...result.copy],
    pairs: [{ ours: "ours", baseline: "raw" }],
    notes: ["GB/s: bytes of input processed per second (10⁹ bytes)."]
  })
  emit({
    id: "s5-transfer",
    title: `Scenario 5b: ${size}, processed and returned, transferred both ways, pool size ${SIZE}`,
    unit: "GB/s",
    better: "higher",
    reference: "ours",
    rows: [seq, ...result.transfer],
    extra: {
      header: "transfer ÷ copy",
      value: (s) => (s.key === "seq" ? "–" : fmtRatio(R.med(s) / copyOf(s.key)))
    },
    pairs: [{ ours: "ours", baseline: "raw" }],
    notes: [
      "Python is not measured here: without numpy, processing 512 MiB element by element in pure Python would time the interpreter, not the pool."
    ]
  })
}

export const payloads: Scenario = {
  number: 5,
  name: "payloads",
  title,
  tables: ["s5-copy", "s5-transfer"],
  method: () =>
    `Ours: \`apply(task, [array])\` returning the array (copied both ways), and
\`apply(task, [array], { transfer: [array.buffer] })\` returning \`Task.transfer(array, [array.buffer])\` (moved both
ways). Peers: their own transfer mechanisms (\`transferList\` and \`Piscina.move\` / \`Tinypool.move\`,
\`workerpool.Transfer\`, a \`Transferable.schema\` for effect RPC, \`postMessage(value, [buffer])\`).`,
  run
}
