/**
 * Fault injection, SEMANTICS.md 26: a cancelled task that keeps its worker
 * blocked in synchronous code past the grace period gets its worker killed and
 * replaced; a worker that is merely busy with other work, or that reads its
 * messages, is never killed. The grace period runs on the TestClock, so these
 * tests wait on events only.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Fiber } from "effect"
import * as TestClock from "effect/testing/TestClock"
import { WorkerCrashed, WorkerPool } from "../../src/index.ts"
import { tasks } from "../fixtures/tasks.ts"
import { dispatched, poolThreads, shared, waitFor } from "../utils.ts"

describe("stuck synchronous tasks", () => {
  it.effect("26. cancelling a synchronous loop that never ends replaces its worker; the next task runs", () =>
    Effect.gen(function*() {
      const threadsBefore = poolThreads()
      const pool = yield* WorkerPool.make({ size: 1 })
      const firstThread = yield* pool.apply(tasks.threadId, [])
      const flags = shared() // never released: the loop would spin forever
      const caller = yield* Effect.forkChild(pool.apply(tasks.spin, [flags]))
      yield* waitFor(flags, 0)
      yield* Fiber.interrupt(caller)
      const next = yield* Effect.forkChild(pool.apply(tasks.threadId, []))
      yield* TestClock.adjust("250 millis") // the default grace period passes
      const nextThread = yield* Fiber.join(next)
      assert.notStrictEqual(nextThread, firstThread, "a replacement worker ran it")
      assert.strictEqual(poolThreads(), threadsBefore + 1, "the stuck thread is gone, the pool is at size")
    }))

  it.effect("26. the grace period is configurable; an Effect task stuck in Effect.sync is replaced too", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1, cancelGracePeriod: "5 seconds" })
      const firstThread = yield* pool.apply(tasks.threadId, [])
      const flags = shared()
      const caller = yield* Effect.forkChild(pool.apply(tasks.effectThenSpin, [flags]))
      yield* waitFor(flags, 0)
      yield* Fiber.interrupt(caller)
      const next = yield* Effect.forkChild(pool.apply(tasks.threadId, []))
      yield* TestClock.adjust("4 seconds")
      assert.isUndefined(next.pollUnsafe(), "still within the grace period")
      yield* TestClock.adjust("1 second")
      assert.notStrictEqual(yield* Fiber.join(next), firstThread)
    }))

  it.effect("26. a worker blocked by a task that was not cancelled is never killed for another's cancel", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1 })
      // measure both kinds as cheap, so the second call is batched onto the busy worker
      const quick = shared()
      Atomics.store(quick, 1, 1)
      yield* pool.apply(tasks.spin, [quick])
      yield* pool.apply(tasks.square, [1])
      const flags = shared()
      const blocking = yield* Effect.forkChild(pool.apply(tasks.spin, [flags]))
      yield* waitFor(flags, 0)
      const queued = yield* Effect.forkChild(pool.apply(tasks.square, [2]))
      yield* dispatched
      yield* Fiber.interrupt(queued) // its CANCEL waits behind the loop; it never started
      yield* TestClock.adjust("10 seconds")
      Atomics.store(flags, 1, 1)
      assert.strictEqual(yield* Fiber.join(blocking), "unstuck", "the uncancelled task finished on its worker")
    }))

  it.effect("26. a cancelled task that starts and hangs only after another task stops blocking its worker is caught", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1 })
      const quick = shared()
      Atomics.store(quick, 1, 1)
      yield* pool.apply(tasks.spin, [quick]) // measured as cheap: the second spin is batched behind the first
      const first = shared()
      const blocking = yield* Effect.forkChild(pool.apply(tasks.spin, [first]))
      yield* waitFor(first, 0)
      const second = shared() // never released
      const cancelled = yield* Effect.forkChild(pool.apply(tasks.spin, [second]))
      yield* dispatched
      yield* Fiber.interrupt(cancelled) // its CANCEL waits behind the first loop
      yield* TestClock.adjust("250 millis") // not started yet: no verdict, check again later
      Atomics.store(first, 1, 1)
      assert.strictEqual(yield* Fiber.join(blocking), "unstuck")
      yield* waitFor(second, 0) // the cancelled loop started before its worker read the CANCEL
      const next = yield* Effect.forkChild(pool.apply(tasks.square, [7]))
      yield* TestClock.adjust("250 millis")
      assert.strictEqual(yield* Fiber.join(next), 49, "its worker was replaced")
    }))

  it.effect("26. an async task that ignores its signal is not killed: its worker still reads messages", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1 })
      const firstThread = yield* pool.apply(tasks.threadId, [])
      const flags = shared()
      const caller = yield* Effect.forkChild(pool.apply(tasks.ignoreAbort, [flags]))
      yield* waitFor(flags, 0)
      yield* Fiber.interrupt(caller)
      yield* waitFor(flags, 2) // the worker read the CANCEL and fired the signal, which the task ignores
      yield* TestClock.adjust("10 seconds")
      Atomics.store(flags, 1, 1) // it ends on its own
      assert.strictEqual(yield* pool.apply(tasks.threadId, []), firstThread, "same worker")
    }))

  it.effect("26. other tasks the killed worker was running fail with WorkerCrashed saying why", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1 })
      const warm = shared()
      Atomics.store(warm, 1, 1)
      yield* pool.apply(tasks.spin, [warm]) // measured as cheap, so the loop may join a busy worker
      const other = shared()
      const bystander = yield* pool.applyAsync(tasks.waitForRelease, [other]) // async: running alongside
      yield* waitFor(other, 0)
      const flags = shared()
      const caller = yield* Effect.forkChild(pool.apply(tasks.spin, [flags]))
      yield* waitFor(flags, 0)
      yield* Fiber.interrupt(caller)
      yield* TestClock.adjust("250 millis")
      const error = yield* Effect.flip(bystander.get())
      assert.instanceOf(error, WorkerCrashed)
      assert.include(error.message, "a cancelled spin was still running synchronously after")
    }))

  it.effect("make rejects a cancelGracePeriod that is not a finite duration", () =>
    Effect.gen(function*() {
      for (const cancelGracePeriod of ["soon" as never, "Infinity" as const, -1]) {
        const error = yield* Effect.flip(WorkerPool.make({ size: 1, cancelGracePeriod }))
        assert.isTrue(Cause.isIllegalArgumentError(error), String(cancelGracePeriod))
      }
    }))
})
