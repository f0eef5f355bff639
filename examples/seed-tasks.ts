/**
 * The task module of `seed.ts`: the functions the pool's workers run.
 *
 * A worker loads this file by its URL the first time one of its tasks runs, so
 * it should only declare functions (no side effects at top level).
 */
import { Task } from "../src/index.ts"

/**
 * Returns how many numbers of `row` lie within `minimum` and `maximum`
 * (inclusive). Exported too, so the caller can run it directly for comparison.
 */
export const howManyWithinRange = (row: ReadonlyArray<number>, minimum: number, maximum: number): number => {
  let count = 0
  for (const n of row) {
    if (minimum <= n && n <= maximum) count++
  }
  return count
}

/** mulberry32: a tiny seeded PRNG, so every run (and every worker) draws the same numbers. */
export const mulberry32 = (seed: number) => (): number => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/**
 * The same count over a long row: `length` integers in [0, 10) drawn from
 * `mulberry32(seed)`. The worker draws the row itself, so only the seed crosses
 * to it: the work is CPU, not copying. Exported too, for the caller's loop.
 */
export const howManyWithinRangeOfLongRow = (seed: number, length: number, minimum: number, maximum: number): number => {
  const random = mulberry32(seed)
  let count = 0
  for (let i = 0; i < length; i++) {
    const n = Math.floor(random() * 10)
    if (minimum <= n && n <= maximum) count++
  }
  return count
}

/** How many numbers a long row holds: about 7 ms of work per row on this project's machines. */
export const LONG_ROW = 500_000

export const tasks = Task.module(import.meta.url, {
  /** Python's `how_many_within_range(row, minimum, maximum)`: for `apply` and `starmap`. */
  howManyWithinRange,
  /** The same with the range fixed to [4, 8]: `map` passes a single argument. */
  howManyWithinRangeRow: (row: ReadonlyArray<number>) => howManyWithinRange(row, 4, 8),
  /** The CPU-heavy version of `howManyWithinRangeRow`: a row of `LONG_ROW` numbers drawn from `seed`. */
  howManyWithinRangeOfLongRow: (seed: number) => howManyWithinRangeOfLongRow(seed, LONG_ROW, 4, 8)
})
