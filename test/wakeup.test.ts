/**
 * The wake-up fast path (threads, `fastWakeup`, on by default): an idle thread
 * worker waits for its next message in `Atomics.wait` and the pool rings its
 * doorbell after each message (src/internal/doorbell.ts, workerWait.ts). Every
 * message still gets through while the worker waits (a call, a cancel, the
 * liveness ping, close), a worker that waits is killed at once by terminate,
 * and async work — a task's timers, awaits, `Effect.sleep`, what a task leaves
 * behind — behaves as without it. With `fastWakeup: false` there is no
 * doorbell and workers behave as before. Processes keep their IPC channel.
 *
 * Each test first waits until the worker is parked (its doorbell's `PARKED`
 * cell, read from the shared memory a fixture task hands over), so that what
 * follows reaches a worker blocked in `Atomics.wait`. No assertion depends on
 * how long anything took.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber } from "effect"
import type { EventEmitter } from "node:events"
import { WorkerPool } from "../src/index.ts"
import * as Doorbell from "../src/internal/doorbell.ts"
import * as NodeThreads from "../src/internal/nodeThreads.ts"
import * as Protocol from "../src/internal/protocol.ts"
import { tasks } from "./fixtures/tasks.ts"
import { tasks as wakeup } from "./fixtures/wakeup-tasks.ts"
import { dispatched, load, makeFlags, open, poolThreads, waitFor } from "./utils.ts"

const scratch = new Int32Array(new SharedArrayBuffer(4))

/**
 * Waits (blocking this thread in short sleeps, so that nothing of the pool's
 * runs meanwhile) until the worker sits in `Atomics.wait`; fails after 10 s.
 * Called right after the worker's last message: it waits so within
 * `WorkerWait.WINDOW_MS` of it.
 */
const parked = (bell: Int32Array): Effect.Effect<void> =>
  Effect.sync(() => {
    const deadline = performance.now() + 10_000
    while (Atomics.load(bell, Doorbell.PARKED) === 0) {
      if (performance.now() > deadline) throw new Error("the worker never waited on its doorbell")
      Atomics.wait(scratch, 0, 0, 0.05)
    }
  })

/** A one-worker pool with the fast path on, and its worker's doorbell, the worker parked on it. */
const parkedPool = Effect.gen(function*() {
  const pool = yield* WorkerPool.make({ size: 1 })
  const bell = yield* pool.apply(wakeup.doorbell, [])
  assert.isNotNull(bell, "a thread worker has a doorbell by default")
  yield* parked(bell!)
  return { pool, bell: bell! }
})

describe("the wake-up fast path (threads)", () => {
  it.effect("a worker parked on its doorbell answers the next call; the pool rang once per message", () =>
    Effect.gen(function*() {
      const { bell, pool } = yield* parkedPool
      const rings = Atomics.load(bell, Doorbell.RINGS)
      assert.strictEqual(yield* pool.apply(tasks.add, [20, 22]), 42)
      assert.strictEqual(Atomics.load(bell, Doorbell.RINGS), rings + 1)
      // and again, many times in a row
      for (let i = 0; i < 200; i++) assert.strictEqual(yield* pool.apply(tasks.square, [i]), i * i)
      yield* parked(bell)
      assert.deepStrictEqual(yield* pool.map(tasks.square, [1, 2, 3, 4, 5, 6]), [1, 4, 9, 16, 25, 36])
    }))

  it.effect("a task's await of a timer resolves, and an Effect task's Effect.sleep ends, after the worker waited", () =>
    Effect.gen(function*() {
      const { bell, pool } = yield* parkedPool
      assert.strictEqual(yield* pool.apply(tasks.sleepThen, [20]), 20)
      yield* parked(bell)
      assert.strictEqual(yield* pool.apply(tasks.effectSleepThen, [20]), 20)
      yield* parked(bell)
      // both at once, with a sync call between them
      const [a, b, c] = yield* Effect.all([
        pool.apply(tasks.sleepThen, [15]),
        pool.apply(tasks.add, [1, 2]),
        pool.apply(tasks.effectSleepThen, [10])
      ], { concurrency: "unbounded" })
      assert.deepStrictEqual([a, b, c], [15, 3, 10])
    }))

  it.effect("a timer, microtasks and an immediate a task leaves behind run while the worker is otherwise idle", () =>
    Effect.gen(function*() {
      const { bell, pool } = yield* parkedPool
      const shared = yield* makeFlags("threads")
      assert.strictEqual(yield* pool.apply(wakeup.timerAfterReturn, [shared, 0, 30]), "returned")
      // nothing else is sent: the timer fires on its own (the worker does not wait while it is pending)
      yield* waitFor(shared, 0)
      // the worker waits on its doorbell again from its next message on
      assert.strictEqual(yield* pool.apply(tasks.add, [1, 1]), 2)
      yield* parked(bell)
      assert.strictEqual(yield* pool.apply(wakeup.immediateAfterReturn, [shared, 1]), "returned")
      yield* waitFor(shared, 1)
    }))

  it.effect("a cancel reaches the worker: a task queued behind a blocked one is cancelled, the blocked one ends", () =>
    Effect.gen(function*() {
      const { pool } = yield* parkedPool
      const gates = yield* makeFlags("threads")
      const shared = yield* makeFlags("threads")
      const blocked = yield* Effect.forkChild(pool.apply(tasks.gated, [gates, 0]))
      const queued = yield* Effect.forkChild(pool.apply(tasks.abortable, [shared]))
      yield* dispatched
      yield* Fiber.interrupt(queued)
      open(gates, 0)
      assert.strictEqual(yield* Fiber.join(blocked), 0)
      assert.strictEqual(yield* pool.apply(tasks.add, [2, 3]), 5)
      assert.strictEqual(load(shared, 0), 0, "the cancelled task never started")
    }))

  it.effect("a cancel reaches an async task of a worker that had waited: its AbortSignal fires", () =>
    Effect.gen(function*() {
      const { pool } = yield* parkedPool
      const shared = yield* makeFlags("threads")
      const fiber = yield* Effect.forkChild(pool.apply(tasks.abortable, [shared]))
      yield* waitFor(shared, 0)
      yield* Fiber.interrupt(fiber)
      yield* waitFor(shared, 1)
      assert.strictEqual(yield* pool.apply(tasks.add, [2, 3]), 5)
    }))

  it.effect("close is prompt: a pool whose worker waits on its doorbell closes and its thread is gone", () =>
    Effect.gen(function*() {
      const threadsBefore = poolThreads()
      const { bell, pool } = yield* parkedPool
      yield* parked(bell)
      yield* pool.close
      yield* pool.join
      assert.strictEqual(poolThreads(), threadsBefore)
    }))

  it.effect("terminate kills a worker parked on its doorbell", () =>
    Effect.gen(function*() {
      const threadsBefore = poolThreads()
      const { bell, pool } = yield* parkedPool
      yield* parked(bell)
      yield* pool.terminate
      assert.strictEqual(poolThreads(), threadsBefore)
    }))

  it.effect("fastWakeup: false: no doorbell, workers answer as before", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1, fastWakeup: false })
      assert.isNull(yield* pool.apply(wakeup.doorbell, []))
      for (let i = 0; i < 50; i++) assert.strictEqual(yield* pool.apply(tasks.add, [i, 1]), i + 1)
      assert.strictEqual(yield* pool.apply(tasks.sleepThen, [5]), 5)
      assert.strictEqual(yield* pool.apply(tasks.effectSleepThen, [5]), 5)
    }))

  it.effect("processes have no doorbell", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1, backend: "processes" })
      assert.isNull(yield* pool.apply(wakeup.doorbell, []))
    }))

  it.effect("fastWakeup must be a boolean", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(WorkerPool.make({ size: 1, fastWakeup: "yes" as never }))
      assert.isTrue(Exit.isFailure(exit))
      const error = Cause.squash((exit as Exit.Failure<unknown, unknown>).cause)
      assert.include(String((error as Error).message), "fastWakeup must be a boolean")
    }))
})

