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

export const tasks = Task.module(import.meta.url, {
  /** Python's `how_many_within_range(row, minimum, maximum)`: for `apply` and `starmap`. */
  howManyWithinRange,
  /** The same with the range fixed to [4, 8]: `map` passes a single argument. */
  howManyWithinRangeRow: (row: ReadonlyArray<number>) => howManyWithinRange(row, 4, 8)
})
