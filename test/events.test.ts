/**
 * Pool events (`pool.events`, `pool.subscribeEvents`): a crash, a recycling
 * (`maxTasksPerWorker`) and a failed start each appear with their cause;
 * the queue's full and drained moments too. With worker threads and child
 * processes, and the test layer.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Scope, Stream } from "effect"
import { WorkerCrashed, WorkerPool } from "../src/index.ts"
import type { PoolEvent } from "../src/PoolEvents.ts"
import { tasks } from "./fixtures/progress-tasks.ts"
import { backends, makeFlags, open } from "./utils.ts"

/** The events of `stream` up to (and with) the first that `last` accepts. */
const until = (stream: Stream.Stream<PoolEvent>, last: (event: PoolEvent) => boolean) =>
  Stream.runCollect(stream.pipe(Stream.takeUntil(last)))

const tags = (events: ReadonlyArray<PoolEvent>) => events.map((event) => event._tag)

for (const backend of backends) {
  describe(`pool events (${backend})`, () => {
    it.live("a crash: WorkerCrashed with its exit code and cause, then its replacement starts and is ready", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const events = yield* pool.subscribeEvents
        const error = yield* Effect.flip(pool.apply(tasks.exit, [3]))
        assert.instanceOf(error, WorkerCrashed)
        const seen = yield* until(events, (event) => event._tag === "WorkerReady")
        const crashed = seen.find((event) => event._tag === "WorkerCrashed")
        assert.isDefined(crashed)
        if (crashed?._tag !== "WorkerCrashed") return
        assert.strictEqual(crashed.workerId, 1)
        assert.strictEqual(crashed.exitCode, 3)
        assert.isString(crashed.cause)
        assert.deepStrictEqual(
          seen.filter((event) => event._tag !== "QueueDrained"),
          [
            crashed,
            { _tag: "WorkerReplaced", workerId: 1, replacement: 2 },
            { _tag: "WorkerStarted", workerId: 2 },
            { _tag: "WorkerReady", workerId: 2 }
          ]
        )
        assert.strictEqual(yield* pool.apply(tasks.square, [4]), 16)
      }))

    it.live("a recycling: WorkerRecycled (maxTasksPerWorker), WorkerReplaced, and its exit as retired", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend, maxTasksPerWorker: 2 })
        const events = yield* pool.subscribeEvents
        yield* pool.apply(tasks.square, [1])
        yield* pool.apply(tasks.square, [2])
        const seen = yield* until(events, (event) => event._tag === "WorkerExited")
        assert.deepStrictEqual(
          seen.find((event) => event._tag === "WorkerRecycled"),
          { _tag: "WorkerRecycled", workerId: 1, reason: "maxTasksPerWorker" }
        )
        assert.deepStrictEqual(seen.at(-1), { _tag: "WorkerExited", workerId: 1, reason: "retired" })
        assert.deepStrictEqual(
          seen.find((event) => event._tag === "WorkerReplaced"),
          { _tag: "WorkerReplaced", workerId: 1, replacement: 2 }
        )
        assert.deepStrictEqual(seen.find((event) => event._tag === "WorkerStarted"), { _tag: "WorkerStarted", workerId: 2 })
        assert.strictEqual(yield* pool.apply(tasks.square, [3]), 9)
      }))

    it.live("a failed start: WorkerStartFailed with the initializer's error, then a replacement that starts", () =>
      Effect.gen(function*() {
        const flags = yield* makeFlags(backend)
        const pool = yield* WorkerPool.make({
          size: 1,
          backend,
          initializer: tasks.initFailsOnceFlagged,
          initargs: [flags]
        })
        const events = yield* pool.subscribeEvents
        open(flags, 1) // the next worker's initializer fails, once
        yield* Effect.flip(pool.apply(tasks.exit, [1]))
        const seen = yield* until(events, (event) => event._tag === "WorkerReady")
        const failed = seen.find((event) => event._tag === "WorkerStartFailed")
        assert.isDefined(failed)
        if (failed?._tag !== "WorkerStartFailed") return
        assert.strictEqual(failed.workerId, 2)
        assert.strictEqual(failed.attempt, 1)
        assert.include(failed.cause, "refused to start: flag 1 is set")
        assert.deepStrictEqual(tags(seen).filter((tag) => tag !== "QueueDrained"), [
          "WorkerCrashed",
          "WorkerReplaced",
          "WorkerStarted",
          "WorkerStartFailed",
          "WorkerReplaced",
          "WorkerStarted",
          "WorkerReady"
        ])
        assert.strictEqual(yield* pool.apply(tasks.square, [5]), 25)
      }))

    it.live("the queue: QueueFull when submitters wait for room, QueueDrained once every task is answered", () =>
      Effect.gen(function*() {
        const flags = yield* makeFlags(backend)
        const pool = yield* WorkerPool.make({ size: 1, backend, maxQueue: 1 })
        const events = yield* pool.subscribeEvents
        const calls = yield* Effect.forkChild(
          Effect.all([0, 0, 0].map(() => pool.apply(tasks.waitFlag, [flags, 0])), { concurrency: "unbounded" })
        )
        const full = yield* until(events, (event) => event._tag === "QueueFull")
        assert.deepStrictEqual(full.at(-1), { _tag: "QueueFull", maxQueue: 1 })
        open(flags, 0)
        assert.deepStrictEqual(yield* Fiber.join(calls), [0, 0, 0])
        const drained = yield* until(events, (event) => event._tag === "QueueDrained")
        assert.deepStrictEqual(drained.at(-1), { _tag: "QueueDrained" })
      }))

    it.live("the stream ends when the pool's scope closes, after the workers' exits", () =>
      Effect.gen(function*() {
        // the subscription lives in the test's scope, the pool in a scope of its own, closed first
        const poolScope = yield* Scope.make()
        const pool = yield* Scope.provide(WorkerPool.make({ size: 2, backend }), poolScope)
        const seen = yield* Effect.forkChild(Stream.runCollect(yield* pool.subscribeEvents))
        yield* Scope.close(poolScope, Exit.void)
        const events = yield* Fiber.join(seen)
        assert.deepStrictEqual(
          events.map((event) => event._tag === "WorkerExited" ? event.reason : event._tag).sort(),
          ["stopped", "stopped"]
        )
      }))
  })
}

describe("pool events on the test layer", () => {
  it.live("an injected crash appears as WorkerCrashed, then the replacement", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.makeTest({ size: 1, crash: (call) => call.index === 0 })
      const events = yield* pool.subscribeEvents
      yield* Effect.flip(pool.apply(tasks.square, [2]))
      const seen = yield* until(events, (event) => event._tag === "WorkerReady")
      assert.deepStrictEqual(tags(seen).filter((tag) => tag !== "QueueDrained"), [
        "WorkerCrashed",
        "WorkerReplaced",
        "WorkerStarted",
        "WorkerReady"
      ])
    }))
})
