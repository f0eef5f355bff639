/**
 * Progress: a task's `Task.progress` updates reach the caller that asked
 * (`onProgress`, `applyWithProgress`), in order and before the result, under
 * the coalescing rule of progressWorker.ts (with `progressInterval: 0` every
 * update arrives: the tests that count updates use it); a `map` reports
 * `{ done, total }` as its chunks finish. With worker threads and child
 * processes, and the test layer.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Stream } from "effect"
import { TaskError, WorkerPool } from "../src/index.ts"
import { Pool } from "../src/Promise.ts"
import type { MapProgress } from "../src/WorkerPool.ts"
import { tasks } from "./fixtures/progress-tasks.ts"
import { backends, makeFlags, open } from "./utils.ts"

for (const backend of backends) {
  describe(`progress of one call (${backend})`, () => {
    it.live("a task reporting 10 steps is seen as 10 ordered updates, then the result", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 2, backend })
        for (const task of [tasks.steps, tasks.stepsAsync, tasks.stepsEffect] as const) {
          const seen: Array<unknown> = []
          const result = yield* pool.apply(task as typeof tasks.steps, [10], {
            onProgress: (value) => seen.push(value),
            progressInterval: 0
          })
          const expected = task === tasks.steps
            ? Array.from({ length: 10 }, (_, i) => ({ step: i + 1, of: 10 }))
            : Array.from({ length: 10 }, (_, i) => i + 1)
          assert.deepStrictEqual(seen, expected, task.name)
          assert.deepStrictEqual(result, task === tasks.steps ? 10 : task === tasks.stepsAsync ? "done" : 100)
        }
      }))

    it.live("applyWithProgress: a Stream of the 10 updates, then Done with the result", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const updates = yield* Stream.runCollect(pool.applyWithProgress(tasks.stepsAsync, [10], { progressInterval: 0 }))
        assert.deepStrictEqual(updates, [
          ...Array.from({ length: 10 }, (_, i) => ({ _tag: "Progress" as const, value: i + 1 })),
          { _tag: "Done" as const, value: "done" }
        ])
        const failed = yield* Effect.flip(Stream.runCollect(pool.applyWithProgress(tasks.fail, ["no"])))
        assert.instanceOf(failed, TaskError)
      }))

    it.live("coalesced: of 100,000 updates made at once, a few arrive, in order, the last one always", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const seen: Array<number> = []
        const result = yield* pool.apply(tasks.burst, [100_000], {
          onProgress: (value) => seen.push(value as number),
          progressInterval: "1 hour"
        })
        assert.strictEqual(result, 100_000)
        // the first at once; the rest kept, the latest winning, and sent before the result
        assert.deepStrictEqual(seen, [1, 100_000])
      }))

    it.live("an update arrives while the task still runs", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const flags = yield* makeFlags(backend)
        const seen: Array<unknown> = []
        const result = yield* pool.apply(tasks.reportThenWait, [flags], {
          onProgress: (value) => {
            seen.push(value)
            if (value === "started") open(flags, 0) // only once the first update is here does the task go on
          },
          progressInterval: 0
        })
        assert.strictEqual(result, "ok")
        assert.deepStrictEqual(seen, ["started", "finishing"])
      }))

    it.live("a call that does not ask gets nothing; Task.progress of an uncloneable value throws in the task", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        assert.strictEqual(yield* pool.apply(tasks.steps, [5]), 5)
        assert.strictEqual(yield* pool.apply(tasks.uncloneable, []), "sent", "not watched: nothing is sent")
        assert.strictEqual(
          yield* pool.apply(tasks.uncloneable, [], { onProgress: () => {}, progressInterval: 0 }),
          "TypeError"
        )
      }))

    it.live("a bad progressInterval is an IllegalArgumentError", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const error = yield* Effect.flip(pool.apply(tasks.steps, [1], { onProgress: () => {}, progressInterval: -1 }))
        assert.isTrue(Cause.isIllegalArgumentError(error))
      }))
  })

  describe(`progress of a map (${backend})`, () => {
    it.live("a map of 1,000 items reports monotonically up to 1,000/1,000", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 2, backend })
        const items = Array.from({ length: 1000 }, (_, i) => i)
        for (const chunksize of [undefined, 1, 7]) {
          const seen: Array<MapProgress> = []
          const results = yield* pool.map(tasks.square, items, { chunksize, onProgress: (p) => seen.push(p) })
          assert.deepStrictEqual(results, items.map((x) => x * x))
          assert.deepStrictEqual(seen[0], { done: 0, total: 1000 })
          assert.deepStrictEqual(seen[seen.length - 1], { done: 1000, total: 1000 })
          for (let i = 1; i < seen.length; i++) assert.isTrue(seen[i].done > seen[i - 1].done, "monotonic")
          assert.isTrue(seen.every((p) => p.total === 1000))
        }
      }))

    it.live("starmap, mapAsync and imap report too (imap over a Stream has no total)", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 2, backend })
        const star: Array<MapProgress> = []
        yield* pool.starmap(tasks.square, [[1], [2], [3]], { chunksize: 1, onProgress: (p) => star.push(p) })
        assert.deepStrictEqual(star.at(-1), { done: 3, total: 3 })
        const async: Array<MapProgress> = []
        const result = yield* pool.mapAsync(tasks.square, [1, 2, 3, 4], { chunksize: 2, onProgress: (p) => async.push(p) })
        assert.deepStrictEqual(yield* result.get(), [1, 4, 9, 16])
        assert.deepStrictEqual(async.map((p) => p.done), [0, 2, 4])
        const lazy: Array<MapProgress> = []
        const squares = yield* Stream.runCollect(
          pool.imap(tasks.square, Stream.make(1, 2, 3), { onProgress: (p) => lazy.push(p) })
        )
        assert.deepStrictEqual(squares, [1, 4, 9])
        assert.deepStrictEqual(lazy, [{ done: 0, total: undefined }, { done: 1, total: undefined }, {
          done: 2,
          total: undefined
        }, { done: 3, total: undefined }])
      }))
  })
}

describe("progress in the Promise API", () => {
  it("onProgress on apply and map", async () => {
    await using pool = await Pool.create({ size: 1 })
    const steps: Array<unknown> = []
    assert.strictEqual(await pool.apply(tasks.stepsAsync, [3], { onProgress: (v) => steps.push(v), progressInterval: 0 }), "done")
    assert.deepStrictEqual(steps, [1, 2, 3])
    const done: Array<number> = []
    await pool.map(tasks.square, [1, 2, 3, 4], { chunksize: 1, onProgress: (p) => done.push(p.done) })
    assert.deepStrictEqual(done, [0, 1, 2, 3, 4])
  })
})

describe("progress on the test layer", () => {
  it.live("the same 10 ordered updates then the result, whatever the seed", () =>
    Effect.gen(function*() {
      for (const seed of [1, 2, 3]) {
        const pool = yield* WorkerPool.makeTest({ size: 2, seed })
        const seen: Array<unknown> = []
        const [a, b] = yield* Effect.all([
          pool.apply(tasks.stepsAsync, [10], { onProgress: (value) => seen.push(value), progressInterval: 0 }),
          pool.apply(tasks.stepsAsync, [3])
        ], { concurrency: "unbounded" })
        assert.deepStrictEqual([a, b], ["done", "done"])
        assert.deepStrictEqual(seen, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
      }
    }))
})
