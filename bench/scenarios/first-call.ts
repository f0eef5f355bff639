/**
 * Scenario 8: the first call after `make` ("ready means ready"), against a
 * later call of the same pool, for a task module of plain functions and one
 * that uses effect, with and without `preload`.
 *
 * Each run is a fresh Node.js process (this file, run with `probe`): the
 * caller's code is as cold as in a user's program, and the task module is
 * imported by the caller before the timing starts (as a program's imports
 * are). In the process: `make`, the first `apply`, then `LATER_CALLS` more,
 * one at a time.
 */
import * as ChildProcess from "node:child_process"
import * as Url from "node:url"
import { config, log, SIZE } from "../lib/config.ts"
import { type Entry, interleave } from "../lib/interleave.ts"
import type { Series } from "../lib/report.ts"
import { emit } from "../lib/results.ts"
import type { Scenario } from "../lib/scenario.ts"
import { fmtRatio, fmtSummary, median, summarize } from "../lib/stats.ts"

const title = "the first call after make"

/** Calls after the first, one at a time: "a later call" is their median. */
const LATER_CALLS = 20

const modules = {
  plain: { url: new URL("../tasks.ts", import.meta.url).href, label: "plain functions" },
  effect: { url: new URL("../effect-tasks.ts", import.meta.url).href, label: "Effect tasks (imports effect)" }
} as const
type Module = keyof typeof modules

/** What one probe process measured (ms). */
interface Probe {
  readonly make: number
  readonly first: number
  readonly later: ReadonlyArray<number>
}

// -- the probe: one fresh process, one pool ---------------------------------------------

const probe = async (which: Module, preload: boolean): Promise<Probe> => {
  const { Effect } = await import("effect")
  const { WorkerPool } = await import("../../src/index.ts")
  const { tasks } = await import(modules[which].url)
  return Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const t0 = performance.now()
    const pool = yield* WorkerPool.make({ size: SIZE, preload: preload ? [tasks] : undefined })
    const t1 = performance.now()
    const value = yield* pool.apply(tasks.add, [1, 2])
    const t2 = performance.now()
    if (value !== 3) throw new Error(`first result ${value}`)
    const later: Array<number> = []
    for (let i = 0; i < LATER_CALLS; i++) {
      const t = performance.now()
      yield* pool.apply(tasks.add, [i, 1])
      later.push(performance.now() - t)
    }
    return { make: t1 - t0, first: t2 - t1, later }
  })))
}

const self = Url.fileURLToPath(import.meta.url)

if (import.meta.main && process.argv[2] === "probe") {
  const result = await probe(process.argv[3] as Module, process.argv[4] === "preload")
  console.log(JSON.stringify(result))
}

/** Runs one probe process. */
const runProbe = (which: Module, preload: boolean): Promise<Probe> =>
  new Promise((resolve, reject) => {
    ChildProcess.execFile(
      process.execPath,
      [self, "probe", which, preload ? "preload" : "lazy"],
      { timeout: config.runTimeoutMs },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${error.message}\n${stderr}`))
        else resolve(JSON.parse(stdout.trim().split("\n").pop()!))
      }
    )
  })

// -- the scenario ---------------------------------------------------------------------------

const configs = (["plain", "effect"] as const).flatMap((which) =>
  [false, true].map((preload) => ({
    which,
    preload,
    key: `${which}${preload ? "-preload" : ""}`,
    label: `${modules[which].label}, ${preload ? "preload: [tasks]" : "no preload"}`
  }))
)

const run = async () => {
  log(`\nScenario 8: ${title}`)
  /** Every kept run's probe, by config key, in the order of its series' samples. */
  const probes = new Map<string, Array<Probe>>(configs.map((c) => [c.key, []]))
  const entries: Array<Entry> = configs.map((c) => ({
    key: c.key,
    label: c.label,
    run: () => runProbe(c.which, c.preload),
    metric: (_, out: Probe) => {
      probes.get(c.key)!.push(out)
      return out.first
    }
  }))
  const first = await interleave("scenario 8", entries)
  /** The same runs, another metric: a series per config, in the same repetitions as `first`. */
  const derived = (metric: (p: Probe) => number): Array<Series> =>
    first.map((s) => ({ ...s, samples: probes.get(s.key)!.map(metric), rounds: s.rounds }))
  const laterOf = (p: Probe) => median(p.later)
  const ratios = derived((p) => p.first / laterOf(p))
  emit({
    id: "s8-first",
    title: `Scenario 8a: the first call after make (a pool of ${SIZE}, then add(1, 2); a fresh process per run)`,
    unit: "ms",
    better: "lower",
    reference: "effect-preload",
    rows: first,
    pairs: [{ ours: "effect-preload", baseline: "effect" }, { ours: "plain-preload", baseline: "plain" }],
    notes: [`Later calls of the same pools (median of ${LATER_CALLS} per run): ${
      configs.map((c) => `${c.key} ${fmtMs(median(probes.get(c.key)!.map(laterOf)))}`).join(", ")
    }.`]
  })
  emit({
    id: "s8-ratio",
    title: `Scenario 8b: first call ÷ a later call of the same pool (the median of the next ${LATER_CALLS}), run by run`,
    unit: "×",
    better: "lower",
    reference: "effect-preload",
    rows: ratios,
    notes: [
      `Target: ≤ 1.2× with preload. ${
        ratios.map((s) => `${s.key}: ${fmtSummary(summarize(s.samples))}`).join("; ")
      } (median (min–max) of first ÷ later, each run against itself).`
    ]
  })
  emit({
    id: "s8-ready",
    title: `Scenario 8c: make, then the first result (what preload moves into make, and what it costs overall)`,
    unit: "ms",
    better: "lower",
    reference: "effect-preload",
    rows: derived((p) => p.make + p.first),
    pairs: [{ ours: "effect-preload", baseline: "effect" }, { ours: "plain-preload", baseline: "plain" }]
  })
  for (const s of ratios) log(`  ${s.key}: first ÷ later ${fmtRatio(median(s.samples))}`)
}

const fmtMs = (ms: number) => `${ms < 1 ? ms.toFixed(3) : ms.toFixed(2)} ms`

export const firstCall: Scenario = {
  number: 8,
  name: "first-call",
  title,
  tables: ["s8-first", "s8-ratio", "s8-ready"],
  method: () =>
    `The first call after \`WorkerPool.make\` against later calls of the same pool, for a task module of plain
functions (bench/tasks.ts) and one that imports effect and returns Effects (bench/effect-tasks.ts), with and without
\`preload\`. Each run is a fresh Node.js process, so the caller's code is as cold as in a user's program; the task
module is imported by the caller before the timing starts. Without \`preload\` a worker imports the task module on its
first call (effect's module graph, for the second); with it, \`make\` returns once every worker has loaded it (and
readied its own use of effect), so the first call pays no import. "A later call" is the median of the next
${LATER_CALLS} calls of the same pool, one at a time; the ratio first ÷ later is taken run by run.`,
  run
}
