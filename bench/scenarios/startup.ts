/** Scenario 6: start-up to the first result of a new pool, and memory per worker. */
import * as ChildProcess from "node:child_process"
import * as Url from "node:url"
import { config, log, MiB, SIZE } from "../lib/config.ts"
import * as C from "../lib/contenders.ts"
import { type Entry, interleave } from "../lib/interleave.ts"
import { assert } from "../lib/pools.ts"
import * as Python from "../lib/python.ts"
import { emit } from "../lib/results.ts"
import type { Scenario } from "../lib/scenario.ts"
import { fmt, median } from "../lib/stats.ts"

const title = "start-up and memory"

const kinds = C.peers.filter((k) => k.id !== "raw1" && k.id !== "piscina64")

type Memory = { pss: number; rss: number }

const startEntry = (kind: C.Kind<any>, label: string): Entry => ({
  key: kind.id,
  label,
  run: async () => {
    const pool = await kind.start(SIZE)
    const value = await pool.first()
    return { pool, value }
  },
  check: (out: { value: number }) => assert(out.value === 3, `first result ${out.value}`),
  metric: (ms) => ms,
  after: (out: { pool: C.Contender }) => out.pool.close()
})

/** Start-up; Python's runs also report its workers' memory, collected into `pythonMemory`. */
const measureStartup = async (py: Python.Python | undefined, pythonMemory: Array<Memory>) => {
  const entries: Array<Entry> = [
    startEntry(C.ours, `${C.ours.label}: WorkerPool.make, then apply`),
    ...kinds.map((k) => startEntry(k, k.id === "raw" ? `raw worker_threads (${SIZE} new Worker, then postMessage)` : k.label)),
    startEntry(C.rawCompileCache, `raw worker_threads with Node's compile cache (NODE_COMPILE_CACHE, as ours sets it)`),
    ...[C.bareWorker, C.bareEffectWorker, C.bareTasksWorker].map((k) => startEntry(k, `${SIZE} × ${k.label}`))
  ]
  if (py) {
    entries.push({
      key: "python",
      label: `${Python.label(py)}: Pool(${SIZE}), then apply`,
      note: "timed inside Python",
      run: () => py.request({ op: "startup", size: SIZE }),
      metric: (_, out) => {
        pythonMemory.push({ pss: out.pss_kib * 1024, rss: out.rss_kib * 1024 })
        return out.seconds * 1000
      }
    })
  }
  const series = await interleave("scenario 6 (start-up)", entries)
  emit({
    id: "s6-startup",
    title: `Scenario 6a: start-up to first result (a pool of ${SIZE} workers, then add(1, 2))`,
    unit: "ms",
    better: "lower",
    reference: "ours",
    rows: series,
    // the like-for-like raw reference uses the compile cache too
    pairs: [{ ours: "ours", baseline: "raw-cc" }, { ours: "ours", baseline: "raw" }]
  })
}

const probe = Url.fileURLToPath(new URL("../memory-probe.ts", import.meta.url))

const probeEntry = (id: string, label: string): Entry => ({
  key: id,
  label,
  run: () =>
    new Promise<Record<string, number>>((resolve, reject) => {
      ChildProcess.execFile(process.execPath, [probe, id, String(SIZE)], { timeout: 60_000 }, (error, stdout) => {
        if (error) reject(error)
        else resolve(JSON.parse(stdout.trim().split("\n").pop()!))
      })
    }),
  metric: (_, out) => out.perWorkerBytes / MiB
})

/** Memory per worker, each measured in a fresh process; Python's from its start-up runs. */
const measureMemory = async (py: Python.Python | undefined, pythonMemory: ReadonlyArray<Memory>) => {
  log(`  memory (a fresh process per measurement)`)
  const entries = [
    probeEntry("ours", C.ours.label),
    probeEntry("bare", "bare worker thread (imports nothing)"),
    probeEntry("bare-effect", "bare worker thread that imports effect"),
    ...kinds.map((k) => probeEntry(k.id, k.label))
  ]
  const series = await interleave("scenario 6 (memory)", entries, config.memoryReps)
  if (py && pythonMemory.length > 0) {
    series.push({
      key: "python",
      label: `${Python.label(py)}: one worker process (PSS)`,
      note: `proportional set size of each worker process (pages shared with the parent after fork counted in part); RSS ${
        fmt(median(pythonMemory.map((m) => m.rss)) / MiB)
      } MiB. Not comparable one to one with a thread's RSS growth.`,
      samples: pythonMemory.map((m) => m.pss / MiB)
    })
  }
  emit({
    id: "s6-memory",
    title: `Scenario 6b: memory per worker (process RSS growth ÷ ${SIZE} after every worker ran tasks)`,
    unit: "MiB",
    better: "lower",
    reference: "ours",
    rows: series,
    pairs: [{ ours: "ours", baseline: "bare-effect" }],
    notes: [
      "Measured in a fresh Node.js process per run (`bench/memory-probe.ts`), with a full GC before each reading."
    ]
  })
}

const run = async (py: Python.Python | undefined) => {
  log(`\nScenario 6: ${title}`)
  const pythonMemory: Array<Memory> = []
  await measureStartup(py, pythonMemory)
  await measureMemory(py, pythonMemory)
}

export const startup: Scenario = {
  number: 6,
  name: "startup",
  title,
  tables: ["s6-startup", "s6-memory"],
  method: () =>
    `Start-up: from nothing to the first result of a new pool (workers spawned, worker code loaded, one \`add\`), closed
afterwards outside the timing. Each new worker thread loads its modules afresh: effect's RPC pool imports effect in
every worker; ours does not for a task module of plain functions (it loads effect when a task returns an Effect or a
module declares a layer), and its workers start with Node's on-disk compile cache on, so the benchmark runs (all
from \`.ts\` sources) give it the compiled and type-stripped modules of an earlier run; the raw row with the compile
cache gets the same (the strongest baseline: the first paired ratio is against it).`,
  run
}
