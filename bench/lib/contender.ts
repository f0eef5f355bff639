/**
 * The small interface every pool of the benchmark is used through: one method
 * per scenario, each returning what it computed, for checking; and a
 * contender over any promise-returning call, one task per call.
 */
import { chunk } from "./data.ts"

export type Rows = ReadonlyArray<ReadonlyArray<number>>
export type Floats = Float64Array<ArrayBuffer>

/** A started pool, with one method per scenario. Each returns what it computed, for checking. */
export interface Contender {
  /** Scenario 1: `n` tiny `add(i, 1)` tasks submitted at once; returns the sum of the results. */
  readonly burst: (n: number) => Promise<number>
  /** Scenario 2: `n` tiny `add(i, 1)` tasks, each awaited before the next is sent; returns the sum. */
  readonly oneAtATime: (n: number) => Promise<number>
  /** Scenario 3 (pools without `map`): the rows in chunks of `chunksize`, one task per chunk. */
  readonly rows: (rows: Rows, chunksize: number) => Promise<Array<number>>
  /** Scenario 4: one `cpu(seed, iterations)` task per seed, all submitted at once. */
  readonly cpu: (seeds: ReadonlyArray<number>, iterations: number) => Promise<Array<number>>
  /** Scenario 5: every array processed in a worker and returned; moved rather than copied with `transfer`. */
  readonly payload: (arrays: ReadonlyArray<Floats>, transfer: boolean) => Promise<Array<Floats>>
  /** Scenario 6: the first result of a new pool. */
  readonly first: () => Promise<number>
  readonly close: () => Promise<void>
}

/** A kind of pool: how to start one of a given size. */
export interface Kind<C extends Contender = Contender> {
  readonly id: string
  readonly label: string
  readonly start: (size: number) => Promise<C>
}

export type Fn = "add" | "howManyWithinRangeRows" | "cpu" | "scaleCopy" | "scaleTransfer"
export type Call = (fn: Fn, data: unknown, transfer?: Array<ArrayBuffer>) => Promise<any>

export const peerFile = (name: string) => new URL(`../peers/${name}`, import.meta.url)

export const range = (n: number) => Array.from({ length: n }, (_, i) => i)

export const sum = (xs: ReadonlyArray<number>) => {
  let s = 0
  for (let i = 0; i < xs.length; i++) s += xs[i]
  return s
}

/** A contender over a promise-returning `call`: one task per call. */
export const fromCall = (call: Call, close: () => Promise<unknown>): Contender => ({
  burst: async (n) => {
    const pending = new Array<Promise<number>>(n)
    for (let i = 0; i < n; i++) pending[i] = call("add", [i, 1])
    return sum(await Promise.all(pending))
  },
  oneAtATime: async (n) => {
    let s = 0
    for (let i = 0; i < n; i++) s += await call("add", [i, 1])
    return s
  },
  rows: async (rows, chunksize) =>
    (await Promise.all(chunk(rows, chunksize).map((c) => call("howManyWithinRangeRows", c) as Promise<Array<number>>)))
      .flat(),
  cpu: (seeds, iterations) => Promise.all(seeds.map((seed) => call("cpu", [seed, iterations]))),
  payload: (arrays, transfer) =>
    Promise.all(arrays.map((a) => transfer ? call("scaleTransfer", a, [a.buffer]) : call("scaleCopy", a))),
  first: () => call("add", [1, 2]),
  close: async () => {
    await close()
  }
})
