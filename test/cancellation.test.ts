/**
 * SEMANTICS.md 10 and 26: interrupting the caller cancels the task in its
 * worker; a map that fails cancels the rest of its work. (Stuck synchronous
 * tasks and crashes: test/faults/.) With worker threads and child processes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Stream } from "effect"
import * as TestClock from "effect/testing/TestClock"
import { WorkerPool } from "../src/index.ts"
import { tasks } from "./fixtures/tasks.ts"
import { backends, load, makeFlags, open, waitFor } from "./utils.ts"

for (const backend of backends) {
  describe(`cancellation (${backend})`, () => {
    it.effect("26. interrupting the caller interrupts an Effect task in its worker", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const flags = yield* makeFlags(backend)
        const caller = yield* Effect.forkChild(pool.apply(tasks.interruptible, [flags]))
        yield* waitFor(flags, 0)
        yield* Fiber.interrupt(caller)
        yield* waitFor(flags, 1) // the worker-side fiber ran its onInterrupt
        assert.strictEqual(yield* pool.apply(tasks.square, [4]), 16, "the worker is free again")
      }))

    it.effect("26. interrupting the caller aborts an async task's AbortSignal, also after an await", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        for (const task of [tasks.abortable, tasks.abortableAfterAwait]) {
          const flags = yield* makeFlags(backend)
          const caller = yield* Effect.forkChild(pool.apply(task, [flags]))
          yield* waitFor(flags, 0)
          yield* Fiber.interrupt(caller)
          yield* waitFor(flags, 1)
        }
        assert.strictEqual(yield* pool.apply(tasks.square, [5]), 25)
      }))

    it.effect("26. Effect.timeout on a call cancels the task in its worker", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const flags = yield* makeFlags(backend)
        // the timeout runs on the TestClock and fires once the task has started: on the real clock it could fire
        // first (a worker's first import of the task module can take longer than it), and a task cancelled
        // before it starts never runs, so it would never set the flag this test waits for
        const timed = yield* Effect.forkChild(
          pool.apply(tasks.interruptible, [flags]).pipe(Effect.timeoutOption("50 millis"))
        )
        yield* waitFor(flags, 0)
        yield* TestClock.adjust("50 millis")
        const result = yield* Fiber.join(timed)
        assert.strictEqual(result._tag, "None")
        yield* waitFor(flags, 1) // the worker-side fiber ran its onInterrupt
        assert.strictEqual(yield* pool.apply(tasks.square, [7]), 49, "the worker is free again")
      }))

    it.effect("26. a worker stays busy until its cancelled task has really stopped", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const flags = yield* makeFlags(backend)
        // a synchronous task cannot be stopped mid-call: the next task must wait for it, not share the worker
        const caller = yield* Effect.forkChild(pool.apply(tasks.spin, [flags]))
        yield* waitFor(flags, 0)
        yield* Fiber.interrupt(caller)
        const next = yield* Effect.forkChild(pool.apply(tasks.square, [6]))
        assert.isUndefined(next.pollUnsafe())
        open(flags, 1)
        assert.strictEqual(yield* Fiber.join(next), 36)
      }))

    it.effect("26. a task cancelled before it starts in its worker never runs", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const blocker = yield* makeFlags(backend)
        const running = yield* Effect.forkChild(pool.apply(tasks.spin, [blocker]))
        yield* waitFor(blocker, 0)
        const never = yield* makeFlags(backend)
        const queued = yield* Effect.forkChild(pool.apply(tasks.interruptible, [never]))
        yield* Fiber.interrupt(queued)
        open(blocker, 1)
        assert.strictEqual(yield* Fiber.join(running), "unstuck")
        assert.strictEqual(yield* pool.apply(tasks.square, [2]), 4)
        assert.strictEqual(load(never, 0), 0, "the cancelled task never started")
      }))

    it.effect("26. cancelling a long chunk of synchronous items stops it at the next item boundary", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const counter = yield* makeFlags(backend, 1)
        const items = Array.from({ length: 200 }, () => [counter, 20] as const) // 4 s of work in one chunk
        const mapping = yield* Effect.forkChild(pool.starmap(tasks.countAndSpin, items, { chunksize: items.length }))
        yield* waitFor(counter, 0)
        yield* Fiber.interrupt(mapping)
        assert.strictEqual(yield* pool.apply(tasks.square, [3]), 9)
        assert.isBelow(load(counter, 0), items.length, "the chunk stopped before its end")
      }))

    it.effect("10. a map that fails cancels the rest of its work in the workers", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 2, backend })
        const flags = yield* makeFlags(backend)
        const mapped = yield* Effect.forkChild(
          pool.starmap(tasks.failAfterStart, [[flags, 0], [flags, 1]], { chunksize: 1 })
        )
        const exit = yield* Fiber.await(mapped)
        assert.isTrue(Exit.isFailure(exit))
        yield* waitFor(flags, 3) // item 1's AbortSignal fired
      }))

    it.effect("interrupting an imap stream cancels its chunks in flight", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const flags = yield* makeFlags(backend)
        const consumer = yield* Effect.forkChild(Stream.runDrain(pool.imap(tasks.interruptible, [flags])))
        yield* waitFor(flags, 0)
        yield* Fiber.interrupt(consumer)
        yield* waitFor(flags, 1)
      }))
  })
}
