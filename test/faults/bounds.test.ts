/**
 * Fault injection, SEMANTICS.md 30: no call waits without bound on something
 * that cannot happen. An initializer that never finishes makes `make` fail
 * within `startTimeout`; a cancelled task that never stops has its worker
 * replaced after `cancelGracePeriod`; an argument that kills every worker that
 * receives it fails its call after two attempts. Timeouts run on the
 * TestClock, so these tests wait on events only. With worker threads and child
 * processes where the case applies.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope } from "effect"
import * as TestClock from "effect/testing/TestClock"
import { SerializationError, WorkerPool, WorkerStartFailed } from "../../src/index.ts"
import { tasks as bounds } from "../fixtures/bounds-tasks.ts"
import { tasks } from "../fixtures/tasks.ts"
import { backends, dispatched, eventually, liveWorkers, makeFlags, open, waitFor } from "../utils.ts"

/** Swallows what is written on stderr while the scope is open (a worker's expected dying words), and returns it. */
const captureStderr = Effect.acquireRelease(
  Effect.sync(() => {
    const original = process.stderr.write
    const captured: Array<string> = []
    process.stderr.write = ((chunk: string | Uint8Array) => {
      captured.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"))
      return true
    }) as typeof process.stderr.write
    return { captured, original }
  }),
  ({ original }) => Effect.sync(() => void (process.stderr.write = original))
).pipe(Effect.map(({ captured }) => captured))

/** Whether the pool's workers alive at `during` (those not alive `before` it) have all exited. */
const gone = (during: ReadonlyArray<number>, before: ReadonlyArray<number>, backend: typeof backends[number]) => {
  const now = liveWorkers(backend)
  return during.every((id) => before.includes(id) || !now.includes(id))
}

