/**
 * The bench's target judging (bench/lib/targets.ts) and its findings
 * (bench/lib/findings.ts) on synthetic tables: no workers, no timing.
 */
import { assert, describe, it } from "@effect/vitest"
import { findings } from "../bench/lib/findings.ts"
import type { Series, Table } from "../bench/lib/report.ts"
import { evaluateTargets, NOT_MEASURED, type Target } from "../bench/lib/targets.ts"

/** A row measured in repetitions 0, 1, 2, … */
const series = (key: string, samples: Array<number>, error?: string): Series => ({
  key,
  label: `row ${key}`,
  samples,
  rounds: samples.map((_, i) => i),
  error
})

const tableOf = (id: string, better: "higher" | "lower", rows: Array<Series>): Table => ({
  id,
  title: id,
  unit: better === "higher" ? "tasks/s" : "ms",
  better,
  reference: rows[0].key,
  rows
})

/** Every table issue 13's targets read, with figures that meet some targets and miss others. */
const issue13Tables = (): Array<Table> => [
  // 0.5× raw: met (≤ 0.6×)
  tableOf("s2", "lower", [series("ours", [50, 50, 60]), series("raw", [100, 100, 100])]),
  // forEach 0.8× raw (met, ≥ 0.75×), applyAsync 0.9× (not met, ≥ 1.0×); piscina's best is piscina64 (25): 3.2× and 3.6×
  tableOf("s1", "higher", [
    series("ours", [80, 80, 80]),
    series("oursAsync", [90, 90, 90]),
    series("raw", [100, 100, 100]),
    series("piscina", [10, 10, 10]),
    series("piscina64", [25, 25, 25])
  ]),
  // 1.2× raw: not met (≤ 1.1×)
  tableOf("s3-seed", "lower", [
    series("ours", [12, 12, 12]),
    series("raw", [10, 10, 10]),
    series("seq", [1, 1, 1]),
    series("py-map", [30, 30, 30])
  ]),
  // Python 6× ours: met
  tableOf("s7-seed", "lower", [series("ours", [2, 2, 2]), series("seq", [1, 1, 1]), series("py-map", [12, 12, 12])]),
  // 1.6× the loop: not met (≥ 1.7×)
  tableOf("s7-large", "lower", [series("ours", [50, 50, 50]), series("seq", [80, 80, 80])]),
  // forEach 1.85× (not met), starmap 1.95× (met)
  tableOf("s4", "lower", [
    series("ours", [100, 100, 100]),
    series("oursStarmap", [100 / 1.95 * 1.85, 100 / 1.95 * 1.85, 100 / 1.95 * 1.85]),
    series("seq", [185, 185, 185]),
    series("raw", [95, 95, 95])
  ]),
  tableOf("s6-startup", "lower", [series("ours", [40, 40, 40]), series("raw-cc", [32, 32, 32]), series("raw", [50, 50, 50])]),
  tableOf("s8-first", "lower", [
    series("effect-preload", [4, 4, 4]),
    series("plain-preload", [1, 1, 1]),
    series("plain", [9, 9, 9]),
    series("effect", [190, 190, 190])
  ]),
  // first ÷ later, run by run: plain 1.1× (met), Effect 20× (not met)
  tableOf("s8-ratio", "lower", [
    series("effect-preload", [20, 18, 25]),
    series("plain-preload", [1.1, 1.0, 1.3]),
    series("plain", [50, 50, 50]),
    series("effect", [800, 800, 800])
  ])
]

const find = (targets: ReadonlyArray<Target>, issue: number, fragment: string): Target => {
  const found = targets.filter((t) => t.issue === issue && t.target.includes(fragment))
  assert.strictEqual(found.length, 1, `one target of issue ${issue} with "${fragment}": ${found.length}`)
  return found[0]
}

