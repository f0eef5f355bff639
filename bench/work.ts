/**
 * The workloads of the benchmark as plain functions, shared by every pool's
 * worker file, by our task module (`tasks.ts`) and by the sequential baseline
 * on the main thread, so that every contender runs exactly the same code.
 */

/** Scenarios 1, 2 and 6: the tiniest task there is. */
export const add = (a: number, b: number): number => a + b

/** Scenario 3, the seed: how many numbers of `row` lie within [minimum, maximum]. */
export const howManyWithinRange = (row: ReadonlyArray<number>, minimum: number, maximum: number): number => {
  let count = 0
  for (let i = 0; i < row.length; i++) {
    const n = row[i]
    if (minimum <= n && n <= maximum) count++
  }
  return count
}

/** Scenario 3 with `map` (one argument): the range fixed to [4, 8], as in the seed. */
export const howManyWithinRangeRow = (row: ReadonlyArray<number>): number => howManyWithinRange(row, 4, 8)

/** Scenario 3 for pools without `map`: one chunk of rows per task, as a user would write it. */
export const howManyWithinRangeRows = (rows: ReadonlyArray<ReadonlyArray<number>>): Array<number> => {
  const out = new Array<number>(rows.length)
  for (let i = 0; i < rows.length; i++) out[i] = howManyWithinRange(rows[i], 4, 8)
  return out
}

/**
 * Scenario 4: pure integer math (an xorshift-multiply hash chain) whose cost is
 * proportional to `iterations` and identical for every seed, so that the
 * tasks of a batch are uniform. Returns a 32-bit checksum.
 */
export const cpu = (seed: number, iterations: number): number => {
  let x = (seed | 0) ^ 0x9e3779b9
  let acc = 0
  for (let i = 0; i < iterations; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    acc = (Math.imul(acc, 31) + (x & 0xffff)) | 0
  }
  return acc >>> 0
}

/** Scenario 5: processes a large typed array in place (`x → 2x + 1`) and returns it. */
export const scale = (values: Float64Array<ArrayBuffer>): Float64Array<ArrayBuffer> => {
  for (let i = 0; i < values.length; i++) values[i] = values[i] * 2 + 1
  return values
}
