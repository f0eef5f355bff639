/** Scenario 2: the latency of one tiny task at a time, against a raw round trip with one worker. */
import { config, log, SIZE, thousands } from "../lib/config.ts"
import * as C from "../lib/contenders.ts"
import { type Entry, interleave } from "../lib/interleave.ts"
import { assert, guarded, startAll, sumOfAdds } from "../lib/pools.ts"
import * as Python from "../lib/python.ts"
import { emit } from "../lib/results.ts"
import type { Scenario } from "../lib/scenario.ts"

const title = "tiny tasks, one at a time"

/** What the machine's idle behaviour does to these figures (a note under the table and in the docs). */
export const idleNote =
  `One call at a time leaves the machine idle between messages. On a virtual machine an idle vCPU halts, and waking ` +
  `it when a message arrives takes a varying few to tens of µs, so round-trip latencies swing between runs (the ` +
  `quieter the machine, the more its vCPUs halt): read the spread (runs min–max, and the paired min–max) along ` +
  `with the medians.`

const run = async (py: Python.Python | undefined) => {
  log(`\nScenario 2: ${title}`)
  // the raw reference is one worker; round robin over the pool's workers is slower per call (kept for comparison)
  const kinds = [C.rawOneWorker, C.rawAlternating, ...C.peers.filter((k) => k.id !== "raw1" && k.id !== "raw")]
  const pools = await startAll<C.Kind<any>>([C.ours, ...kinds])
  const n = config.sequential
  const entry = (id: string, label: string) =>
    guarded<C.Contender>(pools, id, (pool) => ({
      key: id,
      label,
      run: () => pool.oneAtATime(n),
      check: (sum: number) => assert(sum === sumOfAdds(n), `sum ${sum}`),
      metric: (ms) => (ms * 1000) / n
    }))(label)
  const entries: Array<Entry> = [
    entry("ours", `${C.ours.label}: apply, awaited each time`),
    ...kinds.map((k) => entry(k.id, k.label))
  ]
  if (py) {
    entries.push({
      key: "python",
      label: `${Python.label(py)}: apply`,
      note: `${thousands(config.sequentialPython)} calls per run; timed inside Python`,
      run: () => py.request({ op: "apply_seq", n: config.sequentialPython }),
      metric: (_, out) => (out.seconds * 1e6) / config.sequentialPython
    })
  }
  const series = await interleave("scenario 2", entries)
  await pools.closeAll()
  emit({
    id: "s2",
    title: `Scenario 2: sequential round trips of a tiny task (${thousands(n)} per run), pool size ${SIZE}`,
    unit: "µs per call",
    better: "lower",
    reference: "ours",
    rows: series,
    pairs: [{ ours: "ours", baseline: "raw" }],
    notes: [idleNote]
  })
}

export const roundTrip: Scenario = {
  number: 2,
  name: "round-trip",
  title,
  tables: ["s2"],
  method: () =>
    `Each call awaited before the next is sent: the round-trip latency of one tiny task. The raw reference is one
worker answering one \`postMessage\` each way (the strongest baseline: the paired ratios are against it); the raw row
that sends the calls round robin over the pool's ${SIZE} workers is shown for comparison: each of its workers then sits idle
through the other workers' round trips before its next call, which measured 1.6–1.7× slower per call than one
worker.`,
  run
}
