/**
 * How chunks and calls are pipelined onto real workers (dispatcher.ts): two
 * chunks in flight per thread worker whatever their cost (one per process,
 * which runs one task at a time), results and errors as before, and a call
 * that no worker has room for does not wait for ever behind async tasks that
 * leave their thread free.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { TaskError, WorkerPool } from "../src/index.ts"
import { tasks } from "./fixtures/tasks.ts"
import { backends, makeFlags, open, waitFor } from "./utils.ts"

for (const backend of backends) {
  describe(`pipelining (${backend})`, () => {
    it.effect("a thread worker holds the next chunk while it runs one, whatever its cost; a process holds one", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 2, backend })
        yield* pool.broadcast(tasks.square, [1]) // both workers have loaded the module; `gated` is not measured
        const gates = yield* makeFlags(backend, 3)
        // four chunks of one gated item: the first two block their workers until the test opens their gates
        open(gates, 2)
        const mapped = yield* Effect.forkChild(
          pool.starmap(tasks.gated, [[gates, 0], [gates, 1], [gates, 2], [gates, 2]], { chunksize: 1 })
        )
        const stats = yield* Effect.repeat(pool.stats, { until: (stats) => stats.running >= 2 })
        assert.strictEqual(stats.queued, backend === "threads" ? 0 : 2, JSON.stringify(stats))
        open(gates, 0)
        open(gates, 1)
        assert.deepStrictEqual(yield* Fiber.join(mapped), [0, 1, 2, 2])
      }))

    it.effect("map and starmap give the same results and errors over many large chunks", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 2, backend })
        const items = Array.from({ length: 20_000 }, (_, i) => i)
        const squares = items.map((x) => x * x)
        assert.deepStrictEqual(yield* pool.map(tasks.square, items), squares)
        assert.deepStrictEqual(yield* pool.map(tasks.square, items, { chunksize: 300 }), squares)
        const pairs = items.map((x) => [x, 1] as const)
        assert.deepStrictEqual(yield* pool.starmap(tasks.add, pairs), items.map((x) => x + 1))
        // an item is passed as it is, arrays included (not spread)
        const rows = items.slice(0, 1_000).map((x) => [x, x])
        assert.deepStrictEqual(yield* pool.map(tasks.identity, rows), rows)
        const failed = yield* Effect.flip(pool.starmap(tasks.failAt, items.map((x) => [x, 15_000] as const)))
        assert.instanceOf(failed, TaskError)
        assert.include(failed.message, "failed at 15000")
        const undefinedItems = [undefined, 1, undefined]
        assert.deepStrictEqual(yield* pool.map(tasks.identity, undefinedItems), undefinedItems)
      }))

    it.effect("a call no worker has room for does not wait for ever behind async tasks that end after it", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 2, backend })
        yield* pool.broadcast(tasks.square, [1]) // both workers have loaded the module
        const flags = [yield* makeFlags(backend), yield* makeFlags(backend)]
        // each worker holds an async task that waits for its signal, leaving its thread free
        const waiting = yield* Effect.forEach(flags, (shared) => Effect.forkChild(pool.apply(tasks.abortable, [shared])))
        yield* Effect.forEach(flags, (shared) => waitFor(shared, 0))
        if (backend === "processes") {
          // a process runs one task at a time, as in Python: the call waits for a free worker
          const call = yield* Effect.forkChild(pool.apply(tasks.add, [1, 2]))
          yield* Fiber.interrupt(waiting[0])
          assert.strictEqual(yield* Fiber.join(call), 3)
        } else {
          // `add` was never measured: it would wait for an idle worker, for ever
          assert.strictEqual(yield* pool.apply(tasks.add, [1, 2]), 3)
        }
        yield* Effect.forEach(waiting, Fiber.interrupt)
        yield* Effect.forEach(flags, (shared) => waitFor(shared, 1)) // each saw its signal fire
      }))

    if (backend === "threads") {
      it.effect("a call queued while the async tasks were still starting goes out once their threads are free", () =>
        Effect.gen(function*() {
          const pool = yield* WorkerPool.make({ size: 2, backend })
          yield* pool.broadcast(tasks.square, [1])
          const flags = [yield* makeFlags(backend), yield* makeFlags(backend)]
          // each worker has started its async task but not returned from it yet: its thread is not free
          const waiting = yield* Effect.forEach(flags, (shared) => Effect.forkChild(pool.apply(tasks.abortableLate, [shared])))
          yield* Effect.forEach(flags, (shared) => waitFor(shared, 0))
          const call = yield* Effect.forkChild(pool.apply(tasks.add, [1, 2]))
          yield* Effect.repeat(pool.stats, { until: (stats) => stats.queued === 1 })
          // the workers free their threads and say nothing: the pool must look again by itself
          for (const shared of flags) open(shared, 2)
          assert.strictEqual(yield* Fiber.join(call), 3)
          yield* Effect.forEach(waiting, Fiber.interrupt)
          yield* Effect.forEach(flags, (shared) => waitFor(shared, 1))
        }))
    }
  })
}

describe("pipelining (test layer)", () => {
  it.effect("a call no worker has room for does not wait for ever behind async tasks that end after it", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.makeTest({ size: 2 })
      yield* pool.broadcast(tasks.square, [1])
      const flags = [yield* makeFlags("threads"), yield* makeFlags("threads")]
      const waiting = yield* Effect.forEach(flags, (shared) => Effect.forkChild(pool.apply(tasks.abortable, [shared])))
      yield* Effect.forEach(flags, (shared) => waitFor(shared, 0))
      assert.strictEqual(yield* pool.apply(tasks.add, [1, 2]), 3)
      yield* Effect.forEach(waiting, Fiber.interrupt)
      yield* Effect.forEach(flags, (shared) => waitFor(shared, 1))
    }))
})
