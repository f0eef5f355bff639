/**
 * The task module of `cancellation.ts`: two slow tasks that stop as soon as
 * their caller cancels them, and a task that reports how far they got.
 *
 * `console.log` in a worker is printed by the main process, prefixed here with
 * `[worker]`.
 */
import { Effect } from "effect"
import { setTimeout as sleep } from "node:timers/promises"
import { Task } from "../src/index.ts"

// Progress counters. They live in the worker that runs the tasks (a pool of
// one worker in the example), so `progress` reads the same ones.
let partsDownloaded = 0
let ticks = 0

export const tasks = Task.module(import.meta.url, {
  /**
   * An async task: "downloads" `parts` parts of 100 ms each. It hands
   * `Task.signal()` to the API it awaits (as one would with `fetch`), so a
   * cancellation rejects the pending wait and the loop ends there.
   */
  download: async (parts: number) => {
    const signal = Task.signal()
    for (let part = 1; part <= parts; part++) {
      try {
        await sleep(100, undefined, { signal })
      } catch (error) {
        console.log(`[worker] download: aborted after ${part - 1} of ${parts} parts`)
        throw error
      }
      partsDownloaded++
      console.log(`[worker] download: part ${part} of ${parts}`)
    }
    return parts
  },

  /**
   * An Effect task: ticks every 100 ms. No signal needed: its fiber is
   * interrupted when the caller is, and its finalizers run.
   */
  ticker: (count: number) =>
    Effect.gen(function*() {
      for (let tick = 1; tick <= count; tick++) {
        yield* Effect.sleep("100 millis")
        ticks++
        console.log(`[worker] ticker: tick ${tick} of ${count}`)
      }
      return count
    }).pipe(Effect.onInterrupt(() => Effect.sync(() => console.log("[worker] ticker: interrupted")))),

  /** How much work the two tasks above have done in this worker. */
  progress: () => ({ partsDownloaded, ticks })
})
