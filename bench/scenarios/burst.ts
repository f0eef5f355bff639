/** Scenario 1: throughput of tiny tasks submitted all at once, against raw pipelined `postMessage`. */
import { config, log, SIZE, thousands } from "../lib/config.ts"
import * as C from "../lib/contenders.ts"
import { type Entry, interleave } from "../lib/interleave.ts"
import { assert, guarded, perSecond, startAll, sumOfAdds } from "../lib/pools.ts"
import * as Python from "../lib/python.ts"
import * as R from "../lib/report.ts"
import { emit } from "../lib/results.ts"
import type { Scenario } from "../lib/scenario.ts"

const title = "tiny tasks, burst"

const run = async (py: Python.Python | undefined) => {
  log(`\nScenario 1: ${title}`)
  const pools = await startAll<C.Kind<any>>([C.ours, ...C.peers])
  const n = config.burst
  const burstEntry = (id: string, label: string, count: number, note?: string) =>
    guarded<C.Contender>(pools, id, (pool) => ({
      key: id,
      label,
      note,
      run: () => pool.burst(count),
      check: (sum: number) => assert(sum === sumOfAdds(count), `sum ${sum}`),
      metric: perSecond(count),
      warm: () => pool.burst(Math.min(count, config.burstWarm))
    }))(label)
  const entries: Array<Entry> = [
    burstEntry("ours", `${C.ours.label}: Effect.forEach(apply), unbounded`, n),
    guarded<C.Ours>(pools as any, "ours", (pool) => ({
      key: "oursAsync",
      label: `${C.ours.label}: applyAsync, then get`,
      run: () => pool.burstAsync(n),
      check: (sum: number) => assert(sum === sumOfAdds(n), `sum ${sum}`),
      metric: perSecond(n),
      warm: () => pool.burstAsync(config.burstWarm)
    }))(`${C.ours.label}: applyAsync, then get`),
    ...C.peers.map((kind) =>
      kind.id === "rpc"
        ? burstEntry(
          kind.id,
          kind.label,
          config.burstSlow,
          `${thousands(config.burstSlow)} tasks per run instead of ${
            thousands(n)
          } (at its rate the full burst would take most of the time budget)`
        )
        : burstEntry(kind.id, kind.label, n)
    )
  ]
  if (py) {
    entries.push({
      key: "python",
      label: `${Python.label(py)}: apply_async, then get`,
      note: `${thousands(config.burstPython)} tasks per run; timed inside Python`,
      run: () => py.request({ op: "burst", n: config.burstPython }),
      metric: (_, out) => config.burstPython / out.seconds
    })
  }
  const series = await interleave("scenario 1", entries)
  await pools.closeAll()
  // piscina's better setting of the two (issue 13's target: ≥ 3× it)
  const piscinaBest = ["piscina", "piscina64"].reduce((a, b) => {
    const [x, y] = [R.med(series.find((s) => s.key === a)), R.med(series.find((s) => s.key === b))]
    return !(y <= x) ? b : a
  })
  emit({
    id: "s1",
    title: `Scenario 1: ${thousands(n)} tiny add(a, b) tasks submitted at once, pool size ${SIZE}`,
    unit: "tasks/s",
    better: "higher",
    reference: "ours",
    rows: series,
    // the strongest baseline of a burst: one raw postMessage per task, all sent at once
    pairs: [
      { ours: "ours", baseline: "raw" },
      { ours: "oursAsync", baseline: "raw" },
      { ours: "ours", baseline: piscinaBest },
      { ours: "oursAsync", baseline: piscinaBest }
    ]
  })
}

export const burst: Scenario = {
  number: 1,
  name: "burst",
  title,
  tables: ["s1"],
  method: () =>
    `Submit ${thousands(config.burst)} \`add(i, 1)\` at once and wait for all. Ours: \`Effect.forEach\` over
\`pool.apply\` with \`{ concurrency: "unbounded" }\`, and \`applyAsync\` for each then \`get\` each. Promise pools: one
\`run\` / \`execute\` / \`exec\` per task, \`Promise.all\`. Raw: one \`postMessage\` per task each way, either all at once
round robin ("pipelined", the strongest baseline: the paired ratios are against it) or with at most one task in
flight per thread.`,
  run
}