describe("the wake-up fast path, at the protocol (threads)", () => {
  /**
   * A thread worker spawned as the pool spawns it, its replies collected, and
   * its doorbell (asked of it with a task), the worker parked on it.
   */
  const spawnParked = Effect.gen(function*() {
    const { raw, worker } = NodeThreads.threads({}).spawn(0)
    const replies: Array<ReadonlyArray<unknown>> = []
    raw.listen({
      onReplies: (batch) => {
        for (let i = 0; i < batch.length; i += Protocol.REPLY_WIDTH) replies.push(batch.slice(i, i + Protocol.REPLY_WIDTH))
      },
      onFaulty: (what) => replies.push(["faulty", what]),
      onUnreadable: (seq) => replies.push(["unreadable", seq])
    })
    const view = worker as EventEmitter & { readonly postMessage: (message: unknown) => void }
    yield* Effect.addFinalizer(() => Effect.promise(() => (raw.kill(), raw.exited)))
    yield* Effect.promise(() => new Promise((resolve) => view.once("message", resolve)))
    raw.post([Protocol.OP_DEFINE, 0, wakeup.doorbell.url, wakeup.doorbell.name, Protocol.OP_RUN, 1, 0, Protocol.MODE_APPLY, []], [])
    yield* until(() => replies.length >= 1)
    const [id, status, bell] = replies.shift()!
    assert.deepStrictEqual([id, status], [1, Protocol.STATUS_OK])
    yield* parked(bell as Int32Array)
    return { bell: bell as Int32Array, raw, replies, view }
  })

  const until = (condition: () => boolean): Effect.Effect<void> =>
    Effect.promise(async () => {
      while (!condition()) await new Promise((resolve) => setImmediate(resolve))
    })

  it.effect("a PING sent to a parked worker is answered at once, again after it parks again", () =>
    Effect.gen(function*() {
      const { bell, raw, replies } = yield* spawnParked
      raw.post([Protocol.OP_PING, 7], [])
      yield* until(() => replies.length >= 1)
      assert.deepStrictEqual(replies.shift(), [-1, Protocol.STATUS_PONG, 7, 0])
      yield* parked(bell)
      raw.post([Protocol.OP_PING, 8], [])
      yield* until(() => replies.length >= 1)
      assert.deepStrictEqual(replies.shift(), [-1, Protocol.STATUS_PONG, 8, 0])
    }))

  it.effect("a parked worker asked to close exits with code 0", () =>
    Effect.gen(function*() {
      const { raw, view } = yield* spawnParked
      view.postMessage([1])
      assert.strictEqual((yield* Effect.promise(() => raw.exited)).code, 0)
    }))

  it.effect("a parked worker is killed by terminate", () =>
    Effect.gen(function*() {
      const { raw } = yield* spawnParked
      raw.kill()
      assert.strictEqual((yield* Effect.promise(() => raw.exited)).code, 1)
    }))
})
