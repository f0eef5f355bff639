/**
 * The benchmark of issues 5 and 13: every scenario against every peer, in one
 * run, and the targets of both issues judged from its tables.
 *
 *   npm run bench                  # the full run (about 11 minutes on 2 cores); writes docs/benchmarks.{md,svg}
 *   BENCH_QUICK=1 npm run bench    # a smoke run: fewer repetitions, smaller sizes; prints only
 *   BENCH_QUICK=1 BENCH_ONLY=2,first-call npm run bench   # a quick check of a few scenarios
 *
 * Method: for each scenario, every contender's pool is started, warmed up
 * once, then measured `reps` times, interleaved (each repetition runs every
 * contender once, in a rotated order), with a full GC before each run. The
 * tables show medians, the ratio of ours to each peer, and paired ratios
 * (each run of ours against the peer's run in the same repetition), oriented
 * so that > 1 means ours is ahead. Results are checked after each run
 * (outside the timing): a pool that returns a wrong result fails its row.
 *
 * One file per scenario in bench/scenarios/, over the harness in bench/lib/
 * (config, interleave, pools, results, report, targets, findings, markdown,
 * chart). This file only runs them and writes the report.
 *
 * Environment: BENCH_QUICK=1 (smoke run), BENCH_ONLY=1,round-trip (only these
 * scenarios, by number or name; prints only), BENCH_WRITE=1 (write the docs
 * from a quick or partial run anyway). A partial run still lists every
 * target; those whose tables it lacks read "not measured in this run". A
 * scenario that throws is reported and skipped (the run exits with 1 and, unless
 * BENCH_WRITE=1, writes no docs).
 *
 * To compare two checkouts of this package on the tiny-task scenarios (1 and
 * 2), run by run in lock-step: bench/ab-pair.ts.
 */
import * as Fs from "node:fs"
import * as Url from "node:url"
import { chart } from "./lib/chart.ts"
import { log, ONLY, QUICK, SIZE, WRITE } from "./lib/config.ts"
import * as Load from "./lib/load.ts"
import { machine } from "./lib/machine.ts"
import { markdown } from "./lib/markdown.ts"
import * as Python from "./lib/python.ts"
import { beginScenario } from "./lib/results.ts"
import type { Scenario } from "./lib/scenario.ts"
import { sleep } from "./lib/stats.ts"
import { evaluateTargets, ISSUES, markOf } from "./lib/targets.ts"
import { describe } from "./lib/timeout.ts"
import { burst } from "./scenarios/burst.ts"
import { cpuBound } from "./scenarios/cpu-bound.ts"
import { firstCall } from "./scenarios/first-call.ts"
import { payloads } from "./scenarios/payloads.ts"
import { roundTrip } from "./scenarios/round-trip.ts"
import { seed } from "./scenarios/seed.ts"
import { sharedMap } from "./scenarios/shared-map.ts"
import { startup } from "./scenarios/startup.ts"
import { cluster } from "./scenarios/cluster.ts"

/** Every scenario, in order. */
const scenarios: ReadonlyArray<Scenario> = [burst, roundTrip, seed, cpuBound, payloads, startup, sharedMap, firstCall, cluster]

const selected = (scenario: Scenario) =>
  ONLY === undefined || ONLY.includes(String(scenario.number)) || ONLY.includes(scenario.name)

const main = async () => {
  const unknown = (ONLY ?? []).filter((s) => !scenarios.some((x) => String(x.number) === s || x.name === s))
  if (unknown.length > 0) {
    log(`BENCH_ONLY: no scenario ${unknown.join(", ")} (${scenarios.map((s) => `${s.number} ${s.name}`).join(", ")})`)
    process.exit(2)
  }
  const began = performance.now()
  const overall = Load.watch()
  const py = await Python.start(SIZE).catch((error) => {
    log(`python3 did not start (${describe(error)}): Python rows skipped`)
    return undefined
  })
  const m = machine(py)
  log(`effect-multiprocessing benchmark${QUICK ? " (BENCH_QUICK: smoke run)" : ""}`)
  log(`${m.cpu}; Node.js ${m.node}; Python ${m.python}; pool size ${SIZE}`)
  if (!py) log(`python3 not found: Python rows are skipped`)
  /** Scenarios that threw: the run goes on, their targets read "not measured in this run". */
  const failed: Array<string> = []
  for (const scenario of scenarios) {
    if (!selected(scenario)) continue
    beginScenario()
    const t = performance.now()
    try {
      await scenario.run(py)
    } catch (error) {
      failed.push(`scenario ${scenario.number} (${scenario.name}): ${describe(error)}`)
      log(`  ! scenario ${scenario.number} failed: ${describe(error)}`)
    }
    log(`  (scenario ${scenario.number}: ${Math.round((performance.now() - t) / 1000)} s)`)
  }
  const overallLoad = overall.stop()
  await py?.close()
  const seconds = (performance.now() - began) / 1000
  const targets = evaluateTargets()
  for (const issue of ISSUES) {
    console.log(`\nTargets of issue ${issue} (ratios measured in this run)`)
    for (const t of targets.filter((t) => t.issue === issue)) {
      console.log(`  [${markOf(t)}] scenario ${t.scenario}: ${t.target}: ${t.measured}`)
    }
  }
  console.log(`\nMachine: ${m.cpu}, ${m.memory}, ${m.os}; Node.js ${m.node}; Python ${m.python}`)
  console.log(`Packages: ${m.packages.join(", ")}; effect-multiprocessing at commit ${m.revision}`)
  console.log(`Total time: ${Math.round(seconds)} s`)
  if (overallLoad !== undefined) {
    console.log(`Other processes used ${Math.round(overallLoad * 100)}% of the machine's CPU time during the run`)
  }
  for (const f of failed) console.log(`FAILED: ${f}`)
  // a full run with a failed scenario writes no docs unless asked to (BENCH_WRITE=1)
  if (WRITE && (failed.length === 0 || process.env.BENCH_WRITE === "1")) {
    const docs = Url.fileURLToPath(new URL("../docs/", import.meta.url))
    Fs.writeFileSync(`${docs}benchmarks.md`, markdown(m, scenarios, targets, seconds, overallLoad))
    Fs.writeFileSync(`${docs}benchmarks.svg`, chart(overallLoad))
    console.log(`Wrote docs/benchmarks.md and docs/benchmarks.svg`)
  } else {
    console.log(`(${failed.length > 0 ? "a scenario failed" : "quick or partial run"}: docs not written; BENCH_WRITE=1 to write them anyway)`)
  }
  // a pool that failed to close (poolifier, see lib/contenders.ts) must not keep the process alive
  await sleep(100)
  process.exit(failed.length === 0 ? 0 : 1)
}

await main()
