/**
 * SEMANTICS.md "Timeouts and waiting" (13–14), AsyncResult and callbacks (25),
 * against real worker threads and real child processes.
 */
import { assert, layer } from "@effect/vitest"
import { Cause, Deferred, Effect, Fiber } from "effect"
import { ResultNotReady, TaskError, WorkerPool } from "../src/index.ts"
import { Odd, tasks } from "./fixtures/tasks.ts"
import { captureLogs } from "./capture.ts"
import { backends, makeFlags, open, waitFor } from "./utils.ts"

for (const backend of backends) {
  // timeouts need the real clock, not the TestClock
  layer(WorkerPool.layer({ size: 2, backend }), { excludeTestServices: true })(`async results (${backend})`, (it) => {
    it.effect("13. get with a timeout fails with a TimeoutError; the task keeps running and a later get returns it", () =>
      Effect.gen(function*() {
        const flags = yield* makeFlags(backend)
        const result = yield* WorkerPool.applyAsync(tasks.waitForRelease, [flags])
        yield* waitFor(flags, 0)
        const error = yield* Effect.flip(result.get({ timeout: "20 millis" }))
        assert.isTrue(Cause.isTimeoutError(error))
        assert.isFalse(yield* result.ready)
        open(flags, 1)
        assert.strictEqual(yield* result.get({ timeout: "20 seconds" }), "released")
        assert.strictEqual(yield* result.get(), "released")
      }))

    it.effect("14. successful fails with ResultNotReady before the result is ready; ready never fails", () =>
      Effect.gen(function*() {
        const flags = yield* makeFlags(backend)
        const pending = yield* WorkerPool.applyAsync(tasks.waitForRelease, [flags])
        yield* waitFor(flags, 0)
        assert.isFalse(yield* pending.ready)
        const notReady = yield* Effect.flip(pending.successful)
        assert.instanceOf(notReady, ResultNotReady)
        open(flags, 1)
        yield* pending.wait()
        assert.isTrue(yield* pending.ready)
        assert.isTrue(yield* pending.successful)

        const failed = yield* WorkerPool.applyAsync(tasks.half, [3])
        yield* failed.wait()
        assert.isTrue(yield* failed.ready)
        assert.isFalse(yield* failed.successful)
        assert.instanceOf(yield* Effect.flip(failed.get()), Odd)
      }))

    it.effect("wait with a timeout returns without failing when the result is not ready", () =>
      Effect.gen(function*() {
        const flags = yield* makeFlags(backend)
        const result = yield* WorkerPool.applyAsync(tasks.waitForRelease, [flags])
        yield* waitFor(flags, 0)
        yield* result.wait({ timeout: "10 millis" })
        assert.isFalse(yield* result.ready)
        open(flags, 1)
        yield* result.wait()
        assert.isTrue(yield* result.successful)
      }))

    it.effect("callback receives the value; errorCallback receives the error", () =>
      Effect.gen(function*() {
        const value = yield* Deferred.make<number>()
        const mapped = yield* Deferred.make<ReadonlyArray<number>>()
        const failure = yield* Deferred.make<unknown>()
        yield* WorkerPool.applyAsync(tasks.square, [12], { callback: (v) => Deferred.doneUnsafe(value, Effect.succeed(v)) })
        yield* WorkerPool.mapAsync(tasks.square, [1, 2, 3], {
          callback: (v) => Deferred.doneUnsafe(mapped, Effect.succeed(v))
        })
        yield* WorkerPool.applyAsync(tasks.boom, ["bad"], {
          errorCallback: (e) => Deferred.doneUnsafe(failure, Effect.succeed(e))
        })
        assert.strictEqual(yield* Deferred.await(value), 144)
        assert.deepStrictEqual(yield* Deferred.await(mapped), [1, 4, 9])
        assert.instanceOf(yield* Deferred.await(failure), TaskError)
      }))

    it.effect("errorCallback is not called when the result is interrupted", () =>
      Effect.gen(function*() {
        const flags = yield* makeFlags(backend)
        let called = false
        const result = yield* WorkerPool.applyAsync(tasks.interruptible, [flags], {
          errorCallback: () => {
            called = true
          }
        })
        yield* waitFor(flags, 0)
        yield* Fiber.interrupt(result.fiber)
        yield* waitFor(flags, 1)
        assert.isFalse(called)
      }))

    it.effect("25. a callback that throws does not break the pool, nor change the result; the throw is logged", () =>
      Effect.gen(function*() {
        const [, logs] = yield* captureLogs(Effect.gen(function*() {
          const result = yield* WorkerPool.applyAsync(tasks.square, [5], {
            callback: () => {
              throw new Error("callback bug")
            }
          })
          assert.strictEqual(yield* result.get(), 25)
          const failing = yield* WorkerPool.applyAsync(tasks.boom, ["x"], {
            errorCallback: () => {
              throw new Error("errorCallback bug")
            }
          })
          assert.instanceOf(yield* Effect.flip(failing.get()), TaskError)
          yield* result.wait()
          yield* failing.wait()
        }))
        assert.deepStrictEqual(logs.map((log) => log.level), ["Error", "Error"])
        assert.include(logs[0].message, "an AsyncResult callback threw; the pool is unaffected")
        assert.include(logs[0].message, "callback bug")
        assert.include(logs[1].message, "errorCallback bug")
        assert.deepStrictEqual(yield* WorkerPool.map(tasks.square, [1, 2]), [1, 4])
      }))

    it.effect("a get already waiting when the AsyncResult's fiber is interrupted ends, interrupted; an interrupted get cancels nothing", () =>
      Effect.gen(function*() {
        const flags = yield* makeFlags(backend)
        const result = yield* WorkerPool.applyAsync(tasks.interruptible, [flags])
        yield* waitFor(flags, 0)
        // a get interrupted on its own leaves the task running
        const first = yield* Effect.forkChild(result.get())
        yield* Fiber.interrupt(first)
        assert.isFalse(yield* result.ready)
        const waiting = yield* Effect.forkChild(result.get())
        yield* Fiber.interrupt(result.fiber)
        const exit = yield* Fiber.await(waiting)
        assert.isTrue(exit._tag === "Failure" && Cause.hasInterruptsOnly(exit.cause))
        yield* waitFor(flags, 1)
        assert.isFalse(yield* result.successful)
      }))

    it.effect("the fiber behind an AsyncResult can be interrupted, which cancels the task in its worker", () =>
      Effect.gen(function*() {
        const flags = yield* makeFlags(backend)
        const result = yield* WorkerPool.applyAsync(tasks.interruptible, [flags])
        yield* waitFor(flags, 0)
        yield* Fiber.interrupt(result.fiber)
        yield* waitFor(flags, 1)
        assert.isTrue(yield* result.ready)
        assert.isFalse(yield* result.successful)
      }))
  })
}
