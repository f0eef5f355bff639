/**
 * Fault injection, SEMANTICS.md 30: the liveness check of a worker holding
 * work. A worker that stopped listening, whose replies stop coming, or that
 * writes impossible values into the progress memory it shares with the pool
 * is replaced within a bound, and its tasks fail with `WorkerCrashed` saying
 * why; a worker that is merely busy (a long synchronous task, or an async one
 * that keeps its event loop free) is never killed by it.
 *
 * The check runs on the pool's Clock (here the TestClock), but whether a
 * worker answers, and (threads) whether its event loop sat idle, are real
 * events: `driveUntil` advances the clock a step at a time and lets real time
 * pass between steps, until what the test waits for has happened. No
 * assertion depends on how long anything took.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as TestClock from "effect/testing/TestClock"
import { WorkerCrashed, WorkerPool } from "../../src/index.ts"
import { tasks as bounds } from "../fixtures/bounds-tasks.ts"
import { withChannelTap } from "../fixtures/channel-tap-state.ts"
import { tasks } from "../fixtures/tasks.ts"
import { backends, makeFlags, open, waitFor } from "../utils.ts"

const pause = (millis: number) => Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, millis)))

/** Advances the TestClock half a second at a time, letting real time pass between steps, until `fiber` is done. */
const driveUntil = <A, E>(fiber: Fiber.Fiber<A, E>, maxSteps = 400) =>
  Effect.gen(function*() {
    for (let step = 0; step < maxSteps && fiber.pollUnsafe() === undefined; step++) {
      yield* TestClock.adjust("500 millis")
      yield* pause(10)
    }
  })

/** Advances the TestClock by `seconds`, half a second at a time, letting real time pass between steps. */
const drive = (seconds: number) =>
  Effect.gen(function*() {
    for (let step = 0; step < seconds * 2; step++) {
      yield* TestClock.adjust("500 millis")
      yield* pause(10)
    }
  })

for (const backend of backends) {
  describe(`liveness of workers holding work (${backend})`, () => {
    // A process shares no memory with the pool: it cannot say which jobs it started. So the pool pings a process
    // together with a job that may run long (one not measured yet, as here) or when it has not heard an answer for a
    // second (the second variant); a tiny job sent right after an answer carries no ping, costs no extra message,
    // and is caught by a cancel if its process has stopped listening (test/faults/bounds.test.ts).
    for (const variant of ["a call not measured yet", "a measured call a second after the last answer"] as const) {
      it.effect(`30. a worker that stopped listening is replaced when it gets work (${variant}); the pool keeps serving`, () =>
        Effect.gen(function*() {
          const pool = yield* WorkerPool.make({ size: 1, backend })
          const firstWorker = yield* pool.apply(tasks.workerId, [])
          assert.strictEqual(yield* pool.apply(bounds.stopListening, []), "deaf")
          if (variant !== "a call not measured yet") yield* TestClock.adjust("1 second")
          // the next call goes to the deaf worker, which never receives it
          const next = yield* Effect.forkChild(Effect.exit(
            variant === "a call not measured yet"
              ? Effect.map(pool.apply(tasks.tagWithWorker, [1]), ([, worker]) => worker)
              : pool.apply(tasks.workerId, [])
          ))
          yield* driveUntil(next)
          const exit = yield* Fiber.join(next)
          if (backend === "threads") {
            // a thread says in shared memory that it never started the call: it runs on the replacement
            assert.strictEqual(exit._tag, "Success")
            assert.notStrictEqual((exit as { readonly value: string }).value, firstWorker)
          } else {
            // a process shares no memory: a call it was sent counts as started, and fails
            assert.strictEqual(exit._tag, "Failure")
            const error = yield* Effect.flip(exit)
            assert.instanceOf(error, WorkerCrashed)
            assert.include(error.message, "did not answer")
          }
          assert.notStrictEqual(yield* pool.apply(tasks.workerId, []), firstWorker, "a replacement serves")
        }))
    }

    it.effect("30. a long synchronous task is never killed by the liveness check", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const flags = yield* makeFlags(backend)
        const caller = yield* Effect.forkChild(pool.apply(tasks.spin, [flags]))
        yield* waitFor(flags, 0)
        yield* drive(10) // well past the liveness bound: the worker cannot answer, it is busy
        open(flags, 1)
        assert.strictEqual(yield* Fiber.join(caller), "unstuck")
      }))

    it.effect("30. an async task that keeps its event loop free answers the liveness check and is never killed", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const flags = yield* makeFlags(backend)
        const caller = yield* Effect.forkChild(pool.apply(tasks.waitForRelease, [flags]))
        yield* waitFor(flags, 0)
        yield* drive(10)
        open(flags, 1)
        assert.strictEqual(yield* Fiber.join(caller), "released")
      }))
  })
}

// processes: with no shared memory, a process whose task stopped it listening (or replying) while it runs cannot be
// told apart from one running synchronous code; it is caught when its call is cancelled (test/faults/bounds.test.ts)
// or when its next call arrives (above)
describe("liveness: what only threads can tell (threads)", () => {
  const backend = "threads" as const

  it.effect("30. a task that stops its worker listening, then holds it, fails with WorkerCrashed saying why", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1, backend })
      const flags = yield* makeFlags(backend)
      const caller = yield* Effect.forkChild(Effect.flip(pool.apply(bounds.stopListeningAndHang, [flags])))
      yield* waitFor(flags, 0)
      yield* driveUntil(caller)
      const error = yield* Fiber.join(caller)
      assert.instanceOf(error, WorkerCrashed)
      assert.include(error.message, "did not answer")
      assert.strictEqual(yield* pool.apply(tasks.square, [5]), 25)
    }))

  it.effect("30. a worker whose replies stop coming is replaced; its call fails with WorkerCrashed", () =>
    Effect.gen(function*() {
      // its channel is muted below what the worker captured (a task alone cannot stop its replies)
      const pool = yield* WorkerPool.make({ size: 1, backend, execArgv: withChannelTap })
      const caller = yield* Effect.forkChild(Effect.flip(pool.apply(bounds.stopReplying, [])))
      yield* driveUntil(caller)
      const error = yield* Fiber.join(caller)
      assert.instanceOf(error, WorkerCrashed)
      assert.include(error.message, "did not answer")
      assert.strictEqual(yield* pool.apply(tasks.square, [6]), 36)
    }))

  const garbage = [
    { cell: 0, value: 2 ** 31 - 1, what: "started" },
    { cell: 1, value: 123_456, what: "running" },
    { cell: 2, value: 99, what: "cancels read" }
  ] as const
  for (const { cell, value, what } of garbage) {
    it.effect(`30. a worker that writes garbage into its shared progress (${what}) is replaced; its call fails`, () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const flags = yield* makeFlags(backend)
        const caller = yield* Effect.forkChild(Effect.flip(pool.apply(bounds.corruptProgress, [cell, value, flags])))
        yield* waitFor(flags, 0)
        yield* driveUntil(caller)
        const error = yield* Fiber.join(caller)
        assert.instanceOf(error, WorkerCrashed)
        assert.include(error.message, "impossible")
        assert.include(error.message, what)
        assert.strictEqual(yield* pool.apply(tasks.square, [8]), 64)
      }))
  }
})
