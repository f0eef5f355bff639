/**
 * Soak test: one pool, a mixed workload for a bounded time, and exact
 * accounting of every call. Not part of `npm test`.
 *
 *   npm run soak                                   # 60 s, pool of 2
 *   SOAK_SECONDS=20 SOAK_SIZE=4 SOAK_SEED=42 npx node scripts/soak.ts
 *
 * Environment: `SOAK_SECONDS` (default 60), `SOAK_SIZE` (pool size, default 2),
 * `SOAK_SEED` (PRNG seed, default random, always printed), `SOAK_INFLIGHT`
 * (calls kept in flight, default 200), `SOAK_CRASH_GAP_MS` / `SOAK_STALL_GAP_MS`
 * (mean gap between two crash tasks, default 800, and between two cancels
 * that outlast the grace period, default 1500).
 *
 * The workload (see `OPS`): normal sync / async / Effect tasks through
 * `apply`, `map`, `starmap`, `imap`, `imapUnordered`, `applyAsync`,
 * `mapAsync`; tasks that crash their worker (`process.exit`, an uncaught throw
 * in a timer); cancellations (`Effect.timeout`, `Fiber.interrupt`) of
 * CPU-bound sync tasks (some longer than the pool's 250 ms cancel grace
 * period, so their worker is killed and replaced), of async tasks that watch
 * `Task.signal()` and of Effect tasks; declared typed errors and thrown
 * errors.
 *
 * Every call ends in exactly one bucket:
 * - `ok`: succeeded with exactly the expected value;
 * - `crashed`, `declared`, `thrown`, `cancelled`: failed with the error its kind
 *   expects (`WorkerCrashed`; the declared class; `TaskError`; an interruption
 *   or `Cause.TimeoutError`);
 * - `collateral`: a call that is not a crash task failed with `WorkerCrashed`
 *   because it was running on a worker that died (another task crashed it, or
 *   it was killed after a cancel's grace period). Allowed only for calls that
 *   can be in flight while another task runs on their worker: async and Effect
 *   tasks, map chunks (which yield between items), cancelled calls. A
 *   synchronous `apply` runs to its end before anything else runs on its
 *   worker, so `WorkerCrashed` on one is a violation. An `asyncMath` call (it replies in the same microtask checkpoint as it
 *   marks itself finished) that failed with `WorkerCrashed` although its task
 *   had finished lost its result: a violation, not collateral;
 * - `violation`: anything else; `lost`: never completed (also a violation).
 *
 * Each task counts its runs in a SharedArrayBuffer. Once every worker has
 * exited: no task ran more than once, and every task of a call that
 * succeeded (or failed with its own declared / thrown / crash error) ran
 * exactly once. A call pending for more than `STALL_MS` is a violation, and
 * so is one that never completes; `join` must return; no pool thread may be
 * left. Exit code 1 on any violation.
 */
import { Cause, Effect, Exit, Fiber, Stream } from "effect"
import * as fs from "node:fs"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import { BroadcastChannel } from "node:worker_threads"
import { TaskError, WorkerCrashed, WorkerPool } from "../src/index.ts"
import {
  expectAsync,
  expectEffect,
  expectSync,
  FINISHED,
  HELLO_CHANNEL,
  type Item,
  SoakDeclared,
  tasks,
  type Unit
} from "./soak-tasks.ts"

// -- configuration -------------------------------------------------------------------

const envNumber = (name: string, fallback: number, valid: (n: number) => boolean): number => {
  const raw = process.env[name]
  if (raw === undefined || raw === "") return fallback
  const n = Number(raw)
  if (!valid(n)) {
    console.error(`soak: invalid ${name}=${raw}`)
    process.exit(2)
  }
  return n
}

const SECONDS = envNumber("SOAK_SECONDS", 60, (n) => Number.isFinite(n) && n > 0)
const SIZE = envNumber("SOAK_SIZE", 2, (n) => Number.isSafeInteger(n) && n >= 1)
const INFLIGHT = envNumber("SOAK_INFLIGHT", 200, (n) => Number.isSafeInteger(n) && n >= 1)
const SEED = envNumber(
  "SOAK_SEED",
  (Date.now() ^ (process.pid << 16)) >>> 0,
  (n) => Number.isSafeInteger(n) && n >= 0 && n <= 0xffffffff
)

/** The pool's default cancel grace period (we do not override it). */
const GRACE_MS = 250
/** A call pending longer than this is reported as stalled. */
const STALL_MS = 30_000
/** After the deadline, how long the calls in flight may take to finish before they count as lost. */
const DRAIN_MS = 60_000
/** How long `join` may take. */
const JOIN_MS = 60_000
/** Mean gap between two crash tasks, and between two cancels that outlast the grace period. */
const CRASH_GAP_MS = envNumber("SOAK_CRASH_GAP_MS", 800, (n) => Number.isFinite(n) && n >= 0)
const STALL_GAP_MS = envNumber("SOAK_STALL_GAP_MS", 1500, (n) => Number.isFinite(n) && n >= 0)
const PROGRESS_EVERY_MS = 10_000

// -- seeded randomness ------------------------------------------------------------------

