import { Effect } from "effect"
import * as fs from "node:fs"

/** A fresh Int32Array over shared memory, for flags that tasks set in their worker. */
export const shared = (length = 4): Int32Array => new Int32Array(new SharedArrayBuffer(4 * length))

/** Waits (without sleeping or spinning) until `flags[index]` is non-zero. */
export const waitFor = (flags: Int32Array, index: number): Effect.Effect<void> =>
  Effect.promise(async () => {
    while (Atomics.load(flags, index) === 0) {
      const result = Atomics.waitAsync(flags, index, 0)
      if (result.async) await result.value
    }
  })

/** Sets `flags[index]` and wakes whoever waits on it. */
export const open = (flags: Int32Array, index: number): void => {
  Atomics.store(flags, index, 1)
  Atomics.notify(flags, index)
}

/** The pool's worker threads alive in this process, counted by the OS (Node names the thread after the worker). */
export const poolThreads = (): number =>
  fs.readdirSync("/proc/self/task").filter((task) => {
    try {
      return fs.readFileSync(`/proc/self/task/${task}/comm`, "utf8").startsWith("effect-multipro")
    } catch {
      return false // the thread exited while we looked
    }
  }).length
