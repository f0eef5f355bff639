/**
 * The task module of `initializer.ts`.
 *
 * `loadSieve` is the pool's initializer: it builds something expensive (a
 * lookup table of the primes below `limit`, about 10 MB) and keeps it in this
 * module's state. Each worker imports the module once, so the state below is
 * per worker: the initializer fills it, and the tasks of the same module that
 * run on that worker read it.
 */
import { threadId } from "node:worker_threads"
import { Task } from "../src/index.ts"

// -- This worker's state ---------------------------------------------------------
// (The caller imports this module too, for the task handles; its copy of the
// state stays empty: only the workers run `loadSieve`.)

/** `sieve[n] === 1` when `n` is prime; built by the initializer. */
let sieve: Uint8Array | undefined
/** How many tasks this worker has run (the initializer is not one of them). */
let tasksRun = 0

export const tasks = Task.module(import.meta.url, {
  /**
   * The initializer: a sieve of Eratosthenes up to `limit`, built once per
   * worker. `loads` is memory shared with the caller (a SharedArrayBuffer is
   * shared with thread workers, not copied): each run adds 1 to it, so the
   * caller can count how many times it ran.
   */
  loadSieve: (limit: number, loads: Int32Array) => {
    const start = performance.now()
    const table = new Uint8Array(limit).fill(1)
    table[0] = table[1] = 0
    for (let p = 2; p * p < limit; p++) {
      if (table[p] === 0) continue
      for (let multiple = p * p; multiple < limit; multiple += p) table[multiple] = 0
    }
    sieve = table
    const run = Atomics.add(loads, 0, 1) + 1
    console.log(
      `  [worker ${threadId}] initializer: sieve below ${limit.toLocaleString("en")} built in ${
        (performance.now() - start).toFixed(0)
      } ms (load #${run})`
    )
  },

  /** A task: counts the primes in `[from, to)` by looking them up in the sieve. */
  countPrimes: (range: readonly [from: number, to: number]) => {
    if (sieve === undefined) throw new Error("no sieve: the initializer has not run on this worker")
    const [from, to] = range
    let count = 0
    for (let n = from; n < to; n++) count += sieve[n]
    tasksRun++
    return { range, count, worker: threadId, taskOfWorker: tasksRun }
  },

  /** For `broadcast`: what this worker holds. */
  describe: () => ({ worker: threadId, sieveLoaded: sieve !== undefined, tasksRun })
})
