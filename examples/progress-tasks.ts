/**
 * The task module of `progress.ts`.
 */
import { Task } from "../src/index.ts"

/** Keeps this thread busy for `ms` milliseconds: stands in for real CPU work. */
const spin = (ms: number) => {
  const end = performance.now() + ms
  while (performance.now() < end) {
    // busy
  }
}

export const tasks = Task.module(import.meta.url, {
  /** One item of a long map: 2 to 10 ms of CPU work. */
  score: (item: number) => {
    spin(2 + (item * 7) % 9)
    return item % 10
  },

  /** One long call that reports how far it has got, row by row. */
  scan: (rows: number) => {
    let sum = 0
    for (let row = 1; row <= rows; row++) {
      spin(1)
      sum += row % 3
      Task.progress({ row, rows }) // cheap: coalesced in the worker, at most one update per progressInterval
    }
    return sum
  }
})
