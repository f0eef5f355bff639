/**
 * The task module of the soak (`scripts/soak.ts`).
 *
 * Every task takes, first, a `Unit`: `[counters, index]`, an Int32Array over a
 * SharedArrayBuffer (shared with the worker threads, not copied) and the
 * task's own slot in it. The first thing a task does is count itself there,
 * so that the soak can check, once every worker has exited, that no call ran
 * twice and that every call that succeeded ran exactly once.
 *
 * Results are pure functions of the arguments (`expect*` below), so the soak
 * checks each value exactly.
 */
import { Effect, Schema } from "effect"
import * as fs from "node:fs"
import { BroadcastChannel, isMainThread, parentPort, threadId } from "node:worker_threads"
import { setTimeout as sleep } from "node:timers/promises"
import { Task } from "../src/index.ts"

/** A declared, schema-backed error: it reaches the caller as itself. */
export class SoakDeclared extends Schema.TaggedError<SoakDeclared>()("SoakDeclared", {
  unit: Schema.Number,
  n: Schema.Number
}) {}

/**
 * `[counters, index]`: where a task counts its runs. Under the processes
 * backend no memory is shared: `counters` is empty (`RUN_LOG_UNIT`), `index`
 * is the unit's id, and the task appends its counts to the run log instead.
 */
export type Unit = readonly [counters: Int32Array, index: number]

/**
 * The variable that names the run log of a processes soak: a file each task
 * appends `S<id>` (it started) and `F<id>` (it finished) lines to, which the
 * soak reads back; a worker process that loads this module writes `P<pid>`.
 */
export const RUN_LOG_ENV = "EFFECT_MULTIPROCESSING_SOAK_RUN_LOG"

/** The counters of a unit counted in the run log (processes: nothing shared). */
export const RUN_LOG_UNIT = new Int32Array(0)

let runLog: number | undefined
/** Appends a line to the run log: one `write` on a file opened for appending, so lines never interleave. */
const logRun = (line: string): void => {
  runLog ??= fs.openSync(process.env[RUN_LOG_ENV]!, "a")
  fs.writeSync(runLog, line)
}

/** The channel on which every worker that loads this module says hello (the soak counts worker threads). */
export const HELLO_CHANNEL = "effect-multiprocessing-soak/hello"

if (!isMainThread) {
  const channel = new BroadcastChannel(HELLO_CHANNEL)
  channel.postMessage(threadId)
  channel.close()
} else if (process.send !== undefined && process.env[RUN_LOG_ENV] !== undefined) {
  logRun(`P${process.pid}\n`)
}

/**
 * Added to a unit's slot by some tasks (`syncMath`, `asyncMath`, `busy`) just
 * before they return: runs are counted in the low 16 bits, finishes above.
 */
export const FINISHED = 1 << 16

const finish = (unit: Unit): void => {
  if (unit[0].length === 0) logRun(`F${unit[1]}\n`)
  else Atomics.add(unit[0], unit[1], FINISHED)
}

const count = (unit: Unit): void => {
  if (unit[0].length === 0) logRun(`S${unit[1]}\n`)
  else Atomics.add(unit[0], unit[1], 1)
}

/** An integer hash: cheap CPU work with a checkable result. */
export const mix = (x: number): number => {
  let h = (x ^ 0x9e3779b9) | 0
  for (let round = 0; round < 8; round++) {
    h = Math.imul(h ^ (h >>> 16), 0x45d9f3b)
    h = Math.imul(h ^ (h >>> 13), 0x27d4eb2d)
  }
  return (h ^ (h >>> 16)) >>> 0
}

export const expectSync = (x: number): number => mix(x)
export const expectAsync = (x: number): number => (mix(x) ^ 0x5a5a) >>> 0
export const expectEffect = (x: number): number => (mix(x) + 7) >>> 0

const spin = (ms: number): void => {
  const end = performance.now() + ms
  while (performance.now() < end) {
    // busy: a synchronous loop that cannot see a CANCEL
  }
}

/** A reply batch that is a real array of a huge bogus length, with nothing in it (a few bytes on the wire). */
const sparse = (length: number): Array<unknown> => {
  const array: Array<unknown> = []
  array.length = length
  return array
}

/**
 * What `protocolGarbage` posts: not a message, a reply batch that is not an
 * array, a reply with a bogus status for no job, an object with a bogus
 * length, and real arrays of a bogus length (whole replies, and not).
 */
export const GARBAGE: ReadonlyArray<unknown> = [
  null,
  [1, null],
  [1, [-7, 99, "bogus", 0]],
  [1, { length: 1e9 }],
  [1, sparse(1e9)],
  [1, sparse(2 ** 32 - 1)]
]

/** A map / imap item: `[counters, index, x, delay ms, flag]`. */
export type Item = readonly [counters: Int32Array, index: number, x: number, delay: number, flag: number]

const unitOf = (item: Item): Unit => [item[0], item[1]]