const mulberry32 = (seed: number) => () => {
  let t = (seed = (seed + 0x6d2b79f5) | 0)
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

interface Rng {
  readonly float: () => number
  /** An integer in [min, max]. */
  readonly int: (min: number, max: number) => number
  readonly chance: (p: number) => boolean
}

/** Call `n`'s own generator: its kind and parameters depend only on the seed and `n`. */
const rngFor = (n: number): Rng => {
  const float = mulberry32((SEED ^ Math.imul(n + 1, 0x9e3779b1)) >>> 0)
  return {
    float,
    int: (min, max) => min + Math.floor(float() * (max - min + 1)),
    chance: (p) => float() < p
  }
}

// -- run counters: one Int32 slot per task run, shared with the workers ---------------------

const SEGMENT = 1 << 18

class Units {
  private readonly counters: Array<Int32Array> = []
  /** 1: this unit must have run exactly once (its call succeeded, or failed with its own error). */
  private readonly mustRun: Array<Uint8Array> = []
  /** The call that owns each unit. */
  private readonly owner: Array<Int32Array> = []
  size = 0

  alloc(call: number): { readonly id: number; readonly unit: Unit } {
    const id = this.size++
    const segment = Math.floor(id / SEGMENT)
    if (segment === this.counters.length) {
      this.counters.push(new Int32Array(new SharedArrayBuffer(4 * SEGMENT)))
      this.mustRun.push(new Uint8Array(SEGMENT))
      this.owner.push(new Int32Array(SEGMENT))
    }
    const index = id % SEGMENT
    this.owner[segment][index] = call
    return { id, unit: [this.counters[segment], index] }
  }

  requireRan(id: number): void {
    this.mustRun[Math.floor(id / SEGMENT)][id % SEGMENT] = 1
  }

  /** How many times the unit's task started. */
  runs(id: number): number {
    return Atomics.load(this.counters[Math.floor(id / SEGMENT)], id % SEGMENT) % FINISHED
  }

  /** How many times the unit's task marked itself finished (only some tasks do). */
  finishes(id: number): number {
    return Math.floor(Atomics.load(this.counters[Math.floor(id / SEGMENT)], id % SEGMENT) / FINISHED)
  }

  mustHaveRun(id: number): boolean {
    return this.mustRun[Math.floor(id / SEGMENT)][id % SEGMENT] === 1
  }

  ownerOf(id: number): number {
    return this.owner[Math.floor(id / SEGMENT)][id % SEGMENT]
  }
}

// -- calls, expectations and buckets ----------------------------------------------------------

type Kind = "normal" | "crash" | "declared" | "thrown" | "cancel"
type Bucket = "ok" | "crashed" | "declared" | "thrown" | "cancelled" | "collateral" | "violation" | "lost"
const BUCKETS: ReadonlyArray<Bucket> = [
  "ok",
  "crashed",
  "declared",
  "thrown",
  "cancelled",
  "collateral",
  "violation",
  "lost"
]

interface Expect {
  readonly kind: Kind
  /** The value of a success (`normal`; `cancel` calls that finish before they are cancelled). */
  readonly value?: unknown
  /** Compare an array result as a multiset (imapUnordered). */
  readonly unordered?: boolean
  /** May fail with `WorkerCrashed` as a bystander of another task's crash (see the header). */
  readonly collateralOk: boolean
  /** For `crash` / `declared` / `thrown`: why the error is not the expected one, if it is not. */
  readonly check?: (error: unknown) => string | undefined
  /** The units that must have run once if the call succeeds (default: all of them). */
  readonly ranOnSuccess?: ReadonlyArray<number>
  /** The units that must have run once if the call fails with its expected error. */
  readonly ranOnError?: ReadonlyArray<number>
  /**
   * A unit whose task replies as soon as it marks itself finished: if the call
   * is a collateral crash but that unit finished, its result was lost (a violation).
   */
  readonly repliesWhenFinished?: number
}

interface Call {
  readonly n: number
  readonly op: string
  readonly units: Array<number>
  readonly startedAt: number
  stalled: boolean
}

interface Built {
  readonly run: Effect.Effect<Exit.Exit<unknown, unknown>>
  readonly expect: Expect
}

interface Ctx {
  readonly rng: Rng
  readonly pool: WorkerPool.Pool
  /** Allocates a unit for this call. */
  readonly unit: () => { readonly id: number; readonly unit: Unit }
  readonly item: (x: number, delay: number, flag: number) => { readonly id: number; readonly item: Item }
}

type Heavy = "crash" | "stall"

interface Op {
  readonly name: string
  readonly weight: number
  readonly heavy?: Heavy
  readonly build: (ctx: Ctx) => Built
}

const exitOf = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<Exit.Exit<unknown, unknown>> => Effect.exit(effect)

/** Units of long `busy` calls interrupted once they had started: each should have had its worker killed. */
const longBusyStarted: Array<number> = []

/** Async delays: mostly none, so that some async tasks are cheap enough to share a worker. */
const smallDelay = (rng: Rng) => rng.chance(0.6) ? 0 : rng.int(1, 3)

/**
 * Forks `effect`, waits until its task has started (its run counter is set)
 * or it is over, then `ms` more, interrupts it, and returns how it ended and
 * whether it had started.
 */
const interruptAfterStart = <A, E>(
  effect: Effect.Effect<A, E>,
  unit: Unit,
  ms: number,
  onStarted?: () => void
): Effect.Effect<Exit.Exit<unknown, unknown>> =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(effect)
    const since = performance.now()
    while (Atomics.load(unit[0], unit[1]) === 0 && fiber.pollUnsafe() === undefined) {
      if (performance.now() - since > 20_000) break
      yield* Effect.sleep(1)
    }
    if (Atomics.load(unit[0], unit[1]) !== 0 && fiber.pollUnsafe() === undefined) onStarted?.()
    yield* Effect.sleep(ms)
    yield* Fiber.interrupt(fiber)
    return yield* Fiber.await(fiber)
  })

/** Forks `effect`, waits `ms`, interrupts it, and returns how it ended. */
const interruptAfter = <A, E>(effect: Effect.Effect<A, E>, ms: number): Effect.Effect<Exit.Exit<unknown, unknown>> =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(effect)
    yield* Effect.sleep(ms)
    yield* Fiber.interrupt(fiber)
    return yield* Fiber.await(fiber)
  })

