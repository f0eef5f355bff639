/**
 * The targets of issue 13 (performance) and issue 5 (the first benchmark),
 * judged from the tables of this run: each by the ratio of two medians, with
 * the paired ratio (each run against its neighbour in the same repetition:
 * median, min–max) beside it. A target whose table or rows this run lacks (a
 * scenario not selected, python3 missing, a row that failed) is listed as
 * "not measured in this run", with the reason, never judged.
 *
 * Which rows each target reads (table id / row key, see bench/scenarios/):
 * - issue 13: s2 ours ÷ raw (one worker); s1 oursAsync and ours ÷ raw
 *   (pipelined), and ÷ piscina's better setting (piscina, piscina64); s3-seed
 *   ours ÷ raw; s7-seed py-map ÷ ours; s7-large seq ÷ ours; s4 seq ÷ ours and
 *   seq ÷ oursStarmap; s6-startup ours ÷ raw-cc; s8-ratio plain-preload and
 *   effect-preload (first ÷ later call, run by run).
 * - issue 5: s1 ours / oursAsync against piscina's best, poolifier and raw;
 *   s2 ours ÷ raw and python ÷ ours; s3-seed py-map ÷ ours; s3-large seq ÷
 *   ours; s4 seq ÷ ours / oursStarmap; s5 transfer ÷ copy; s6-startup ours ÷
 *   raw; s6-memory ours ÷ bare-effect.
 */
import { config, thousands } from "./config.ts"
import { type Lookup, lookup, tables } from "./results.ts"
import type { Table } from "./report.ts"
import { fmt, fmtRatio, fmtSummary, type Summary, summarize } from "./stats.ts"

export interface Target {
  /** The issue that set it. */
  readonly issue: 5 | 13
  readonly scenario: string
  readonly target: string
  readonly measured: string
  /** `undefined`: not measured in this run. */
  readonly met: boolean | undefined
}

/** What a target says when this run lacks what it needs. */
export const NOT_MEASURED = "not measured in this run"

/** The issues whose targets are judged, newest first (the order of the docs' tables). */
export const ISSUES = [13, 5] as const

/** A row a target reads: table id and row key. */
type Need = readonly [id: string, key: string]

/** "s3-seed" → "3". */
const scenarioOf = (id: string) => id.replace(/^s/, "").split("-")[0]

/** Why the rows a target needs cannot be read, or `undefined` when they all can. */
const lacking = (L: Lookup, needs: ReadonlyArray<Need>): string | undefined => {
  const absent = [...new Set(needs.filter(([id]) => L.table(id) === undefined).map(([id]) => scenarioOf(id)))]
  if (absent.length > 0) return `scenario ${absent.join(", ")} not run`
  for (const [id, key] of needs) {
    const r = L.row(id, key)
    if (r === undefined) {
      const why = key === "python" || key.startsWith("py-") ? ": python3 not available" : ""
      return `no row \`${key}\` in table ${id}${why}`
    }
    if (r.error !== undefined) return `${r.label} failed`
    if (r.samples.length === 0) return `${r.label}: no kept runs`
  }
  return undefined
}

/** "; paired 1.23× (1.10–1.31×)", or "" when no repetition has both runs. */
const pairedNote = (s: Summary) => (s.n === 0 ? "" : `; paired ${fmtSummary(s)}`)

interface Judged {
  /** The ratio judged. */
  readonly value: number
  readonly measured: string
}

type Push = (
  issue: 5 | 13,
  scenario: string,
  target: string,
  needs: ReadonlyArray<Need>,
  goal: (value: number) => boolean,
  judge: () => Judged
) => void

/**
 * A ratio of two medians of one table, `num ÷ den`, with its paired quotients:
 * "1.21× (94.2 vs 77.9 µs); paired 1.21× (1.15–4.81×)".
 */
const ratio = (L: Lookup, id: string, num: string, den: string, unit: string, prefix = ""): Judged => {
  const [a, b] = [L.get(id, num), L.get(id, den)]
  return {
    value: a / b,
    measured: `${prefix}${fmtRatio(a / b)} (${fmt(a)} vs ${fmt(b)} ${unit})${pairedNote(L.quotients(id, num, den))}`
  }
}

/** piscina's better setting in scenario 1 (the higher median of its two rows). */
const piscinaBest = (L: Lookup): "piscina" | "piscina64" =>
  !(L.get("s1", "piscina64") <= L.get("s1", "piscina")) ? "piscina64" : "piscina"

