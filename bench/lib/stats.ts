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
