/**
 * The task module of `promise.ts`: plain functions, so a worker loading it
 * loads no effect at all. It imports `Task` from the package's main entry
 * (here `../src/index.ts`; in your project `"effect-multiprocessing"`), which a
 * worker swaps for a light copy: the script itself uses the Promise API.
 */
import { Task } from "../src/index.ts"

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener("abort", () => {
      clearTimeout(timer)
      reject(signal.reason)
    }, { once: true })
  })

export const tasks = Task.module(import.meta.url, {
  /** How many primes are below `limit`: CPU work, by trial division. */
  countPrimes: (limit: number) => {
    let count = 0
    for (let n = 2; n < limit; n++) {
      let prime = true
      for (let d = 2; d * d <= n; d++) {
        if (n % d === 0) {
          prime = false
          break
        }
      }
      if (prime) count++
    }
    return count
  },

  /** Parses one line of JSON: throws a `SyntaxError` on a bad line. */
  parseRecord: (line: string): { readonly id: number; readonly name: string } => JSON.parse(line),

  /**
   * A slow download in `parts` parts of 100 ms: an async task that watches
   * `Task.signal()`, which aborts when the caller's `signal` does.
   */
  download: async (parts: number) => {
    const signal = Task.signal()
    for (let part = 1; part <= parts; part++) {
      try {
        await sleep(100, signal)
      } catch (reason) {
        console.log(`  worker: download stopped after ${part - 1} of ${parts} parts (${String(reason)})`)
        throw reason
      }
    }
    return `${parts} parts`
  }
})
