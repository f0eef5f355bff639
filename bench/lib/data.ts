/** Seeded data for the benchmark, identical on every run and in both languages. */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

/** mulberry32: a tiny seeded PRNG (the one `examples/seed.ts` uses). */
export const mulberry32 = (seed: number) => (): number => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

/**
 * `n` rows of 5 integers in [0, 10), packed 5 bytes a row. Seed 100, as in
 * `examples/seed.ts`: its 20,000 rows are the first 20,000 here.
 */
export const packedRows = (n: number): Uint8Array => {
  const random = mulberry32(100)
  const bytes = new Uint8Array(n * 5)
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 10)
  return bytes
}

/** The first `n` packed rows as the seed's list of lists. */
export const unpackRows = (bytes: Uint8Array, n: number): Array<Array<number>> => {
  const rows = new Array<Array<number>>(n)
  for (let r = 0; r < n; r++) {
    const o = r * 5
    rows[r] = [bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3], bytes[o + 4]]
  }
  return rows
}

/** Writes the packed rows to a temporary file (for the Python side) and returns its path. */
export const writeRowsFile = (bytes: Uint8Array, name: string): string => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-multiprocessing-bench-"))
  const file = Path.join(dir, name)
  Fs.writeFileSync(file, bytes)
  return file
}

/** Splits `items` into chunks of `size` (what a user of a pool without `map` writes). */
export const chunk = <A>(items: ReadonlyArray<A>, size: number): Array<Array<A>> => {
  const out: Array<Array<A>> = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/** Python's (and our) default `map` chunksize: about four chunks per worker. */
export const defaultChunksize = (n: number, size: number): number => Math.max(1, Math.ceil(n / (4 * size)))

/** `count` fresh typed arrays of `bytes` bytes each, filled with a known pattern. */
export const payloads = (count: number, bytes: number): Array<Float64Array<ArrayBuffer>> =>
  Array.from({ length: count }, (_, k) => {
    const values = new Float64Array(bytes / 8)
    values.fill(k)
    return values
  })