// -- issue 13 -------------------------------------------------------------------------------

const issue13 = (L: Lookup, push: Push) => {
  push(
    13,
    "2",
    "sequential `apply` ≤ 0.6× a raw one-worker `postMessage` round trip (threads)",
    [["s2", "ours"], ["s2", "raw"]],
    (r) => r <= 0.6,
    () => ratio(L, "s2", "ours", "raw", "µs", "ours is ")
  )
  const burst = [["oursAsync", "`applyAsync`", "1.0", 1.0], ["ours", "`Effect.forEach(apply)`", "0.75", 0.75]] as const
  for (const [key, how, goalText, goal] of burst) {
    push(
      13,
      "1",
      `tiny-task burst: ${how} ≥ ${goalText}× raw pipelined \`postMessage\``,
      [["s1", key], ["s1", "raw"]],
      (r) => r >= goal,
      () => ratio(L, "s1", key, "raw", "tasks/s")
    )
  }
  for (const [key, how] of [["ours", "`Effect.forEach(apply)`"], ["oursAsync", "`applyAsync`"]] as const) {
    push(
      13,
      "1",
      `tiny-task burst: ${how} ≥ 3× piscina's best setting`,
      [["s1", key], ["s1", "piscina"], ["s1", "piscina64"]],
      (r) => r >= 3,
      () => {
        const best = piscinaBest(L)
        const j = ratio(L, "s1", key, best, "tasks/s")
        return { value: j.value, measured: `${j.measured}; its best setting: ${L.row("s1", best)!.label}` }
      }
    )
  }
  push(
    13,
    "3",
    `seed map over ${thousands(config.seedRows)} rows from plain arrays ≤ 1.1× raw structured clone with the same chunks`,
    [["s3-seed", "ours"], ["s3-seed", "raw"]],
    (r) => r <= 1.1,
    () => ratio(L, "s3-seed", "ours", "raw", "ms", "ours is ")
  )
  push(
    13,
    "7",
    `seed map over ${thousands(config.seedRows)} rows with the shared-memory map ≥ 5× faster than Python's \`Pool.map\``,
    [["s7-seed", "ours"], ["s7-seed", "py-map"]],
    (r) => r >= 5,
    () => ratio(L, "s7-seed", "py-map", "ours", "ms")
  )
  push(
    13,
    "7",
    `${thousands(config.largeRows)} rows in shared memory: ≥ 1.7× the sequential loop over the same typed array on 2 cores`,
    [["s7-large", "ours"], ["s7-large", "seq"]],
    (r) => r >= 1.7,
    () => ratio(L, "s7-large", "seq", "ours", "ms")
  )
  for (const [key, how] of [["ours", "`Effect.forEach(apply)`"], ["oursStarmap", "`starmap`"]] as const) {
    push(
      13,
      "4",
      `CPU-bound speedup stays ≥ 1.9× on 2 cores (${how})`,
      [["s4", key], ["s4", "seq"]],
      (r) => r >= 1.9,
      () => ratio(L, "s4", "seq", key, "ms")
    )
  }
  push(
    13,
    "6",
    "start-up stays ≤ 1.3× raw with the compile cache",
    [["s6-startup", "ours"], ["s6-startup", "raw-cc"]],
    (r) => r <= 1.3,
    () => ratio(L, "s6-startup", "ours", "raw-cc", "ms", "ours is ")
  )
  for (const [key, what] of [["plain-preload", "plain"], ["effect-preload", "Effect-using"]] as const) {
    push(
      13,
      "8",
      `first call after \`make\` ≤ 1.2× a later call (${what} module, with preload)`,
      [["s8-ratio", key], ["s8-first", key]],
      (r) => r <= 1.2,
      () => {
        // each run is its own pair: its first call ÷ the median of its later calls
        const runs = summarize(L.row("s8-ratio", key)!.samples)
        return {
          value: runs.median,
          measured: `${fmtRatio(runs.median)} (first call ${fmt(L.get("s8-first", key))} ms); run by run ${
            fmtSummary(runs)
          }`
        }
      }
    )
  }
}

// -- issue 5 --------------------------------------------------------------------------------

