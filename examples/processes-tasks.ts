/**
 * The task module of `processes.ts`. Its workers are child processes, so the
 * state below exists once in each process (and once more in the caller, which
 * imports this module for the task handles and never changes it).
 */
import { setTimeout as sleep } from "node:timers/promises"
import { Task } from "../src/index.ts"

/** How many times `bump` ran in this process. */
let counter = 0

/** What `leak` keeps alive in this process. */
const leaked: Array<Array<number>> = []

/** This process's counter: a plain function, not a task, for the caller to read its own copy. */
export const counterHere = () => counter

/** The values `roundTrip` receives and returns. */
export interface Values {
  readonly map: Map<string, number>
  readonly set: Set<string>
  readonly date: Date
  readonly big: bigint
  readonly samples: Float64Array
}

export const tasks = Task.module(import.meta.url, {
  /** The process a task runs in. */
  whoAmI: () => ({ pid: process.pid, parent: process.ppid }),

  /** Adds 1 to this process's counter and returns it with the pid. */
  bump: () => ({ pid: process.pid, counter: ++counter }),

  /**
   * Reports the types it received (they arrive as themselves, not as plain
   * objects), and returns changed copies of them.
   */
  roundTrip: (values: Values) => {
    const types = Object.entries(values).map(([key, value]) =>
      `${key}: ${typeof value === "object" ? value.constructor.name : typeof value}`
    )
    console.log(`  [pid ${process.pid}] roundTrip received ${types.join(", ")}`)
    return {
      map: new Map([...values.map, ["seen by", process.pid]]),
      set: new Set([...values.set, "worker"]),
      date: new Date(values.date.getTime() + 24 * 60 * 60 * 1000), // a day later
      big: values.big * values.big,
      samples: values.samples.map((x) => x * 2)
    }
  },

  /** Some work that takes a while: squares `n` after `ms` milliseconds. */
  slowSquare: async (n: number, ms = 100) => {
    await sleep(ms)
    return n * n
  },

  /** Keeps `mib` MiB alive for good, as a leaky library would; returns the pid and how much this process holds. */
  leak: (mib: number) => {
    for (let i = 0; i < mib; i++) leaked.push(new Array(131_072).fill(i + 0.5)) // 1 MiB of doubles each
    return { pid: process.pid, leakedMib: leaked.length }
  },

  /** Ends this worker's process, as a crashing native addon or a stray `process.exit` would. */
  exit: (code: number): never => process.exit(code)
})