export const tasks = Task.module(import.meta.url, {
  // -- normal tasks ----------------------------------------------------------------
  syncMath: (unit: Unit, x: number) => {
    count(unit)
    const result = expectSync(x)
    finish(unit)
    return result
  },
  /**
   * Once it marks itself finished, the worker runtime replies in the same
   * microtask checkpoint: no other task can run in between, so a
   * `WorkerCrashed` for a finished `asyncMath` means its result was lost.
   */
  asyncMath: async (unit: Unit, x: number, delay: number) => {
    count(unit)
    await sleep(delay)
    finish(unit)
    return expectAsync(x)
  },
  effectMath: (unit: Unit, x: number, delay: number) =>
    Effect.sync(() => count(unit)).pipe(
      Effect.andThen(delay > 0 ? Effect.sleep(delay) : Effect.void),
      Effect.as(expectEffect(x))
    ),

  // -- items for map / imap ----------------------------------------------------------
  syncItem: (item: Item) => {
    count(unitOf(item))
    return expectSync(item[2])
  },
  asyncItem: async (item: Item) => {
    count(unitOf(item))
    await sleep(item[3])
    return expectAsync(item[2])
  },
  effectItem: (item: Item) =>
    Effect.sync(() => count(unitOf(item))).pipe(
      Effect.andThen(item[3] > 0 ? Effect.sleep(item[3]) : Effect.void),
      Effect.as(expectEffect(item[2]))
    ),
  /** Throws when `flag` is 1. */
  throwingItem: (item: Item) => {
    count(unitOf(item))
    if (item[4] === 1) throw new RangeError(`soak: item ${item[1]} throws`)
    return expectSync(item[2])
  },
  /** Exits its worker with code `flag` when `flag` is not 0. */
  crashingItem: (item: Item) => {
    count(unitOf(item))
    if (item[4] !== 0) process.exit(item[4])
    return expectSync(item[2])
  },

  // -- starmap ---------------------------------------------------------------------
  syncPair: (counters: Int32Array, index: number, x: number) => {
    count([counters, index])
    return expectSync(x)
  },

  // -- crashes ---------------------------------------------------------------------
  /** Exits the worker with `code`. */
  crashExit: (unit: Unit, code: number): number => {
    count(unit)
    process.exit(code)
  },
  /** Crashes the worker with an uncaught throw in a timer; the promise never settles. */
  crashTimer: (unit: Unit, message: string) => {
    count(unit)
    return new Promise<number>(() => {
      setTimeout(() => {
        throw new Error(message)
      }, 0)
    })
  },

  // -- broken workers ------------------------------------------------------------------
  /**
   * Posts a message to the pool that is not a well-formed protocol message
   * (`variant` picks which), as a buggy or hostile task could, then keeps its
   * worker busy for `ms` (synchronously: no other task starts on it meanwhile)
   * and returns `expectSync(x)`. A pool that checks its boundary replaces such
   * a worker, failing the tasks it held with `WorkerCrashed`; one that does
   * not must at least survive the message.
   */
  protocolGarbage: (unit: Unit, x: number, variant: number, ms: number) => {
    count(unit)
    const garbage = GARBAGE[variant % GARBAGE.length]
    if (parentPort !== null) parentPort.postMessage(garbage)
    else process.send?.(garbage)
    spin(ms)
    finish(unit)
    return expectSync(x)
  },
  /** Returns `expectSync(x)`, then exits its worker with `code` on the next turn of its event loop. */
  exitAfterReturn: (unit: Unit, x: number, code: number) => {
    count(unit)
    setImmediate(() => process.exit(code))
    finish(unit)
    return expectSync(x)
  },
  /** Never settles, and ignores `Task.signal()`: only replacing its worker ends it. */
  ignoreSignal: (unit: Unit) => {
    count(unit)
    Task.signal().addEventListener("abort", () => {
      // heard, and ignored
    })
    return new Promise<number>(() => {})
  },

  // -- errors ----------------------------------------------------------------------
  declaredFail: (unit: Unit, n: number) =>
    Effect.sync(() => count(unit)).pipe(
      Effect.andThen(n % 2 === 0 ? Effect.sleep(n % 3) : Effect.void),
      Effect.andThen(Effect.fail(new SoakDeclared({ unit: unit[1], n })))
    ),
  throwSync: (unit: Unit): number => {
    count(unit)
    throw new RangeError(`soak: unit ${unit[1]} throws`)
  },
  rejectAsync: async (unit: Unit, delay: number): Promise<number> => {
    count(unit)
    await sleep(delay)
    throw new SyntaxError(`soak: unit ${unit[1]} rejects`)
  },

  // -- for cancellations --------------------------------------------------------------
  /**
   * Sync, CPU-bound: busy for `ms`, then returns `ms`. A worker killed
   * mid-loop leaves it unfinished.
   */
  busy: (unit: Unit, ms: number) => {
    count(unit)
    spin(ms)
    finish(unit)
    return ms
  },
  /** Async: waits `ms` in steps of `step` ms, each wait aborted by the task's signal. */
  abortableWait: async (unit: Unit, ms: number, step: number) => {
    count(unit)
    const signal = Task.signal()
    for (let waited = 0; waited < ms; waited += step) {
      await sleep(Math.min(step, ms - waited), undefined, { signal })
    }
    return ms
  },
  /** Effect: sleeps `ms`, then returns `ms`; its fiber is interrupted on cancel. */
  effectWait: (unit: Unit, ms: number) =>
    Effect.sync(() => count(unit)).pipe(Effect.andThen(Effect.sleep(ms)), Effect.as(ms))
}, { errors: [SoakDeclared] })