const isTaskError = (error: unknown, remoteName: string, includes: string): string | undefined => {
  if (!(error instanceof TaskError)) return `expected TaskError, got ${describe(error)}`
  if (error.remoteName !== remoteName) return `expected a remote ${remoteName}, got ${error.remoteName}`
  if (!error.message.includes(includes)) return `TaskError message ${JSON.stringify(error.message)} lacks "${includes}"`
  return undefined
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

const x32 = (rng: Rng) => rng.int(0, 0x7fffffff)

const OPS: ReadonlyArray<Op> = [
  // -- normal tasks ------------------------------------------------------------------------
  {
    name: "apply sync",
    weight: 20,
    build: ({ pool, rng, unit }) => {
      const x = x32(rng)
      return {
        run: exitOf(pool.apply(tasks.syncMath, [unit().unit, x])),
        expect: { kind: "normal", value: expectSync(x), collateralOk: false }
      }
    }
  },
  {
    name: "apply async",
    weight: 8,
    build: ({ pool, rng, unit }) => {
      const x = x32(rng)
      const { id, unit: u } = unit()
      return {
        run: exitOf(pool.apply(tasks.asyncMath, [u, x, smallDelay(rng)])),
        expect: { kind: "normal", value: expectAsync(x), collateralOk: true, repliesWhenFinished: id }
      }
    }
  },
  {
    name: "apply effect",
    weight: 8,
    build: ({ pool, rng, unit }) => {
      const x = x32(rng)
      return {
        run: exitOf(pool.apply(tasks.effectMath, [unit().unit, x, smallDelay(rng)])),
        expect: { kind: "normal", value: expectEffect(x), collateralOk: true }
      }
    }
  },
  {
    name: "map sync",
    weight: 6,
    build: ({ pool, rng, item }) => {
      const xs = range(rng.int(0, 60)).map(() => x32(rng))
      const chunksize = rng.chance(0.4) ? undefined : rng.int(1, 12)
      const items = xs.map((x) => item(x, 0, 0).item)
      return {
        run: exitOf(pool.map(tasks.syncItem, items, { chunksize })),
        expect: { kind: "normal", value: xs.map(expectSync), collateralOk: true }
      }
    }
  },
  {
    name: "map async+effect",
    weight: 3,
    build: ({ pool, rng, item }) => {
      const xs = range(rng.int(1, 20)).map(() => x32(rng))
      const chunksize = rng.chance(0.3) ? undefined : rng.int(1, 6)
      const items = xs.map((x) => item(x, smallDelay(rng), 0).item)
      const effect = rng.chance(0.5)
      return {
        run: exitOf(pool.map(effect ? tasks.effectItem : tasks.asyncItem, items, { chunksize })),
        expect: { kind: "normal", value: xs.map(effect ? expectEffect : expectAsync), collateralOk: true }
      }
    }
  },
  {
    name: "starmap sync",
    weight: 2,
    build: ({ pool, rng, unit }) => {
      const xs = range(rng.int(1, 40)).map(() => x32(rng))
      const chunksize = rng.chance(0.4) ? undefined : rng.int(1, 8)
      const tuples = xs.map((x) => {
        const [counters, index] = unit().unit
        return [counters, index, x] as const
      })
      return {
        run: exitOf(pool.starmap(tasks.syncPair, tuples, { chunksize })),
        expect: { kind: "normal", value: xs.map(expectSync), collateralOk: true }
      }
    }
  },
  {
    name: "imap sync",
    weight: 3,
    build: ({ pool, rng, item }) => {
      const xs = range(rng.int(0, 40)).map(() => x32(rng))
      const chunksize = rng.chance(0.5) ? undefined : rng.int(1, 5)
      const items = xs.map((x) => item(x, 0, 0).item)
      const input = rng.chance(0.5) ? Stream.fromIterable(items) : items
      return {
        run: exitOf(Stream.runCollect(pool.imap(tasks.syncItem, input, { chunksize }))),
        expect: { kind: "normal", value: xs.map(expectSync), collateralOk: true }
      }
    }
  },
  {
    name: "imapUnordered async",
    weight: 3,
    build: ({ pool, rng, item }) => {
      const xs = range(rng.int(1, 30)).map(() => x32(rng))
      const chunksize = rng.chance(0.5) ? undefined : rng.int(1, 4)
      const items = xs.map((x) => item(x, smallDelay(rng), 0).item)
      const input = rng.chance(0.5) ? Stream.fromIterable(items) : items
      return {
        run: exitOf(Stream.runCollect(pool.imapUnordered(tasks.asyncItem, input, { chunksize }))),
        expect: { kind: "normal", value: xs.map(expectAsync), unordered: true, collateralOk: true }
      }
    }
  },
  {
    name: "imap take (ends early)",
    weight: 1,
    build: ({ pool, rng, item }) => {
      const xs = range(rng.int(2, 40)).map(() => x32(rng))
      const take = rng.int(1, xs.length - 1)
      const chunksize = rng.chance(0.5) ? undefined : rng.int(1, 4)
      const made = xs.map((x) => item(x, smallDelay(rng), 0))
      const effect = rng.chance(0.5)
      return {
        run: exitOf(Stream.runCollect(
          pool.imap(effect ? tasks.effectItem : tasks.asyncItem, made.map((m) => m.item), { chunksize }).pipe(
            Stream.take(take)
          )
        )),
        expect: {
          kind: "normal",
          value: xs.slice(0, take).map(effect ? expectEffect : expectAsync),
          collateralOk: true,
          ranOnSuccess: made.slice(0, take).map((m) => m.id)
        }
      }
    }
  },
  {
    name: "applyAsync sync",
    weight: 4,
    build: ({ pool, rng, unit }) => {
      const x = x32(rng)
      return {
        run: exitOf(Effect.flatMap(pool.applyAsync(tasks.syncMath, [unit().unit, x]), (result) => result.get())),
        expect: { kind: "normal", value: expectSync(x), collateralOk: false }
      }
    }
  },
  {
    name: "applyAsync get(timeout) then get",
    weight: 2,
    build: ({ pool, rng, unit }) => {
      const x = x32(rng)
      const timeout = rng.int(0, 3)
      const { id, unit: u } = unit()
      return {
        // a get that times out only stops waiting: the task keeps running and a later get returns its value
        run: exitOf(Effect.gen(function*() {
          const result = yield* pool.applyAsync(tasks.asyncMath, [u, x, rng.int(1, 6)])
          yield* Effect.exit(result.get({ timeout }))
          return yield* result.get()
        })),
        expect: { kind: "normal", value: expectAsync(x), collateralOk: true, repliesWhenFinished: id }
      }
    }
  },
  {
    name: "mapAsync sync",
    weight: 1,
    build: ({ pool, rng, item }) => {
      const xs = range(rng.int(0, 30)).map(() => x32(rng))
      const items = xs.map((x) => item(x, 0, 0).item)
      return {
        run: exitOf(
          Effect.flatMap(pool.mapAsync(tasks.syncItem, items, { chunksize: rng.int(1, 8) }), (result) => result.get())
        ),
        expect: { kind: "normal", value: xs.map(expectSync), collateralOk: true }
      }
    }
  },

  // -- errors ------------------------------------------------------------------------------
  {
    name: "declared error",
    weight: 3,
    build: ({ pool, rng, unit }) => {
      const { id, unit: u } = unit()
      const n = rng.int(0, 1000)
      return {
        run: exitOf(pool.apply(tasks.declaredFail, [u, n])),
        expect: {
          kind: "declared",
          collateralOk: true,
          ranOnError: [id],
          check: (error) =>
            !(error instanceof SoakDeclared)
              ? `expected SoakDeclared, got ${describe(error)}`
              : error._tag !== "SoakDeclared" || error.unit !== u[1] || error.n !== n
              ? `SoakDeclared with wrong fields: ${JSON.stringify(error)} (expected unit ${u[1]}, n ${n})`
              : undefined
        }
      }
    }
  },
  {
    name: "thrown sync",
    weight: 2,
    build: ({ pool, unit }) => {
      const { id, unit: u } = unit()
      return {
        run: exitOf(pool.apply(tasks.throwSync, [u])),
        expect: {
          kind: "thrown",
          collateralOk: false,
          ranOnError: [id],
          check: (error) => isTaskError(error, "RangeError", `unit ${u[1]} throws`)
        }
      }
    }
  },
  {
    name: "thrown async",
    weight: 1,
    build: ({ pool, rng, unit }) => {
      const { id, unit: u } = unit()
      return {
        run: exitOf(pool.apply(tasks.rejectAsync, [u, rng.int(0, 2)])),
        expect: {
          kind: "thrown",
          collateralOk: true,
          ranOnError: [id],
          check: (error) => isTaskError(error, "SyntaxError", `unit ${u[1]} rejects`)
        }
      }
    }
  },
  {
    name: "map with a throwing item",
    weight: 1,
    build: ({ pool, rng, item }) => {
      const n = rng.int(1, 30)
      const bad = rng.int(0, n - 1)
      const made = range(n).map((i) => item(x32(rng), 0, i === bad ? 1 : 0))
      const badUnit = made[bad].item[1]
      return {
        run: exitOf(pool.map(tasks.throwingItem, made.map((m) => m.item), { chunksize: rng.int(1, 8) })),
        expect: {
          kind: "thrown",
          collateralOk: true,
          ranOnError: [made[bad].id],
          check: (error) => isTaskError(error, "RangeError", `item ${badUnit} throws`)
        }
      }
    }
  },

  // -- crashes -------------------------------------------------------------------------------
  {
    name: "crash: process.exit",
    weight: 0.6,
    heavy: "crash",
    build: ({ pool, rng, unit }) => {
      const { id, unit: u } = unit()
      const code = rng.int(3, 9)
      return {
        run: exitOf(pool.apply(tasks.crashExit, [u, code])),
        expect: {
          kind: "crash",
          collateralOk: true,
          ranOnError: [id],
          // a sync task that exits at once: its worker died of exactly this
          check: (error) =>
            !(error instanceof WorkerCrashed)
              ? `expected WorkerCrashed, got ${describe(error)}`
              : error.exitCode !== code || error.signal !== null
              ? `expected exit code ${code}, got ${error.exitCode} / ${error.signal}: ${error.message}`
              : undefined
        }
      }
    }
  },
  {
    name: "crash: throw in timer",
    weight: 0.6,
    heavy: "crash",
    build: ({ pool, unit }) => {
      const { id, unit: u } = unit()
      const message = `soak: uncaught in a timer, unit ${u[1]}`
      return {
        run: exitOf(pool.apply(tasks.crashTimer, [u, message])),
        expect: {
          kind: "crash",
          collateralOk: true,
          ranOnError: [id],
          // async: another crash on its worker may come first, so any WorkerCrashed will do
          check: (error) => error instanceof WorkerCrashed ? undefined : `expected WorkerCrashed, got ${describe(error)}`
        }
      }
    }
  },
  {
    name: "crash: map item exits",
    weight: 0.3,
    heavy: "crash",
    build: ({ pool, rng, item }) => {
      const n = rng.int(1, 20)
      const bad = rng.int(0, n - 1)
      const made = range(n).map((i) => item(x32(rng), 0, i === bad ? rng.int(3, 9) : 0))
      return {
        run: exitOf(pool.map(tasks.crashingItem, made.map((m) => m.item), { chunksize: rng.int(1, 6) })),
        expect: {
          kind: "crash",
          collateralOk: true,
          check: (error) => error instanceof WorkerCrashed ? undefined : `expected WorkerCrashed, got ${describe(error)}`
        }
      }
    }
  },

  // -- cancellations ------------------------------------------------------------------------------
  {
    name: "cancel: sync busy, timeout",
    weight: 2,
    build: ({ pool, rng, unit }) => {
      const ms = rng.int(5, 60)
      const timeout = rng.int(1, Math.min(ms - 1, 20))
      return {
        run: exitOf(pool.apply(tasks.busy, [unit().unit, ms]).pipe(Effect.timeout(timeout))),
        expect: { kind: "cancel", value: ms, collateralOk: true }
      }
    }
  },
  {
    name: "cancel: sync busy > grace, timeout",
    weight: 0.5,
    heavy: "stall",
    build: ({ pool, rng, unit }) => {
      const ms = rng.int(GRACE_MS + 80, GRACE_MS + 350)
      return {
        run: exitOf(pool.apply(tasks.busy, [unit().unit, ms]).pipe(Effect.timeout(rng.int(5, 50)))),
        expect: { kind: "cancel", value: ms, collateralOk: true }
      }
    }
  },
  {
    // cancelled once running, with at least 150 ms of spinning left after the grace period: its worker is killed
    name: "cancel: sync busy > grace, started",
    weight: 0.6,
    heavy: "stall",
    build: ({ pool, rng, unit }) => {
      const ms = rng.int(GRACE_MS + 170, GRACE_MS + 450)
      const { id, unit: u } = unit()
      return {
        run: interruptAfterStart(pool.apply(tasks.busy, [u, ms]), u, rng.int(0, 20), () => longBusyStarted.push(id)),
        expect: { kind: "cancel", value: ms, collateralOk: true }
      }
    }
  },
  {
    name: "cancel: async signal, interrupt",
    weight: 1.5,
    build: ({ pool, rng, unit }) => {
      const ms = rng.int(20, 200)
      const { unit: u } = unit()
      const call = pool.apply(tasks.abortableWait, [u, ms, rng.int(1, 20)])
      return {
        run: rng.chance(0.5) ? interruptAfter(call, rng.int(0, 30)) : interruptAfterStart(call, u, rng.int(0, 10)),
        expect: { kind: "cancel", value: ms, collateralOk: true }
      }
    }
  },
  {
    name: "cancel: sync busy, started",
    weight: 1,
    build: ({ pool, rng, unit }) => {
      const ms = rng.int(5, 60)
      const { unit: u } = unit()
      return {
        run: interruptAfterStart(pool.apply(tasks.busy, [u, ms]), u, rng.int(0, 3)),
        expect: { kind: "cancel", value: ms, collateralOk: true }
      }
    }
  },
  {
    name: "cancel: effect, started",
    weight: 1,
    build: ({ pool, rng, unit }) => {
      const ms = rng.int(10, 200)
      const { unit: u } = unit()
      return {
        run: interruptAfterStart(pool.apply(tasks.effectWait, [u, ms]), u, rng.int(0, 10)),
        expect: { kind: "cancel", value: ms, collateralOk: true }
      }
    }
  },
  {
    name: "cancel: effect, timeout",
    weight: 1.5,
    build: ({ pool, rng, unit }) => {
      const ms = rng.int(10, 200)
      return {
        run: exitOf(pool.apply(tasks.effectWait, [unit().unit, ms]).pipe(Effect.timeout(rng.int(0, 30)))),
        expect: { kind: "cancel", value: ms, collateralOk: true }
      }
    }
  },
  {
    name: "cancel: applyAsync fiber interrupt",
    weight: 1,
    build: ({ pool, rng, unit }) => {
      const ms = rng.int(10, 150)
      const async = rng.chance(0.5)
      const after = rng.int(0, 30)
      return {
        run: Effect.gen(function*() {
          const result = yield* (async
            ? pool.applyAsync(tasks.abortableWait, [unit().unit, ms, rng.int(1, 20)])
            : pool.applyAsync(tasks.effectWait, [unit().unit, ms]))
          yield* Effect.sleep(after)
          yield* Fiber.interrupt(result.fiber)
          return yield* Fiber.await(result.fiber)
        }).pipe(Effect.catch((error) => Effect.succeed(Exit.fail(error)))),
        expect: { kind: "cancel", value: ms, collateralOk: true }
      }
    }
  },
  {
    name: "cancel: map, timeout",
    weight: 1,
    build: ({ pool, rng, item }) => {
      const xs = range(rng.int(2, 30)).map(() => x32(rng))
      const items = xs.map((x) => item(x, rng.int(2, 10), 0).item)
      return {
        run: exitOf(pool.map(tasks.asyncItem, items, { chunksize: rng.int(1, 4) }).pipe(Effect.timeout(rng.int(1, 15)))),
        expect: { kind: "cancel", value: xs.map(expectAsync), collateralOk: true }
      }
    }
  }
]

const TOTAL_WEIGHT = OPS.reduce((sum, op) => sum + op.weight, 0)
const FALLBACK = OPS[0]

// -- classification ----------------------------------------------------------------------------

const describe = (u: unknown): string => {
  if (u instanceof Error) {
    const tag = (u as { _tag?: unknown })._tag
    return `${typeof tag === "string" ? tag : u.name}: ${u.message}`
  }
  try {
    return JSON.stringify(u) ?? String(u)
  } catch {
    return String(u)
  }
}

const show = (u: unknown): string => {
  const s = describe(u)
  return s.length > 200 ? s.slice(0, 200) + "…" : s
}

const sameValue = (actual: unknown, expected: unknown, unordered: boolean): boolean => {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return false
    if (!unordered) return actual.every((a, i) => a === expected[i])
    const sort = (xs: ReadonlyArray<unknown>) => [...xs].sort((a, b) => (a as number) - (b as number))
    const a = sort(actual)
    const e = sort(expected)
    return a.every((v, i) => v === e[i])
  }
  return actual === expected
}

