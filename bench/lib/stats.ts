/** Small statistics and formatting helpers. */
import * as V8 from "node:v8"
import * as Vm from "node:vm"

export const median = (xs: ReadonlyArray<number>): number => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** A full garbage collection between runs (without `--expose-gc` on the command line). */
export const gc: () => void = (() => {
  V8.setFlagsFromString("--expose-gc")
  const collect = Vm.runInNewContext("gc") as () => void
  return collect
})()

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Times an async function in milliseconds. */
export const time = async (f: () => Promise<unknown>): Promise<number> => {
  const t = performance.now()
  await f()
  return performance.now() - t
}

/** 12345.6 → "12,346"; keeps 3 significant digits for small numbers. */
export const fmt = (x: number): string => {
  if (!Number.isFinite(x)) return "–"
  const abs = Math.abs(x)
  if (abs >= 100) return Math.round(x).toLocaleString("en-US")
  if (abs >= 10) return x.toFixed(1)
  if (abs >= 1) return x.toFixed(2)
  return x.toPrecision(2)
}

/** A ratio as "1.23×". */
export const fmtRatio = (x: number): string => (Number.isFinite(x) ? `${x >= 10 ? x.toFixed(1) : x.toFixed(2)}×` : "–")

/** Rotates a list by `k`: the contenders run in a different order in each repetition. */
export const rotate = <A>(xs: ReadonlyArray<A>, k: number): Array<A> => {
  const n = xs.length
  if (n === 0) return []
  const s = ((k % n) + n) % n
  return [...xs.slice(s), ...xs.slice(0, s)]
}

/** Samples with the repetition (round) each was measured in. */
export interface Sampled {
  readonly samples: ReadonlyArray<number>
  /** `rounds[i]` is the repetition of `samples[i]`; without it, samples cannot be paired. */
  readonly rounds?: ReadonlyArray<number> | undefined
}

/**
 * Paired ratios: `numerator ÷ denominator` of the two runs measured in the
 * same repetition, for every repetition in which both have a run. Neighbours
 * in one repetition share the machine's state of the moment (its load, its
 * clock, whether its idle vCPUs had halted), which a ratio of medians over
 * the whole scenario does not.
 */
export const pairedRatios = (numerator: Sampled, denominator: Sampled): Array<number> => {
  if (numerator.rounds === undefined || denominator.rounds === undefined) return []
  const byRound = new Map<number, number>()
  denominator.rounds.forEach((round, i) => byRound.set(round, denominator.samples[i]))
  const out: Array<number> = []
  numerator.rounds.forEach((round, i) => {
    const d = byRound.get(round)
    if (d !== undefined) out.push(numerator.samples[i] / d)
  })
  return out
}

/** The median and the spread of some values (NaNs when there are none). */
export interface Summary {
  readonly median: number
  readonly min: number
  readonly max: number
  readonly n: number
}

export const summarize = (xs: ReadonlyArray<number>): Summary => ({
  median: median(xs),
  min: xs.length === 0 ? NaN : Math.min(...xs),
  max: xs.length === 0 ? NaN : Math.max(...xs),
  n: xs.length
})

/** Ratios as "1.23× (1.10–1.31×)": the median, then min–max; "–" when there are none. */
export const fmtSummary = (s: Summary): string =>
  s.n === 0 || !Number.isFinite(s.median)
    ? "–"
    : `${fmtRatio(s.median)} (${fmtRatio(s.min).slice(0, -1)}–${fmtRatio(s.max)})`
