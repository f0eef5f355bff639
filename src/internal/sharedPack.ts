/**
 * `Shared.fromRows`: packs an array of equal-length number rows into shared
 * memory, in one pass, checking every value on the way: a value the typed
 * array would silently change (a hole read as 0, a string coerced, a -0, NaN,
 * 2.5 or 300 stored in an integer array) is refused with an error that names
 * its row and column. The check is on the fast path's side: one comparison
 * chain per value, the diagnosis only once one fails.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import { allocate, integerRange, type Kind } from "./sharedKinds.ts"

/** What went wrong with `row[column]`, as the end of a sentence; `undefined` if `kind` holds it as it is. */
const diagnose = (row: ArrayLike<number>, column: number, kind: Kind): string | undefined => {
  const value: unknown = row[column]
  if (value === undefined && !(column in Object(row))) return "a hole (an array with an empty slot)"
  if (typeof value !== "number") return `${describe(value)}, not a number`
  const range = integerRange[kind]
  if (range === undefined) return undefined
  if (Number.isNaN(value)) return `NaN, which an ${kind} array cannot hold`
  if (Object.is(value, -0)) return `-0, which an ${kind} array would store as 0`
  if (!Number.isInteger(value)) return `${value}, not an integer (an ${kind} array would truncate it)`
  if (value < range[0] || value > range[1]) {
    return `${value}, out of the range of ${kind} (${range[0]} to ${range[1]})`
  }
  return undefined
}

const describe = (value: unknown): string => {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  if (typeof value === "bigint") return `${value}n (a bigint)`
  if (value === null) return "null"
  if (typeof value === "object") return Array.isArray(value) ? "an array" : "an object"
  return typeof value === "symbol" ? value.toString() : String(value)
}

const illegal = (message: string) => new Cause.IllegalArgumentError(`Shared.fromRows: ${message}`)

/** Packs `rows` into a fresh `SharedArrayBuffer` of `kind`, or says which value it cannot hold. */
export const pack = (
  rows: unknown,
  kind: Kind
): { readonly data: ArrayBufferView; readonly columns: number } | Cause.IllegalArgumentError => {
  if (!Array.isArray(rows)) return illegal(`expected an array of rows, got ${describe(rows)}`)
  const count = rows.length
  const first: unknown = rows[0]
  if (count > 0 && !isRow(first)) return illegal(`row 0 is ${describe(first)}, not an array of numbers`)
  const columns = count === 0 ? 0 : (first as ArrayLike<number>).length
  let data: Array<number>
  try {
    // written through as a number array: every value is checked to be one the kind holds as it is
    data = allocate(kind, count * columns) as unknown as Array<number>
  } catch (error) {
    return illegal(`cannot allocate ${count} × ${columns} ${kind} values (${String(error)})`)
  }
  const range = integerRange[kind]
  const [min, max] = range ?? [-Infinity, Infinity]
  for (let r = 0, o = 0; r < count; r++, o += columns) {
    const row = rows[r] as ArrayLike<number>
    if (r > 0 && !isRow(row)) return illegal(`row ${r} is ${describe(row)}, not an array of numbers`)
    if (row.length !== columns) {
      return illegal(`row ${r} has ${row.length} values, row 0 has ${columns}: the rows must have equal lengths`)
    }
    for (let c = 0; c < columns; c++) {
      const value = row[c]
      // the fast path: a number the kind holds as it is (an integer kind: an integer in range, not -0)
      if (
        typeof value === "number" &&
        (range === undefined ||
          (value >= min && value <= max && Math.floor(value) === value && (value !== 0 || 1 / value > 0)))
      ) {
        data[o + c] = value
        continue
      }
      const problem = diagnose(row, c, kind)
      if (problem !== undefined) return illegal(`row ${r}, column ${c} is ${problem}`)
      data[o + c] = value
    }
  }
  return { data: data as unknown as ArrayBufferView, columns }
}

/** An array or a typed array (any `ArrayLike` that is not a string). */
const isRow = (u: unknown): u is ArrayLike<number> =>
  Array.isArray(u) || (ArrayBuffer.isView(u) && !(u instanceof DataView))