interface Verdict {
  readonly bucket: Bucket
  readonly detail?: string
  /** For cancelled calls: how they ended. */
  readonly how?: "interrupted" | "timeout"
  readonly crash?: WorkerCrashed
}

const classify = (exit: Exit.Exit<unknown, unknown>, expect: Expect): Verdict => {
  if (Exit.isSuccess(exit)) {
    if (expect.kind !== "normal" && expect.kind !== "cancel") {
      return { bucket: "violation", detail: `expected a ${expect.kind} failure, succeeded with ${show(exit.value)}` }
    }
    return sameValue(exit.value, expect.value, expect.unordered === true)
      ? { bucket: "ok" }
      : { bucket: "violation", detail: `wrong value ${show(exit.value)}, expected ${show(expect.value)}` }
  }
  const cause = exit.cause
  if (Cause.hasInterruptsOnly(cause)) {
    return expect.kind === "cancel"
      ? { bucket: "cancelled", how: "interrupted" }
      : { bucket: "violation", detail: "interrupted, though nothing interrupted it" }
  }
  const found = Cause.findErrorOption(cause)
  if (found._tag === "None") return { bucket: "violation", detail: `died: ${Cause.pretty(cause)}` }
  const error = found.value
  if (Cause.isTimeoutError(error)) {
    return expect.kind === "cancel"
      ? { bucket: "cancelled", how: "timeout" }
      : { bucket: "violation", detail: "timed out, though no timeout was set" }
  }
  if (error instanceof WorkerCrashed) {
    if (expect.kind === "crash") {
      const wrong = expect.check?.(error)
      return wrong === undefined ? { bucket: "crashed", crash: error } : { bucket: "violation", detail: wrong, crash: error }
    }
    return expect.collateralOk
      ? { bucket: "collateral", crash: error }
      : { bucket: "violation", detail: `a ${expect.kind} call failed with WorkerCrashed: ${error.message}`, crash: error }
  }
  if (expect.kind === "declared" || expect.kind === "thrown") {
    const wrong = expect.check?.(error)
    return wrong === undefined ? { bucket: expect.kind } : { bucket: "violation", detail: wrong }
  }
  return { bucket: "violation", detail: `unexpected failure ${show(error)}` }
}

