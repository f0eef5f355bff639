/** Scenario 4: CPU-bound tasks, ~1.2 s of sequential work split in 64: the speedup over the loop. */
import { config, log, SIZE, thousands } from "../lib/config.ts"
import * as C from "../lib/contenders.ts"
import { type Entry, interleave } from "../lib/interleave.ts"
import { expectArray, guarded, startAll } from "../lib/pools.ts"
import * as Python from "../lib/python.ts"
import * as R from "../lib/report.ts"
import { emit } from "../lib/results.ts"
import type { Scenario } from "../lib/scenario.ts"
import { fmtRatio } from "../lib/stats.ts"
import * as Work from "../work.ts"

const title = "CPU-bound"

/** Iterations per task so that all tasks take ~cpuSeconds sequentially. */
const calibrate = () => {
  Work.cpu(1, 2_000_000)
  const t = performance.now()
  Work.cpu(2, 10_000_000)
  const nsPerIteration = ((performance.now() - t) * 1e6) / 10_000_000
  return Math.round((config.cpuSeconds * 1e9) / config.cpuTasks / nsPerIteration)
}

/** Python's loop and pool over the same computation, calibrated on its side. */
const pythonEntries = async (py: Python.Python): Promise<Array<Entry>> => {
  const pyIterations =
    (await py.request({ op: "cpu_calibrate", target_seconds: config.cpuSeconds, tasks: config.cpuTasks })).iterations
  return [false, true].map((parallel) => ({
    key: parallel ? "py-pool" : "py-sequential",
    label: `${Python.label(py)}: ${parallel ? "starmap (default chunksize)" : "sequential (for loop)"}`,
    note: `the same computation in pure Python, with ${thousands(pyIterations)} iterations per task ` +
      `(calibrated to ~${config.cpuSeconds} s sequential, as the Node.js side): compare speedups, not times`,
    run: () => py.request({ op: "cpu", tasks: config.cpuTasks, iterations: pyIterations, parallel }),
    metric: (_, out) => out.seconds * 1000
  }))
}

const run = async (py: Python.Python | undefined) => {
  log(`\nScenario 4: ${title}`)
  const iterations = calibrate()
  const seeds = Array.from({ length: config.cpuTasks }, (_, i) => i + 1)
  const check = expectArray(seeds.map((seed) => Work.cpu(seed, iterations)))
  const kinds = C.peers.filter((k) => k.id !== "raw1")
  const pools = await startAll<C.Kind<any>>([C.ours, ...kinds])
  const warmSeeds = seeds.slice(0, 2 * SIZE)
  const oursEntry = (key: string, label: string, run: (pool: C.Ours, seeds: ReadonlyArray<number>) => Promise<any>) =>
    guarded<C.Ours>(pools as any, "ours", (pool) => ({
      key,
      label,
      run: () => run(pool, seeds),
      check,
      metric: (ms) => ms,
      warm: () => run(pool, warmSeeds)
    }))(C.ours.label)
  const entries: Array<Entry> = [
    {
      key: "seq",
      label: "sequential (main thread)",
      run: async () => seeds.map((seed) => Work.cpu(seed, iterations)),
      check,
      metric: (ms) => ms
    },
    oursEntry("ours", `${C.ours.label}: Effect.forEach(apply), unbounded`, (p, s) => p.cpu(s, iterations)),
    oursEntry("oursStarmap", `${C.ours.label}: starmap (default chunksize)`, (p, s) => p.cpuStarmap(s, iterations)),
    ...kinds.map((kind) =>
      guarded<C.Contender>(pools, kind.id, (pool) => ({
        key: kind.id,
        label: kind.label,
        run: () => pool.cpu(seeds, iterations),
        check,
        metric: (ms) => ms,
        warm: () => pool.cpu(warmSeeds, iterations)
      }))(kind.label)
    ),
    ...(py ? await pythonEntries(py) : [])
  ]
  const series = await interleave("scenario 4", entries)
  await pools.closeAll()
  const seqJs = R.med(series.find((s) => s.key === "seq"))
  const seqPy = R.med(series.find((s) => s.key === "py-sequential"))
  emit({
    id: "s4",
    title: `Scenario 4: CPU-bound, ${config.cpuTasks} tasks of integer math (~${config.cpuSeconds} s sequential), pool size ${SIZE}`,
    unit: "ms",
    better: "lower",
    reference: "ours",
    rows: series,
    extra: {
      header: "speedup over sequential",
      value: (s) =>
        s.key === "seq" || s.key === "py-sequential"
          ? "1"
          : fmtRatio((s.key.startsWith("py-") ? seqPy : seqJs) / R.med(s))
    },
    pairs: [
      { ours: "ours", baseline: "raw" },
      { ours: "oursStarmap", baseline: "raw" },
      { ours: "ours", baseline: "seq" },
      { ours: "oursStarmap", baseline: "seq" }
    ],
    notes: [`${thousands(iterations)} iterations per task; the ideal speedup is ${SIZE}× (the pool size).`]
  })
}

export const cpuBound: Scenario = {
  number: 4,
  name: "cpu-bound",
  title,
  tables: ["s4"],
  method: () =>
    `${config.cpuTasks} tasks of a pure integer hash chain (\`bench/work.ts\` \`cpu\`), all submitted at once. The paired
ratio against the loop is the speedup, run by run.`,
  run
}
