/**
 * The targets of issue 5, judged from the tables of this run (ratios of
 * medians), each with its paired ratio (run against neighbour run) beside it.
 */
import { config, thousands } from "./config.ts"
import { get, quotients, table } from "./results.ts"
import { fmt, fmtRatio, fmtSummary } from "./stats.ts"

export interface Target {
  readonly scenario: string
  readonly target: string
  readonly measured: string
  readonly met: boolean | undefined
}

/** "; paired 1.23× (1.10–1.31×)": row `num` ÷ row `den` of one table, repetition by repetition. */
const pairedNote = (id: string, num: string, den: string): string => {
  const s = quotients(id, num, den)
  return s.n === 0 ? "" : `; paired ${fmtSummary(s)}`
}

type Push = (scenario: string, target: string, value: number, goal: (v: number) => boolean, describe: string) => void

const burstTargets = (push: Push) => {
  for (const [key, how] of [["ours", "forEach(apply)"], ["oursAsync", "applyAsync"]] as const) {
    const ours = get("s1", key)
    const piscinaBest = Math.max(get("s1", "piscina"), get("s1", "piscina64"))
    push("1", `≥ 1.5× piscina's best setting (${how})`, ours / piscinaBest, (r) => r >= 1.5, `${fmtRatio(ours / piscinaBest)}`)
    push("1", `≥ 1.0× poolifier (${how})`, ours / get("s1", "poolifier"), (r) => r >= 1, `${fmtRatio(ours / get("s1", "poolifier"))}`)
    const raw = get("s1", "raw")
    push(
      "1",
      `within 1.5× of raw pipelined postMessage (${how})`,
      raw / ours,
      (r) => r <= 1.5,
      `raw is ${fmtRatio(raw / ours)} ours${pairedNote("s1", "raw", key)}`
    )
  }
}

const roundTripTargets = (push: Push) => {
  const ours = get("s2", "ours")
  const raw = get("s2", "raw")
  push(
    "2",
    "≤ 1.3× raw one-at-a-time round trip (one worker)",
    ours / raw,
    (r) => r <= 1.3,
    `ours is ${fmtRatio(ours / raw)} raw (${fmt(ours)} vs ${fmt(raw)} µs${pairedNote("s2", "ours", "raw")})`
  )
  const py = get("s2", "python")
  push("2", "≥ 10× faster than Python's Pool.apply", py / ours, (r) => r >= 10, `${fmtRatio(py / ours)} (${fmt(py)} vs ${fmt(ours)} µs)`)
}

const seedTargets = (push: Push) => {
  if (table("s3-seed")) {
    const ours = get("s3-seed", "ours")
    const py = get("s3-seed", "py-map")
    push(
      "3",
      `map over ${thousands(config.seedRows)} rows ≥ 3× faster than Python's Pool.map`,
      py / ours,
      (r) => r >= 3,
      `${fmtRatio(py / ours)} (${fmt(ours)} vs ${fmt(py)} ms${pairedNote("s3-seed", "py-map", "ours")})`
    )
  }
  if (table("s3-large")) {
    const ours = get("s3-large", "ours")
    const seq = get("s3-large", "seq")
    push(
      "3",
      `map over ${thousands(config.largeRows)} rows: speedup over sequential ≥ 1.6×`,
      seq / ours,
      (r) => r >= 1.6,
      `${fmtRatio(seq / ours)} (${fmt(ours)} vs ${fmt(seq)} ms sequential${pairedNote("s3-large", "seq", "ours")})`
    )
  }
}

const cpuTargets = (push: Push) => {
  const seq = get("s4", "seq")
  for (const [key, how] of [["ours", "forEach(apply)"], ["oursStarmap", "starmap"]] as const) {
    const s = seq / get("s4", key)
    // the speedup run by run first, then raw's for comparison
    const paired = pairedNote("s4", "seq", key).replace(/^; /, "")
    push(
      "4",
      `speedup ≥ 1.85× on 2 cores (${how})`,
      s,
      (r) => r >= 1.85,
      `${fmtRatio(s)} (${paired === "" ? "" : `${paired}; `}raw worker_threads: ${fmtRatio(seq / get("s4", "raw"))})`
    )
  }
}

const payloadTargets = (push: Push) => {
  const r = get("s5-transfer", "ours") / get("s5-copy", "ours")
  push("5", "transfer path ≥ 5× the copy path", r, (x) => x >= 5, `${fmtRatio(r)} (${fmt(get("s5-transfer", "ours"))} vs ${fmt(get("s5-copy", "ours"))} GB/s)`)
}

const startupTargets = (push: Push) => {
  if (table("s6-startup")) {
    const r = get("s6-startup", "ours") / get("s6-startup", "raw")
    const cached = get("s6-startup", "raw-cc")
    push(
      "6",
      "start-up ≤ 1.5× a raw worker's",
      r,
      (x) => x <= 1.5,
      `${fmtRatio(r)} (${fmt(get("s6-startup", "ours"))} vs ${fmt(get("s6-startup", "raw"))} ms; ${
        fmtRatio(get("s6-startup", "ours") / cached)
      } a raw worker's with the compile cache, ${fmt(cached)} ms${pairedNote("s6-startup", "ours", "raw-cc")})`
    )
  }
  if (table("s6-memory")) {
    const r = get("s6-memory", "ours") / get("s6-memory", "bare-effect")
    push("6", "RSS per worker ≤ 1.3× a bare worker thread that imports effect", r, (x) => x <= 1.3, `${fmtRatio(r)} (${fmt(get("s6-memory", "ours"))} vs ${fmt(get("s6-memory", "bare-effect"))} MiB)`)
  }
}

export const evaluateTargets = (): Array<Target> => {
  const out: Array<Target> = []
  const push: Push = (scenario, target, value, goal, describe) =>
    out.push({
      scenario,
      target,
      measured: Number.isFinite(value) ? describe : "not measured",
      met: Number.isFinite(value) ? goal(value) : undefined
    })
  if (table("s1")) burstTargets(push)
  if (table("s2")) roundTripTargets(push)
  seedTargets(push)
  if (table("s4")) cpuTargets(push)
  if (table("s5-transfer")) payloadTargets(push)
  startupTargets(push)
  return out
}