// -- the soak ----------------------------------------------------------------------------------------

const poolThreads = (): number =>
  fs.readdirSync("/proc/self/task").filter((task) => {
    try {
      return fs.readFileSync(`/proc/self/task/${task}/comm`, "utf8").startsWith("effect-multipro")
    } catch {
      return false
    }
  }).length

// a full GC before some heap readings, so that they show what is retained rather than garbage
v8.setFlagsFromString("--expose-gc")
const gc = vm.runInNewContext("gc") as () => void

const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`

interface OpStats {
  calls: number
  readonly buckets: Record<Bucket, number>
  maxMs: number
}

const main = Effect.gen(function*() {
  console.log(
    `soak: ${SECONDS} s, pool size ${SIZE}, ${INFLIGHT} calls in flight, seed ${SEED} (rerun with SOAK_SEED=${SEED})`
  )
  console.log(
    `      node ${process.version}; call n's operation and parameters depend only on the seed and n (timing does not)`
  )

  const units = new Units()
  const pending = new Map<number, Call>()
  const buckets: Record<Bucket, number> = Object.fromEntries(BUCKETS.map((b) => [b, 0])) as Record<Bucket, number>
  const perOp = new Map<string, OpStats>(
    OPS.map((op) => [op.name, { calls: 0, buckets: { ...buckets }, maxMs: 0 }])
  )
  const violations: Array<string> = []
  let violationCount = 0
  const violate = (text: string) => {
    violationCount++
    if (violations.length < 25) violations.push(text)
  }
  const stalls: Array<string> = []
  const collateralCauses = new Map<string, number>()
  const cancelHow = { interrupted: 0, timeout: 0, finished: 0 }
  const crashedWorkers = new Set<number>()
  const killedWorkers = new Set<number>()
  let submitted = 0
  /** Collateral crashes of calls whose task replies once finished: a finished one lost its result. */
  const collateralToRecheck: Array<
    { readonly n: number; readonly op: string; readonly unit: number; readonly key: string; readonly message: string }
  > = []
  /** The units of the calls that violated, to say after join whether their tasks ran. */
  const violatingCalls: Array<{ readonly n: number; readonly units: ReadonlyArray<number> }> = []
  let completedTwice = 0

  // workers that load the task module say hello with their threadId
  const workerThreads = new Set<number>()
  const hello = new BroadcastChannel(HELLO_CHANNEL)
  hello.onmessage = (event) => workerThreads.add((event as MessageEvent).data as number)
  hello.unref()

  // memory of this process (worker threads are part of it: RSS includes them; heapUsed is the main isolate's)
  const memory = { peakRss: 0, peakHeap: 0, startRss: 0, startHeap: 0, retained: [] as Array<string> }
  const sampleMemory = () => {
    const usage = process.memoryUsage()
    memory.peakRss = Math.max(memory.peakRss, usage.rss)
    memory.peakHeap = Math.max(memory.peakHeap, usage.heapUsed)
    return usage
  }
  gc()
  const startUsage = sampleMemory()
  memory.startRss = startUsage.rss
  memory.startHeap = startUsage.heapUsed

  const threadsBefore = poolThreads()
  const eluStart = performance.eventLoopUtilization()
  const started = performance.now()
  const deadline = started + SECONDS * 1000

  // the heavy operations are rate-limited in time (not in calls), so that crashes and kills stay rare
  const gapRng = rngFor(-1)
  const nextHeavy: Record<Heavy, number> = { crash: started + 500, stall: started + 500 }
  const gaps: Record<Heavy, number> = { crash: CRASH_GAP_MS, stall: STALL_GAP_MS }
  let heavyDeferred = 0

  const timers: Array<NodeJS.Timeout> = []
  timers.push(setInterval(sampleMemory, 200))
  timers.push(setInterval(() => {
    const now = performance.now()
    for (const call of pending.values()) {
      if (now - call.startedAt < STALL_MS) break // pending is in submission order
      if (!call.stalled) {
        call.stalled = true
        stalls.push(`call #${call.n} (${call.op}) pending for more than ${STALL_MS / 1000} s`)
        violate(`call #${call.n} (${call.op}) pending for more than ${STALL_MS / 1000} s`)
      }
    }
  }, 1000))
  timers.push(setInterval(() => {
    const before = sampleMemory()
    gc()
    const usage = process.memoryUsage()
    const t = ((performance.now() - started) / 1000).toFixed(0)
    memory.retained.push(`${t}s ${mb(usage.heapUsed)}`)
    console.log(
      `  t=${t}s submitted ${submitted}, in flight ${pending.size}, ok ${buckets.ok}, crashed ${buckets.crashed}, ` +
        `cancelled ${buckets.cancelled}, collateral ${buckets.collateral}, violations ${violationCount}, ` +
        `rss ${mb(before.rss)}, heapUsed ${mb(before.heapUsed)} (${mb(usage.heapUsed)} after GC)`
    )
  }, PROGRESS_EVERY_MS))
  for (const timer of timers) timer.unref()

  const result = yield* Effect.scoped(Effect.gen(function*() {
    const pool = yield* WorkerPool.make({ size: SIZE })

    const runOne = Effect.suspend(() => {
      const n = submitted++
      const rng = rngFor(n)
      let r = rng.float() * TOTAL_WEIGHT
      let op = OPS[OPS.length - 1]
      for (const candidate of OPS) {
        if ((r -= candidate.weight) < 0) {
          op = candidate
          break
        }
      }
      if (op.heavy !== undefined) {
        const now = performance.now()
        if (now < nextHeavy[op.heavy]) {
          heavyDeferred++
          op = FALLBACK
        } else {
          nextHeavy[op.heavy] = now + gaps[op.heavy] * (0.5 + gapRng.float())
        }
      }
      const call: Call = { n, op: op.name, units: [], startedAt: performance.now(), stalled: false }
      const ctx: Ctx = {
        rng,
        pool,
        unit: () => {
          const allocated = units.alloc(n)
          call.units.push(allocated.id)
          return allocated
        },
        item: (x, delay, flag) => {
          const { id, unit } = ctx.unit()
          return { id, item: [unit[0], unit[1], x, delay, flag] as const }
        }
      }
      const built = op.build(ctx)
      pending.set(n, call)
      const stats = perOp.get(op.name)!
      stats.calls++
      return Effect.map(built.run, (exit) => {
        if (!pending.delete(n)) {
          completedTwice++
          violate(`call #${n} (${op.name}) completed twice`)
          return
        }
        const elapsed = performance.now() - call.startedAt
        stats.maxMs = Math.max(stats.maxMs, elapsed)
        const verdict = classify(exit, built.expect)
        buckets[verdict.bucket]++
        stats.buckets[verdict.bucket]++
        if (verdict.crash !== undefined) {
          crashedWorkers.add(verdict.crash.workerId)
          if (verdict.crash.message.includes("killed: a cancelled")) killedWorkers.add(verdict.crash.workerId)
        }
        if (verdict.bucket === "collateral") {
          const why = verdict.crash!.message.includes("killed: a cancelled")
            ? "worker killed after a cancel's grace period"
            : verdict.crash!.exitCode !== null
            ? `worker exited with code ${verdict.crash!.exitCode}`
            : `worker ended (${verdict.crash!.signal})`
          const key = `${op.name} ← ${why}`
          collateralCauses.set(key, (collateralCauses.get(key) ?? 0) + 1)
          const unitId = built.expect.repliesWhenFinished
          if (unitId !== undefined) {
            collateralToRecheck.push({ n, op: op.name, unit: unitId, key, message: verdict.crash!.message })
          }
        }
        if (verdict.bucket === "violation") {
          violate(`call #${n} (${op.name}): ${verdict.detail}`)
          violatingCalls.push({ n, units: call.units })
        }
        if (built.expect.kind === "cancel") {
          if (verdict.bucket === "ok") cancelHow.finished++
          else if (verdict.how !== undefined) cancelHow[verdict.how]++
        }
        // what must have run exactly once, checked once every worker has exited
        if (verdict.bucket === "ok") for (const id of built.expect.ranOnSuccess ?? call.units) units.requireRan(id)
        if (verdict.bucket === "crashed" || verdict.bucket === "declared" || verdict.bucket === "thrown") {
          for (const id of built.expect.ranOnError ?? []) units.requireRan(id)
        }
      })
    })

    const lane = Effect.whileLoop({
      while: () => performance.now() < deadline,
      body: () => runOne,
      step: () => {}
    })
    const lanes = yield* Effect.forkChild(Effect.forEach(range(INFLIGHT), () => lane, {
      concurrency: "unbounded",
      discard: true
    }))
    yield* Effect.sleep(SECONDS * 1000)
    const stoppedSubmitting = performance.now()
    // let the calls in flight finish; the ones that do not are lost
    const drained = yield* Fiber.await(lanes).pipe(Effect.timeoutOption(DRAIN_MS + 1000))
    const drainMs = performance.now() - stoppedSubmitting
    if (drained._tag === "None") {
      for (const call of pending.values()) {
        buckets.lost++
        perOp.get(call.op)!.buckets.lost++
        violate(`call #${call.n} (${call.op}) never completed (lost)`)
      }
      pending.clear()
      yield* Fiber.interrupt(lanes)
    } else if (Exit.isFailure(drained.value)) {
      violate(`the driver failed: ${Cause.pretty(drained.value.cause)}`)
    }
    const ranFor = (performance.now() - started) / 1000
    const elu = performance.eventLoopUtilization(eluStart).utilization

    // close + join: waits for the workers to exit
    const joinStart = performance.now()
    yield* pool.close
    const joined = yield* pool.join.pipe(Effect.timeoutOption(JOIN_MS))
    const joinMs = performance.now() - joinStart
    if (joined._tag === "None") violate(`join did not return within ${JOIN_MS / 1000} s`)
    const threadsAfterJoin = poolThreads()
    return { ranFor, elu, drainMs, joinMs, threadsAfterJoin }
  }))
  for (const timer of timers) clearInterval(timer)
  const threadsAfterScope = poolThreads()
  sampleMemory()
  gc()
  memory.retained.push(`end (pool closed) ${mb(process.memoryUsage().heapUsed)}`)

  // -- checks once every worker has exited ------------------------------------------------------
  if (result.threadsAfterJoin !== threadsBefore) {
    violate(`${result.threadsAfterJoin - threadsBefore} pool worker thread(s) still alive after join`)
  }
  if (threadsAfterScope !== threadsBefore) {
    violate(`${threadsAfterScope - threadsBefore} pool worker thread(s) still alive after the pool's scope closed`)
  }
  const runs = { zero: 0, once: 0, more: 0 }
  let missingRuns = 0
  for (let id = 0; id < units.size; id++) {
    const count = units.runs(id)
    if (count === 0) runs.zero++
    else if (count === 1) runs.once++
    else {
      runs.more++
      violate(`task unit ${id} of call #${units.ownerOf(id)} ran ${count} times`)
    }
    if (units.mustHaveRun(id) && count !== 1) {
      missingRuns++
      if (count === 0) violate(`task unit ${id} of call #${units.ownerOf(id)} delivered its outcome but never ran`)
    }
  }
  for (const recheck of collateralToRecheck) {
    if (units.finishes(recheck.unit) === 0) continue
    // not collateral after all: the task had finished, and its result was lost
    buckets.collateral--
    buckets.violation++
    const stats = perOp.get(recheck.op)!
    stats.buckets.collateral--
    stats.buckets.violation++
    collateralCauses.set(recheck.key, collateralCauses.get(recheck.key)! - 1)
    if (collateralCauses.get(recheck.key) === 0) collateralCauses.delete(recheck.key)
    violate(`call #${recheck.n} (${recheck.op}): its task had finished, yet it failed with WorkerCrashed: ${recheck.message}`)
    violatingCalls.push({ n: recheck.n, units: [recheck.unit] })
  }
  const violationRuns: Array<string> = []
  for (const { n, units: ids } of violatingCalls.slice(0, 10)) {
    const counts = ids.map((id) => `${units.runs(id)}${units.finishes(id) > 0 ? " (finished)" : ""}`)
    violationRuns.push(`call #${n}: ${counts.length === 1 ? counts[0] : `[${counts.join(", ")}]`}`)
  }
  let killedMidSpin = 0
  let ranToEnd = 0
  for (const id of longBusyStarted) {
    if (units.finishes(id) === 0) killedMidSpin++
    else ranToEnd++
  }
  const accounted = BUCKETS.reduce((sum, b) => sum + buckets[b], 0)
  if (accounted !== submitted) violate(`accounting: ${submitted} submitted, ${accounted} in buckets`)
  if (pending.size > 0) violate(`${pending.size} calls still pending at the end`)
  hello.close()

  // -- summary ---------------------------------------------------------------------------------------
  const line = (label: string, value: string | number) => console.log(`  ${label.padEnd(30)} ${value}`)
  console.log("\n=== soak summary ===")
  line("seed", SEED)
  line("pool size / calls in flight", `${SIZE} / ${INFLIGHT}`)
  line("ran", `${result.ranFor.toFixed(1)} s (drain after deadline ${(result.drainMs / 1000).toFixed(2)} s, close+join ${(result.joinMs / 1000).toFixed(2)} s)`)
  line("calls submitted", submitted)
  line("calls accounted", `${accounted} (${accounted === submitted ? "all" : "MISMATCH"})`)
  for (const bucket of BUCKETS) line(`  ${bucket}`, buckets[bucket])
  line("throughput", `${(submitted / result.ranFor).toFixed(0)} calls/s, ${(units.size / result.ranFor).toFixed(0)} task runs/s submitted; main event loop ${(result.elu * 100).toFixed(0)}% busy`)
  line("task units", `${units.size}: ran once ${runs.once}, never ${runs.zero}, more than once ${runs.more}`)
  line("units required to run once", `${missingRuns === 0 ? "all did" : `${missingRuns} did not`}`)
  line("cancel calls", `interrupted ${cancelHow.interrupted}, timed out ${cancelHow.timeout}, finished first ${cancelHow.finished}`)
  line(
    "long sync cancels, once started",
    `${longBusyStarted.length}: worker killed mid-loop ${killedMidSpin}, loop ran to its end ${ranToEnd}` +
      (ranToEnd > 0 ? " (WARNING: expected a kill after the grace period)" : "")
  )
  line("heavy ops deferred (rate cap)", heavyDeferred)
  line(
    "workers seen dying",
    `${crashedWorkers.size} named by WorkerCrashed errors (${killedWorkers.size} of them killed after a grace period), ` +
      `${killedMidSpin} killed mid-loop after a long cancel`
  )
  line(
    "worker threads used",
    `${workerThreads.size} (pool of ${SIZE}: at least ${Math.max(0, workerThreads.size - SIZE)} replacements)`
  )
  line("pool threads after join", `${result.threadsAfterJoin - threadsBefore} (after scope: ${threadsAfterScope - threadsBefore})`)
  line("memory (main process)", `rss ${mb(memory.startRss)} → peak ${mb(memory.peakRss)} (maxRSS ${mb(process.resourceUsage().maxRSS * 1024)}), heapUsed ${mb(memory.startHeap)} → peak ${mb(memory.peakHeap)}`)
  line("heapUsed after GC", memory.retained.join(", "))
  console.log("\n  per operation: calls / ok crashed declared thrown cancelled collateral violation lost / max ms")
  for (const op of OPS) {
    const s = perOp.get(op.name)!
    const b = BUCKETS.map((bucket) => String(s.buckets[bucket]).padStart(6)).join(" ")
    console.log(`  ${op.name.padEnd(36)} ${String(s.calls).padStart(7)} /${b} / ${s.maxMs.toFixed(0)}`)
  }
  console.log(`\n  collateral crashes: ${buckets.collateral}`)
  for (const [key, value] of [...collateralCauses].sort((a, b) => b[1] - a[1])) console.log(`    ${value}× ${key}`)
  if (stalls.length > 0) {
    console.log(`\n  calls pending more than ${STALL_MS / 1000} s: ${stalls.length}`)
    for (const stall of stalls.slice(0, 10)) console.log(`    ${stall}`)
  }
  if (completedTwice > 0) line("calls completed twice", completedTwice)
  console.log(`\n  VIOLATIONS: ${violationCount}`)
  for (const v of violations) console.log(`    - ${v}`)
  if (violationRuns.length > 0) console.log(`    runs of the violating calls' tasks: ${violationRuns.join("; ")}`)
  if (violationCount > violations.length) console.log(`    … and ${violationCount - violations.length} more`)
  return violationCount
})

// a hard stop, should anything hang (drain and join have their own limits)
const watchdog = setTimeout(() => {
  console.error("soak: VIOLATION: the soak did not finish in time (something hangs); exiting")
  process.exit(1)
}, (SECONDS + DRAIN_MS / 1000 + JOIN_MS / 1000 + 60) * 1000)
watchdog.unref()

Effect.runPromise(main).then(
  (violationCount) => {
    console.log(violationCount === 0 ? "\nsoak: OK" : `\nsoak: FAILED with ${violationCount} violation(s)`)
    process.exit(violationCount === 0 ? 0 : 1)
  },
  (error) => {
    console.error("soak: crashed", error)
    process.exit(1)
  }
)
