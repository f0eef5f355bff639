/**
 * Fault injection, SEMANTICS.md 26: a cancelled task that keeps its worker
 * blocked in synchronous code past the grace period gets its worker killed and
 * replaced; a worker that is merely busy with other work, or that reads its
 * messages, is never killed. The grace period runs on the TestClock, so these
 * tests wait on events only. With worker threads and child processes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Fiber } from "effect"
import * as TestClock from "effect/testing/TestClock"
import { WorkerCrashed, WorkerPool } from "../../src/index.ts"
import { tasks } from "../fixtures/tasks.ts"
import { backends, dispatched, eventually, liveWorkers, makeFlags, open, waitFor } from "../utils.ts"

for (const backend of backends) {
  describe(`stuck synchronous tasks (${backend})`, () => {
    it.effect("26. cancelling a synchronous loop that never ends replaces its worker; the next task runs", () =>
      Effect.gen(function*() {
        const workersBefore = liveWorkers(backend)
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const firstWorker = yield* pool.apply(tasks.workerId, [])
        const flags = yield* makeFlags(backend) // never released: the loop would spin forever
        const caller = yield* Effect.forkChild(pool.apply(tasks.spin, [flags]))
        yield* waitFor(flags, 0)
        yield* Fiber.interrupt(caller)
        const next = yield* Effect.forkChild(pool.apply(tasks.workerId, []))
        yield* TestClock.adjust("250 millis") // the default grace period passes
        const nextWorker = yield* Fiber.join(next)
        assert.notStrictEqual(nextWorker, firstWorker, "a replacement worker ran it")
        assert.strictEqual(
          liveWorkers(backend).length,
          workersBefore.length + 1,
          "the stuck worker is gone, the pool is at size"
        )
      }))

    it.effect("26. the grace period is configurable; an Effect task stuck in Effect.sync is replaced too", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend, cancelGracePeriod: "5 seconds" })
        const firstWorker = yield* pool.apply(tasks.workerId, [])
        const flags = yield* makeFlags(backend)
        const caller = yield* Effect.forkChild(pool.apply(tasks.effectThenSpin, [flags]))
        yield* waitFor(flags, 0)
        yield* Fiber.interrupt(caller)
        const next = yield* Effect.forkChild(pool.apply(tasks.workerId, []))
        yield* TestClock.adjust("4 seconds")
        assert.isUndefined(next.pollUnsafe(), "still within the grace period")
        yield* TestClock.adjust("1 second")
        assert.notStrictEqual(yield* Fiber.join(next), firstWorker)
      }))

    // with processes (one job at a time per worker, src/internal/nodeProcesses.ts:29) the queued call waits in the
    // pool, not behind the loop, so its cancel never reaches the worker: the assertions hold all the same
    it.effect("26. a worker blocked by a task that was not cancelled is never killed for another's cancel", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        // measure both kinds as cheap, so the second call is batched onto the busy worker
        const quick = yield* makeFlags(backend)
        open(quick, 1)
        yield* pool.apply(tasks.spin, [quick])
        yield* pool.apply(tasks.square, [1])
        const flags = yield* makeFlags(backend)
        const blocking = yield* Effect.forkChild(pool.apply(tasks.spin, [flags]))
        yield* waitFor(flags, 0)
        const queued = yield* Effect.forkChild(pool.apply(tasks.square, [2]))
        yield* dispatched
        yield* Fiber.interrupt(queued) // its CANCEL waits behind the loop; it never started
        yield* TestClock.adjust("10 seconds")
        open(flags, 1)
        assert.strictEqual(yield* Fiber.join(blocking), "unstuck", "the uncancelled task finished on its worker")
      }))

    // processes: a process worker holds one job at a time (src/internal/nodeProcesses.ts:29, by design, as in
    // Python), so the cancelled call is never sent behind the blocking one: it is dropped from the pool's queue and
    // never starts, and `waitFor(second, 0)` would wait forever. The case cannot arise with processes.
    it.effect.skipIf(backend === "processes")("26. a cancelled task that starts and hangs only after another task stops blocking its worker is caught", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const quick = yield* makeFlags(backend)
        open(quick, 1)
        yield* pool.apply(tasks.spin, [quick]) // measured as cheap: the second spin is batched behind the first
        const first = yield* makeFlags(backend)
        const blocking = yield* Effect.forkChild(pool.apply(tasks.spin, [first]))
        yield* waitFor(first, 0)
        const second = yield* makeFlags(backend) // never released
        const cancelled = yield* Effect.forkChild(pool.apply(tasks.spin, [second]))
        yield* dispatched
        yield* Fiber.interrupt(cancelled) // its CANCEL waits behind the first loop
        yield* TestClock.adjust("250 millis") // not started yet: no verdict, check again later
        open(first, 1)
        assert.strictEqual(yield* Fiber.join(blocking), "unstuck")
        yield* waitFor(second, 0) // the cancelled loop started before its worker read the CANCEL
        const next = yield* Effect.forkChild(pool.apply(tasks.square, [7]))
        yield* TestClock.adjust("250 millis")
        assert.strictEqual(yield* Fiber.join(next), 49, "its worker was replaced")
      }))

    // (one that ignores its signal for longer than the grace period has its worker replaced: test/faults/bounds.test.ts)
    it.effect("26. an async task that ignores its signal but ends within the grace period keeps its worker", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const firstWorker = yield* pool.apply(tasks.workerId, [])
        const flags = yield* makeFlags(backend)
        const caller = yield* Effect.forkChild(pool.apply(tasks.ignoreAbort, [flags]))
        yield* waitFor(flags, 0)
        yield* Fiber.interrupt(caller)
        yield* waitFor(flags, 2) // the worker read the CANCEL and fired the signal, which the task ignores
        yield* TestClock.adjust("200 millis") // within the grace period
        open(flags, 1) // it ends on its own
        yield* eventually(() => Effect.runSync(pool.stats).running === 0, "the worker answered the cancelled task")
        yield* TestClock.adjust("10 seconds")
        assert.strictEqual(yield* pool.apply(tasks.workerId, []), firstWorker, "same worker")
      }))

    // processes: a process worker holds one job at a time (src/internal/nodeProcesses.ts:29, by design, as in
    // Python), so no other task runs alongside the loop on its worker: the loop waits in the pool's queue behind
    // the bystander and `waitFor(flags, 0)` would wait forever. The case cannot arise with processes.
    it.effect.skipIf(backend === "processes")("26. other tasks the killed worker was running fail with WorkerCrashed saying why", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const warm = yield* makeFlags(backend)
        open(warm, 1)
        yield* pool.apply(tasks.spin, [warm]) // measured as cheap, so the loop may join a busy worker
        const other = yield* makeFlags(backend)
        const bystander = yield* pool.applyAsync(tasks.waitForRelease, [other]) // async: running alongside
        yield* waitFor(other, 0)
        const flags = yield* makeFlags(backend)
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
          const error = yield* Effect.flip(WorkerPool.make({ size: 1, backend, cancelGracePeriod }))
          assert.isTrue(Cause.isIllegalArgumentError(error), String(cancelGracePeriod))
        }
      }))
  })
}