const issue5 = (L: Lookup, push: Push) => {
  for (const [key, how] of [["ours", "forEach(apply)"], ["oursAsync", "applyAsync"]] as const) {
    push(
      5,
      "1",
      `≥ 1.5× piscina's best setting (${how})`,
      [["s1", key], ["s1", "piscina"], ["s1", "piscina64"]],
      (r) => r >= 1.5,
      () => ratio(L, "s1", key, piscinaBest(L), "tasks/s")
    )
    push(
      5,
      "1",
      `≥ 1.0× poolifier (${how})`,
      [["s1", key], ["s1", "poolifier"]],
      (r) => r >= 1,
      () => ratio(L, "s1", key, "poolifier", "tasks/s")
    )
    push(
      5,
      "1",
      `within 1.5× of raw pipelined postMessage (${how})`,
      [["s1", key], ["s1", "raw"]],
      (r) => r <= 1.5,
      () => ratio(L, "s1", "raw", key, "tasks/s", "raw is ")
    )
  }
  push(
    5,
    "2",
    "≤ 1.3× raw one-at-a-time round trip (one worker)",
    [["s2", "ours"], ["s2", "raw"]],
    (r) => r <= 1.3,
    () => ratio(L, "s2", "ours", "raw", "µs", "ours is ")
  )
  push(
    5,
    "2",
    "≥ 10× faster than Python's Pool.apply",
    [["s2", "ours"], ["s2", "python"]],
    (r) => r >= 10,
    () => ratio(L, "s2", "python", "ours", "µs")
  )
  push(
    5,
    "3",
    `map over ${thousands(config.seedRows)} rows ≥ 3× faster than Python's Pool.map`,
    [["s3-seed", "ours"], ["s3-seed", "py-map"]],
    (r) => r >= 3,
    () => ratio(L, "s3-seed", "py-map", "ours", "ms")
  )
  push(
    5,
    "3",
    `map over ${thousands(config.largeRows)} rows: speedup over sequential ≥ 1.6×`,
    [["s3-large", "ours"], ["s3-large", "seq"]],
    (r) => r >= 1.6,
    () => ratio(L, "s3-large", "seq", "ours", "ms")
  )
  for (const [key, how] of [["ours", "forEach(apply)"], ["oursStarmap", "starmap"]] as const) {
    push(5, "4", `speedup ≥ 1.85× on 2 cores (${how})`, [["s4", key], ["s4", "seq"]], (r) => r >= 1.85, () => {
      const j = ratio(L, "s4", "seq", key, "ms")
      const raw = L.get("s4", "seq") / L.get("s4", "raw")
      return { ...j, measured: `${j.measured}${Number.isFinite(raw) ? `; raw worker_threads: ${fmtRatio(raw)}` : ""}` }
    })
  }
  push(
    5,
    "5",
    "transfer path ≥ 5× the copy path",
    [["s5-transfer", "ours"], ["s5-copy", "ours"]],
    (r) => r >= 5,
    () => {
      const [t, c] = [L.get("s5-transfer", "ours"), L.get("s5-copy", "ours")]
      return { value: t / c, measured: `${fmtRatio(t / c)} (${fmt(t)} vs ${fmt(c)} GB/s)` }
    }
  )
  push(
    5,
    "6",
    "start-up ≤ 1.5× a raw worker's",
    [["s6-startup", "ours"], ["s6-startup", "raw"]],
    (r) => r <= 1.5,
    () => ratio(L, "s6-startup", "ours", "raw", "ms", "ours is ")
  )
  push(
    5,
    "6",
    "RSS per worker ≤ 1.3× a bare worker thread that imports effect",
    [["s6-memory", "ours"], ["s6-memory", "bare-effect"]],
    (r) => r <= 1.3,
    () => ratio(L, "s6-memory", "ours", "bare-effect", "MiB")
  )
}

/** Every target of issues 13 and 5, judged from `from` (default: this run's tables). */
export const evaluateTargets = (from: ReadonlyArray<Table> = tables): Array<Target> => {
  const L = lookup(from)
  const out: Array<Target> = []
  const push: Push = (issue, scenario, target, needs, goal, judge) => {
    const reason = lacking(L, needs)
    const judged = reason === undefined ? judge() : undefined
    const value = judged?.value ?? NaN
    out.push({
      issue,
      scenario,
      target,
      measured: Number.isFinite(value) ? judged!.measured : `${NOT_MEASURED} (${reason ?? "no ratio"})`,
      met: Number.isFinite(value) ? goal(value) : undefined
    })
  }
  issue13(L, push)
  issue5(L, push)
  return out
}

/** "met" / "NOT MET" / "not measured", for the terminal. */
export const markOf = (t: Target) => (t.met === undefined ? "not measured" : t.met ? "met" : "NOT MET")
