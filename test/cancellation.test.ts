/**
 * SEMANTICS.md 10, 23, 24 and 26, as far as the core goes: interrupting the
 * caller cancels the task in its worker; a map that fails cancels the rest of
 * its work; a worker that dies fails exactly its tasks; a module that cannot
 * load fails its tasks with the cause.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Stream } from "effect"
import { TaskError, WorkerCrashed, WorkerPool } from "../src/index.ts"
import { tasks as broken } from "./fixtures/broken-module.ts"
import { tasks } from "./fixtures/tasks.ts"
import { poolThreads, shared, waitFor } from "./utils.ts"

describe("cancellation", () => {
  it.effect("26. interrupting the caller interrupts an Effect task in its worker", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1 })
      const flags = shared()
      const caller = yield* Effect.forkChild(pool.apply(tasks.interruptible, [flags]))
      yield* waitFor(flags, 0)
      yield* Fiber.interrupt(caller)
      yield* waitFor(flags, 1) // the worker-side fiber ran its onInterrupt
      assert.strictEqual(yield* pool.apply(tasks.square, [4]), 16, "the worker is free again")
    }))

  it.effect("26. interrupting the caller aborts an async task's AbortSignal, also after an await", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1 })
      for (const task of [tasks.abortable, tasks.abortableAfterAwait]) {
        const flags = shared()
        const caller = yield* Effect.forkChild(pool.apply(task, [flags]))
        yield* waitFor(flags, 0)
        yield* Fiber.interrupt(caller)
        yield* waitFor(flags, 1)
      }
      assert.strictEqual(yield* pool.apply(tasks.square, [5]), 25)
    }))

  it.live("26. Effect.timeout on a call cancels the task in its worker", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1 })
      const flags = shared()
      const result = yield* pool.apply(tasks.interruptible, [flags]).pipe(Effect.timeoutOption("50 millis"))
      assert.strictEqual(result._tag, "None")
      yield* waitFor(flags, 1)
    }))

  it.effect("26. a worker stays busy until its cancelled task has really stopped", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1 })
      const flags = shared()
      // a synchronous task cannot be stopped mid-call: the next task must wait for it, not share the worker
      const caller = yield* Effect.forkChild(pool.apply(tasks.spin, [flags]))
      yield* waitFor(flags, 0)
      yield* Fiber.interrupt(caller)
      const next = yield* Effect.forkChild(pool.apply(tasks.square, [6]))
      assert.isUndefined(next.pollUnsafe())
      Atomics.store(flags, 1, 1)
      assert.strictEqual(yield* Fiber.join(next), 36)
    }))

  it.effect("26. a task cancelled before it starts in its worker never runs", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1 })
      const blocker = shared()
      const running = yield* Effect.forkChild(pool.apply(tasks.spin, [blocker]))
      yield* waitFor(blocker, 0)
      const never = shared()
      const queued = yield* Effect.forkChild(pool.apply(tasks.interruptible, [never]))
      yield* Fiber.interrupt(queued)
      Atomics.store(blocker, 1, 1)
      assert.strictEqual(yield* Fiber.join(running), "unstuck")
      assert.strictEqual(yield* pool.apply(tasks.square, [2]), 4)
      assert.strictEqual(Atomics.load(never, 0), 0, "the cancelled task never started")
    }))

  it.effect("26. cancelling a long chunk of synchronous items stops it at the next item boundary", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1 })
      const counter = shared(1)
      const items = Array.from({ length: 200 }, () => [counter, 20] as const) // 4 s of work in one chunk
      const mapping = yield* Effect.forkChild(pool.starmap(tasks.countAndSpin, items, { chunksize: items.length }))
      yield* waitFor(counter, 0)
      yield* Fiber.interrupt(mapping)
      assert.strictEqual(yield* pool.apply(tasks.square, [3]), 9)
      assert.isBelow(Atomics.load(counter, 0), items.length, "the chunk stopped before its end")
    }))

  it.effect("10. a map that fails cancels the rest of its work in the workers", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 2 })
      const flags = shared()
      const mapped = yield* Effect.forkChild(
        pool.starmap(tasks.failAfterStart, [[flags, 0], [flags, 1]], { chunksize: 1 })
      )
      const exit = yield* Fiber.await(mapped)
      assert.isTrue(Exit.isFailure(exit))
      yield* waitFor(flags, 3) // item 1's AbortSignal fired
    }))

  it.effect("interrupting an imap stream cancels its chunks in flight", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1 })
      const flags = shared()
      const consumer = yield* Effect.forkChild(Stream.runDrain(pool.imap(tasks.interruptible, [flags])))
      yield* waitFor(flags, 0)
      yield* Fiber.interrupt(consumer)
      yield* waitFor(flags, 1)
    }))
})

describe("crashes and broken modules", () => {
  it.effect("23. a worker that exits mid-task fails exactly its tasks with WorkerCrashed; the others complete", () =>
    Effect.gen(function*() {
      const threadsBefore = poolThreads()
      const pool = yield* WorkerPool.make({ size: 2 })
      const flags = shared()
      const survivor = yield* pool.applyAsync(tasks.waitForRelease, [flags])
      yield* waitFor(flags, 0) // one worker holds the survivor; the crash goes to the other
      const error = yield* Effect.flip(pool.apply(tasks.exit, [7]))
      assert.instanceOf(error, WorkerCrashed)
      assert.strictEqual(error.exitCode, 7)
      assert.include(error.message, "exited with code 7")
      Atomics.store(flags, 1, 1)
      assert.strictEqual(yield* survivor.get(), "released")
      // the worker was replaced: two workers serve again
      const counter = shared(1)
      const threads = yield* pool.starmap(tasks.barrier, [[counter, 2], [counter, 2]], { chunksize: 1 })
      assert.strictEqual(new Set(threads).size, 2)
      yield* pool.close
      yield* pool.join
      assert.strictEqual(poolThreads(), threadsBefore)
    }))

  it.effect("23. a worker killed by an uncaught throw fails its task with WorkerCrashed naming the cause", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1 })
      const error = yield* Effect.flip(pool.apply(tasks.throwInTimer, ["thrown in a timer"]))
      assert.instanceOf(error, WorkerCrashed)
      assert.strictEqual(error.exitCode, 1)
      assert.include(error.message, "thrown in a timer")
      assert.strictEqual(yield* pool.apply(tasks.square, [9]), 81, "a replacement serves")
    }))

  it.effect("23. a crash fails only the task that was running: finished and not-yet-started ones are unaffected", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 2 })
      yield* pool.apply(tasks.exitAt, [1]) // now known to be cheap, so calls are batched onto each worker
      const items = [1, 2, 99, ...Array.from({ length: 40 }, (_, i) => i + 3)]
      const exits = yield* Effect.forEach(items, (x) => Effect.exit(pool.apply(tasks.exitAt, [x])), {
        concurrency: "unbounded"
      })
      exits.forEach((exit, i) => {
        if (items[i] === 99) {
          assert.isTrue(Exit.isFailure(exit))
          assert.instanceOf(Cause.squash((exit as Exit.Failure<unknown, unknown>).cause), WorkerCrashed)
        } else {
          assert.deepStrictEqual(exit, Exit.succeed(items[i]), `item ${items[i]}`)
        }
      })
    }))

  it.effect("once a task is known to be fast, simultaneous calls still go to idle workers first", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 2 })
      yield* pool.apply(tasks.barrier, [shared(1), 1]) // measured: fast
      const counter = shared(1)
      // two calls that can only finish together: batched onto one worker, they would deadlock
      const threads = yield* pool.starmap(tasks.barrier, [[counter, 2], [counter, 2]], { chunksize: 1 })
      assert.strictEqual(new Set(threads).size, 2)
    }))

  it.effect("23. a map over a pool where a worker crashes fails with WorkerCrashed; the pool keeps serving", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 2 })
      const error = yield* Effect.flip(pool.map(tasks.exitAt, [1, 2, 3, 99, 5, 6], { chunksize: 1 }))
      assert.instanceOf(error, WorkerCrashed)
      assert.deepStrictEqual(yield* pool.map(tasks.square, [1, 2, 3]), [1, 4, 9])
    }))

  it.effect("24. a task module that throws while loading fails its tasks with the cause; the pool keeps serving", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1 })
      const error = yield* Effect.flip(pool.apply(broken.neverRuns, [1]))
      assert.instanceOf(error, TaskError)
      assert.include(error.message, "could not load task module")
      assert.include(error.message, "this module refuses to load in a worker")
      assert.strictEqual(yield* pool.apply(tasks.square, [3]), 9)
      const again = yield* Effect.exit(pool.map(broken.neverRuns, [1, 2]))
      assert.instanceOf(Cause.squash((again as Exit.Failure<unknown, unknown>).cause), TaskError)
    }))
})
