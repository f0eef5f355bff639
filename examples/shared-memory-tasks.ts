/**
 * The task module of `shared-memory.ts`: the seed's `how_many_within_range`
 * over ranges of rows that live in shared memory.
 *
 * A worker loads this file by its URL the first time one of its tasks runs, so
 * it should only declare functions (no side effects at top level).
 */
import { Shared, Task } from "../src/index.ts"

/**
 * For each of `rows` rows of `columns` numbers in `data` (row after row), how
 * many lie within `minimum` and `maximum` (inclusive), written to `counts`.
 * The loop the caller runs sequentially over the whole array, and each range
 * runs over its rows: the same code on both sides.
 */
export const countWithinRange = (
  data: ArrayLike<number>,
  rows: number,
  columns: number,
  counts: { [i: number]: number },
  minimum: number,
  maximum: number
): void => {
  for (let r = 0, o = 0; r < rows; r++, o += columns) {
    let count = 0
    for (let c = o; c < o + columns; c++) {
      const n = data[c]
      if (minimum <= n && n <= maximum) count++
    }
    counts[r] = count
  }
}

export const tasks = Task.module(import.meta.url, {
  /**
   * The seed's count, over one range of rows: reads the range's rows of the
   * input, writes one count per row into the same rows of the output.
   */
  countWithinRange: Shared.task(
    { input: "Int32", output: "Int32" },
    ({ input, output }, minimum: number, maximum: number) =>
      countWithinRange(input.data, input.rows, input.columns, output.data, minimum, maximum)
  )
})