for (const backend of backends) {
  describe(`start timeout (${backend})`, () => {
    for (const hang of ["hangSync", "hangAsync"] as const) {
      it.effect(`30. an initializer that never finishes (${hang}) makes make fail within startTimeout; no worker is left`, () =>
        Effect.gen(function*() {
          const workersBefore = liveWorkers(backend)
          const flags = yield* makeFlags(backend)
          const scope = yield* Scope.make()
          const making = yield* Effect.forkChild(
            WorkerPool.make({
              size: 2,
              backend,
              initializer: bounds[hang],
              initargs: [flags],
              startTimeout: "500 millis"
            }).pipe(Scope.provide(scope))
          )
          yield* waitFor(flags, 0) // an initializer is running
          yield* TestClock.adjust("500 millis")
          const exit = yield* Fiber.await(making)
          assert.isTrue(Exit.isFailure(exit))
          const error = yield* Effect.flip(Fiber.join(making))
          assert.instanceOf(error, WorkerStartFailed)
          assert.include(error.message, "timed out")
          assert.include(error.message, "500ms")
          // none of its workers is alive (a worker of an earlier test may have finished exiting meanwhile)
          assert.deepStrictEqual(liveWorkers(backend).filter((id) => !workersBefore.includes(id)), [], "no worker left alive")
          yield* Scope.close(scope, Exit.void)
        }))
    }

    it.effect("30. replacements whose initializer hangs are killed after startTimeout; three in a row break the pool", () =>
      Effect.gen(function*() {
        const flags = yield* makeFlags(backend)
        // the first worker's initializer returns; once flag 1 is set, every new worker's hangs (counted in cell 0)
        const pool = yield* WorkerPool.make({
          size: 1,
          backend,
          initializer: bounds.hangOnceSet,
          initargs: [flags],
          startTimeout: "500 millis"
        })
        assert.strictEqual(yield* pool.apply(tasks.square, [3]), 9)
        open(flags, 1)
        assert.isTrue(Exit.isFailure(yield* Effect.exit(pool.apply(tasks.exit, [1]))))
        const next = yield* Effect.forkChild(pool.apply(tasks.square, [4]))
        for (let attempt = 1; attempt <= 3; attempt++) {
          yield* waitFor(flags, 0, attempt) // replacement number `attempt` hangs in its initializer
          yield* TestClock.adjust("500 millis")
        }
        const error = yield* Effect.flip(Fiber.join(next))
        assert.instanceOf(error, WorkerStartFailed)
        assert.include(error.message, "was not ready within 500ms")
      }))
  })

  describe(`cancelled tasks that never stop (${backend})`, () => {
    it.effect("30. a cancelled async task that ignores its signal: after cancelGracePeriod its worker is replaced", () =>
      Effect.gen(function*() {
        const workersBefore = liveWorkers(backend)
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const firstWorker = yield* pool.apply(tasks.workerId, [])
        const flags = yield* makeFlags(backend)
        const caller = yield* Effect.forkChild(pool.apply(bounds.ignoreForever, [flags]))
        yield* waitFor(flags, 0)
        yield* Fiber.interrupt(caller)
        yield* waitFor(flags, 2) // the worker read the CANCEL and fired the signal, which the task ignores
        const during = liveWorkers(backend)
        yield* TestClock.adjust("250 millis") // the default grace period passes
        yield* eventually(() => gone(during, workersBefore, backend), "the old worker is gone")
        assert.notStrictEqual(yield* pool.apply(tasks.workerId, []), firstWorker, "a pool of one keeps serving, on a replacement")
      }))

    it.effect("30. a cancelled Effect task that is uninterruptible forever: its worker is replaced", () =>
      Effect.gen(function*() {
        const workersBefore = liveWorkers(backend)
        const pool = yield* WorkerPool.make({ size: 1, backend, cancelGracePeriod: "1 second" })
        const firstWorker = yield* pool.apply(tasks.workerId, [])
        const flags = yield* makeFlags(backend)
        const caller = yield* Effect.forkChild(pool.apply(bounds.uninterruptibleForever, [flags]))
        yield* waitFor(flags, 0)
        yield* Fiber.interrupt(caller)
        const during = liveWorkers(backend)
        yield* TestClock.adjust("999 millis")
        yield* dispatched
        assert.strictEqual(Effect.runSync(pool.stats).running, 1, "within the grace period it still holds its worker")
        yield* TestClock.adjust("1 millis")
        yield* eventually(() => gone(during, workersBefore, backend), "the old worker is gone")
        assert.notStrictEqual(yield* pool.apply(tasks.workerId, []), firstWorker)
      }))
  })
}

describe("arguments a worker cannot receive (threads)", () => {
  // processes: a process worker holds one job at a time and counts it as started when it is sent, so a worker that
  // dies receiving it fails it with WorkerCrashed at once (there is no requeue, so no loop to bound)
  it.effect("30. an argument that kills every worker receiving it fails with SerializationError after two attempts", () =>
    Effect.gen(function*() {
      const stderr = yield* captureStderr // each worker dies saying so (a messageerror)
      const pool = yield* WorkerPool.make({ size: 2, backend: "threads", resourceLimits: { stackSizeMb: 0.5 } })
      assert.strictEqual(yield* pool.apply(bounds.depthOf, [[[1]]]), 2)
      let nested: unknown = []
      for (let i = 0; i < 3000; i++) nested = [nested]
      const error = yield* Effect.flip(pool.apply(bounds.depthOf, [nested]))
      assert.instanceOf(error, SerializationError)
      assert.strictEqual(error.direction, "argument")
      assert.include(error.message, "2 workers died receiving it")
      assert.deepStrictEqual(yield* pool.map(tasks.square, [1, 2, 3, 4, 5, 6], { chunksize: 1 }), [1, 4, 9, 16, 25, 36])
      assert.strictEqual(yield* pool.apply(tasks.square, [7]), 49, "the pool keeps serving")
      assert.isTrue(stderr.some((line) => line.includes("messageerror")), "each worker said why it died")
    }))
})
