/**
 * The task module of `streaming.ts`.
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
  /** A job whose cost depends on its input: 50 to 250 ms of CPU work. */
  crunch: (job: number) => {
    const ms = ((job * 3) % 5 + 1) * 50
    spin(ms)
    return { job, ms }
  },

  /** A cheap task. */
  square: (n: number) => n * n
})
