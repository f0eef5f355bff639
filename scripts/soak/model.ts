/**
 * What the soak's operations are made of (see `scripts/soak.ts`): a call's
 * kind and expected outcome, the buckets every call ends in, and the helpers
 * the operations of each fault kind (one file each, beside this one) share.
 */
import { Effect, Exit, Fiber } from "effect"
import { TaskError, WorkerCrashed, type WorkerPool } from "../../src/index.ts"
import type { Item, Unit } from "../soak-tasks.ts"

/** The pool's default cancel grace period (the soak does not override it). */
export const GRACE_MS = 250

export interface Rng {
  readonly float: () => number
  /** An integer in [min, max]. */
  readonly int: (min: number, max: number) => number
  readonly chance: (p: number) => boolean
}

/**
 * What a call is: `normal` must succeed; `crash` must fail with
 * `WorkerCrashed`; `declared` / `thrown` with its own error; `cancel` is
 * cancelled (or finishes first); `faulty` (a worker that breaks the rules but
 * returns) succeeds, or fails with `WorkerCrashed` if the pool replaced its worker.
 */
export type Kind = "normal" | "crash" | "declared" | "thrown" | "cancel" | "faulty"
export type Bucket = "ok" | "crashed" | "declared" | "thrown" | "cancelled" | "collateral" | "violation" | "lost"
export const BUCKETS: ReadonlyArray<Bucket> = [
  "ok",
  "crashed",
  "declared",
  "thrown",
  "cancelled",
  "collateral",
  "violation",
  "lost"
]

export interface Expect {
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
   * For `faulty` calls: a unit that marks itself finished just before its
   * task returns. A call that failed with `WorkerCrashed` although it had
   * finished lost its result (counted in the summary; allowed for these kinds).
   */
  readonly finishedIfCrashed?: number
  /**
   * A unit whose task replies as soon as it marks itself finished: if the call
   * is a collateral crash but that unit finished, its result was lost (a violation).
   */
  readonly repliesWhenFinished?: number
}

export interface Call {
  readonly n: number
  readonly op: string
  readonly units: Array<number>
  readonly startedAt: number
  stalled: boolean
}

export interface Built {
  readonly run: Effect.Effect<Exit.Exit<unknown, unknown>>
  readonly expect: Expect
}

export interface Ctx {
  readonly rng: Rng
  readonly pool: WorkerPool.Pool
  /** Allocates a unit for this call. */
  readonly unit: () => { readonly id: number; readonly unit: Unit }
  readonly item: (x: number, delay: number, flag: number) => { readonly id: number; readonly item: Item }
}

export type Heavy = "crash" | "stall"

export interface Op {
  readonly name: string
  readonly weight: number
  readonly heavy?: Heavy
  readonly build: (ctx: Ctx) => Built
}

export const exitOf = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<Exit.Exit<unknown, unknown>> => Effect.exit(effect)

/** Units of long `busy` calls interrupted once they had started: each should have had its worker killed. */
export const longBusyStarted: Array<number> = []

/** Async delays: mostly none, so that some async tasks are cheap enough to share a worker. */
export const smallDelay = (rng: Rng) => rng.chance(0.6) ? 0 : rng.int(1, 3)

/**
 * How many times a unit's task started, as the soak sees it now: its shared
 * counter (threads), or what the run log says (processes; set by the soak).
 */
export const unitState = {
  read: (unit: Unit): number => Atomics.load(unit[0], unit[1])
}

/**
 * Forks `effect`, waits until its task has started (its run counter is set)
 * or it is over, then `ms` more, interrupts it, and returns how it ended and
 * whether it had started.
 */
export const interruptAfterStart = <A, E>(
  effect: Effect.Effect<A, E>,
  unit: Unit,
  ms: number,
  onStarted?: () => void
): Effect.Effect<Exit.Exit<unknown, unknown>> =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(effect)
    const since = performance.now()
    while (unitState.read(unit) === 0 && fiber.pollUnsafe() === undefined) {
      if (performance.now() - since > 20_000) break
      yield* Effect.sleep(1)
    }
    if (unitState.read(unit) !== 0 && fiber.pollUnsafe() === undefined) onStarted?.()
    yield* Effect.sleep(ms)
    yield* Fiber.interrupt(fiber)
    return yield* Fiber.await(fiber)
  })

/** Forks `effect`, waits `ms`, interrupts it, and returns how it ended. */
export const interruptAfter = <A, E>(effect: Effect.Effect<A, E>, ms: number): Effect.Effect<Exit.Exit<unknown, unknown>> =>
  Effect.gen(function*() {
    const fiber = yield* Effect.forkChild(effect)
    yield* Effect.sleep(ms)
    yield* Fiber.interrupt(fiber)
    return yield* Fiber.await(fiber)
  })

export const isTaskError = (error: unknown, remoteName: string, includes: string): string | undefined => {
  if (!(error instanceof TaskError)) return `expected TaskError, got ${describe(error)}`
  if (error.remoteName !== remoteName) return `expected a remote ${remoteName}, got ${error.remoteName}`
  if (!error.message.includes(includes)) return `TaskError message ${JSON.stringify(error.message)} lacks "${includes}"`
  return undefined
}

export const range = (n: number) => Array.from({ length: n }, (_, i) => i)

export const x32 = (rng: Rng) => rng.int(0, 0x7fffffff)

export const describe = (u: unknown): string => {
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

/** For `faulty` calls, which may fail with `WorkerCrashed` only: why the error is not that, if it is not. */
export const workerCrashedOrNothing = (error: unknown): string | undefined =>
  error instanceof WorkerCrashed ? undefined : `expected a success or WorkerCrashed, got ${describe(error)}`