describe("bench targets", () => {
  it("a run with no tables lists every target of both issues as not measured", () => {
    const targets = evaluateTargets([])
    assert.strictEqual(targets.filter((t) => t.issue === 13).length, 13)
    assert.strictEqual(targets.filter((t) => t.issue === 5).length, 15)
    for (const t of targets) {
      assert.strictEqual(t.met, undefined)
      assert.match(t.measured, new RegExp(`^${NOT_MEASURED} \\(scenario \\d+ not run\\)$`))
    }
  })

  it("issue 13's targets are judged from the ratios of medians, with the paired ratios beside them", () => {
    const targets = evaluateTargets(issue13Tables())
    const sequential = find(targets, 13, "sequential `apply`")
    assert.strictEqual(sequential.met, true)
    assert.strictEqual(sequential.measured, "ours is 0.50× (50.0 vs 100 µs); paired 0.50× (0.50–0.60×)")
    assert.strictEqual(find(targets, 13, "`applyAsync` ≥ 1.0× raw").met, false)
    assert.strictEqual(find(targets, 13, "`Effect.forEach(apply)` ≥ 0.75× raw").met, true)
    const piscina = find(targets, 13, "`Effect.forEach(apply)` ≥ 3× piscina")
    assert.strictEqual(piscina.met, true)
    assert.include(piscina.measured, "3.20× (80.0 vs 25.0 tasks/s)")
    assert.include(piscina.measured, "row piscina64")
    assert.strictEqual(find(targets, 13, "`applyAsync` ≥ 3× piscina").met, true)
    assert.strictEqual(find(targets, 13, "from plain arrays ≤ 1.1×").met, false)
    assert.strictEqual(find(targets, 13, "shared-memory map ≥ 5×").met, true)
    assert.strictEqual(find(targets, 13, "rows in shared memory: ≥ 1.7×").met, false)
    assert.strictEqual(find(targets, 13, "≥ 1.9× on 2 cores (`Effect.forEach(apply)`)").met, false)
    assert.strictEqual(find(targets, 13, "≥ 1.9× on 2 cores (`starmap`)").met, true)
    const startup = find(targets, 13, "start-up")
    assert.strictEqual(startup.met, true)
    assert.strictEqual(startup.measured, "ours is 1.25× (40.0 vs 32.0 ms); paired 1.25× (1.25–1.25×)")
    const plain = find(targets, 13, "(plain module, with preload)")
    assert.strictEqual(plain.met, true)
    assert.strictEqual(plain.measured, "1.10× (first call 1.00 ms); run by run 1.10× (1.00–1.30×)")
    assert.strictEqual(find(targets, 13, "(Effect-using module, with preload)").met, false)
    // every target of issue 13 is judged from these tables
    for (const t of targets.filter((t) => t.issue === 13)) assert.notStrictEqual(t.met, undefined, t.target)
  })

  it("a missing Python row or a failed row is not measured, with the reason; the rest is judged", () => {
    const tables = issue13Tables().map((t) =>
      t.id === "s7-seed"
        ? { ...t, rows: t.rows.filter((r) => r.key !== "py-map") }
        : t.id === "s6-startup"
        ? { ...t, rows: t.rows.map((r) => (r.key === "raw-cc" ? series("raw-cc", [], "timed out") : r)) }
        : t
    )
    const targets = evaluateTargets(tables)
    const shared = find(targets, 13, "shared-memory map ≥ 5×")
    assert.strictEqual(shared.met, undefined)
    assert.strictEqual(shared.measured, `${NOT_MEASURED} (no row \`py-map\` in table s7-seed: python3 not available)`)
    const startup = find(targets, 13, "start-up")
    assert.strictEqual(startup.met, undefined)
    assert.strictEqual(startup.measured, `${NOT_MEASURED} (row raw-cc failed)`)
    // issue 5's start-up target reads the raw row, which did not fail
    assert.strictEqual(find(targets, 5, "start-up").met, true)
    assert.strictEqual(find(targets, 13, "rows in shared memory: ≥ 1.7×").met, false)
    // issue 5's scenario 2 target against Python: no python row in s2
    assert.include(find(targets, 5, "Pool.apply").measured, "python3 not available")
  })

  it("findings: a paragraph for each scenario measured, none for the others", () => {
    assert.deepStrictEqual(findings([]), [])
    const only = findings(issue13Tables().filter((t) => t.id === "s2"))
    assert.strictEqual(only.length, 1)
    assert.match(only[0], /^\*\*Scenario 2\.\*\*/)
    const all = findings([
      ...issue13Tables(),
      tableOf("s8-ready", "lower", ["effect-preload", "plain-preload", "plain", "effect"].map((k) => series(k, [100, 100, 100]))),
      tableOf("s9-throughput", "higher", [series("local", [4e6]), series("two", [8e5]), series("three", [7e5])]),
      tableOf("s9-latency", "lower", [series("local", [70]), series("two", [1400]), series("three", [1500])])
    ])
    const heads = all.map((p) => /^\*\*(Scenario [^.]*)\.\*\*/.exec(p)?.[1])
    for (const head of ["Scenario 1", "Scenario 2", "Scenario 3, 20,000 rows", "Scenario 4", "Scenario 7, 20,000 rows"]) {
      assert.include(heads, head)
    }
    assert.include(heads, "Scenario 7, 2,000,000 rows")
    assert.include(heads, "Scenario 8")
    assert.include(heads, "Scenario 9")
    const shared = all.find((p) => p.startsWith("**Scenario 7, 20,000 rows"))!
    assert.include(shared, "ours is 6.00× faster")
    const first = all.find((p) => p.startsWith("**Scenario 8"))!
    assert.include(first, "1.10× (1.00–1.30×) (plain)")
  })
})
