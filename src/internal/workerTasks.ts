/**
 * Running one task in the worker: `runTask` calls a task's function for each
 * item of a RUN (one for `apply`, each of a chunk for `map` / `starmap`), and
 * ends in exactly one reply (workerReplies.ts), whatever the task returns or
 * throws. Sync and Promise tasks run as plain calls (no fiber); an Effect task
 * runs in its own fiber. `step` publishes which job holds the thread, and a
 * long chunk of sync items yields to the event loop every `SLICE_MS`.
 *
 * Effect is loaded only when a task returns an Effect (`fx()`).
 *
 * @internal
 */
import type * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Protocol from "./protocol.ts"
import * as WorkerLogs from "./workerLogs.ts"
import type { Definition } from "./workerModules.ts"
import type { Replies } from "./workerReplies.ts"
import type { Running, Shared, TaskContextStore } from "./workerRuntime.ts"
import {
  apply,
  classify,
  EFFECT,
  fx,
  type Kind,
  now,
  PROMISE,
  promiseThen,
  setImmediateOriginal,
  thenFound,
  VALUE
} from "./workerValues.ts"

/** How long the runtime runs queued tasks (or one chunk's items) before yielding to the event loop. */
export const SLICE_MS = 4

/** A chunk of sync items looks at the clock after this many items, at first. */
const CHECK_EVERY = 4
/** The most items between two looks at the clock. */
const MAX_CHECK_EVERY = 1024

/**
 * After `done` items of a chunk (counted from `from`, where this run of it
 * began), `elapsed` ms into the slice: the item count at which to look at the
 * clock again. Fast items double the stride while the slice is far from over
 * (well within `SLICE_MS` at the next look, if they keep their pace), so a
 * chunk of cheap items reads the clock a few times per slice, not every few
 * items; slow ones are checked every `CHECK_EVERY`.
 */
const nextCheck = (from: number, done: number, elapsed: number): number =>
  done + (elapsed * 4 < SLICE_MS ? Math.min(Math.max(done - from, CHECK_EVERY), MAX_CHECK_EVERY) : CHECK_EVERY)

/** Makes the worker's `runTask`. */
export const make = (options: {
  readonly shared: Shared
  readonly replies: Replies
  readonly store: TaskContextStore
  /** Publishes the job running synchronously now (`undefined`: none; see `Protocol.Progress`). */
  readonly publish: { readonly running: (id: number | undefined) => void }
}) => {
  const { publish, shared, store } = options
  const { flush, reply, replyCause, replyResults, replyThrown, scheduleFlush } = options.replies
  /** The contexts its Effect tasks run with, made with the first. */
  let contexts: WorkerLogs.TaskContexts | undefined

  /**
   * Runs one RUN operation. A chunk (`map` / `starmap`) calls the function for
   * each item in order and answers with the array of results; the first
   * failure fails the chunk. Whatever a task returns or throws ends in one
   * reply: nothing it does to its value can throw out of here.
   */
  const runTask = (task: Running, definition: Definition, mode: Protocol.Mode, payload: unknown) => {
    const started = now()
    const fn = definition.fn!
    const single = mode === Protocol.MODE_APPLY
    const items = (single ? [payload] : payload) as ReadonlyArray<unknown>
    // map calls f(x) on each item as it is; apply and starmap spread the argument tuple they were sent
    const spread = mode !== Protocol.MODE_MAP
    const results: Array<unknown> = single ? [] : new Array(items.length)

    /** Records an Effect task's success and says whether to go on, or replies with its failure. */
    const onEffectExit = (exit: Exit.Exit<unknown, unknown>, i: number): boolean => {
      if (exit._tag === "Success") {
        results[i] = exit.value
        return true
      }
      replyCause(task, definition, exit.cause, started)
      return false
    }

    /**
     * Runs items from `from` on, synchronously, publishing that this job holds
     * the thread meanwhile, inside the task's context (for `Task.signal()`,
     * also in what its items start): entered once per run, not per item.
     */
    const step = (from: number): void => {
      publish.running(task.id)
      try {
        store.run(task, () => stepFrom(from))
      } finally {
        publish.running(undefined)
      }
    }

    /** Waits for item `i`'s promise or thenable (`then`), once: a thenable may call back twice, or throw after. */
    const awaitItem = (result: unknown, then: Function, i: number): void => {
      let settled = false
      const onFulfilled = (value: unknown) => {
        if (settled) return
        settled = true
        results[i] = value
        step(i + 1)
        scheduleFlush()
      }
      const onRejected = (error: unknown) => {
        if (settled) return
        settled = true
        replyThrown(task, error, started)
        scheduleFlush()
      }
      try {
        apply(then, result, [onFulfilled, onRejected])
      } catch (error) {
        onRejected(error)
      }
    }

    /**
     * Runs item `i`'s Effect in a fiber: says whether it succeeded at once
     * (the loop goes on); otherwise its failure is answered, or its fiber
     * goes on from item `i + 1` when it ends. (Kept out of the loop, whose
     * body then captures nothing: no closure context per item.)
     */
    const runEffect = (effect: Effect.Effect<unknown, unknown>, i: number): boolean => {
      const { Effect } = fx()
      let fiber: Fiber.Fiber<unknown, unknown>
      try {
        // its logs and spans reach its caller (workerLogs.ts)
        contexts ??= WorkerLogs.make(shared, scheduleFlush, flush)
        fiber = Effect.runForkWith(contexts(definition, task))(effect)
      } catch (error) {
        replyThrown(task, error, started)
        return false
      }
      const done = fiber.pollUnsafe()
      if (done !== undefined) return onEffectExit(done, i)
      task.fiber = fiber
      if (task.cancelled) fiber.interruptUnsafe()
      fiber.addObserver((exit) => {
        task.fiber = undefined
        if (onEffectExit(exit, i)) step(i + 1)
        scheduleFlush()
      })
      return false
    }

    const stepFrom = (from: number): void => {
      // when to look at the clock next (the item count): see `nextCheck`
      let checkAt = from + CHECK_EVERY
      for (let i = from; i < items.length; i++) {
        if (task.cancelled) return reply(task, Protocol.STATUS_CANCELLED, undefined, started)
        let result: unknown
        try {
          result = spread ? fn(...items[i] as ReadonlyArray<unknown>) : fn(items[i])
        } catch (error) {
          return replyThrown(task, error, started)
        }
        let kind: Kind
        try {
          kind = classify(result)
        } catch (error) {
          return replyThrown(task, error, started, "the task's result could not be inspected: ")
        }
        if (kind === EFFECT) {
          // completed synchronously: go on in this loop, so a long chunk does not grow the stack
          if (runEffect(result as Effect.Effect<unknown, unknown>, i)) continue
          return
        }
        if (kind !== VALUE) return awaitItem(result, kind === PROMISE ? promiseThen : thenFound(), i)
        results[i] = result
        if (i + 1 < checkAt || single || i + 1 === items.length) continue
        const elapsed = now() - shared.sliceStart
        if (elapsed > SLICE_MS) {
          // a long chunk of sync items: let a CANCEL in, then go on where it stopped
          const next = i + 1
          setImmediateOriginal(() => {
            shared.sliceStart = now()
            step(next)
            flush()
          })
          return
        }
        checkAt = nextCheck(from, i + 1, elapsed)
      }
      replyResults(task, single, results, started)
    }
    step(0)
  }

  return runTask
}
