import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { WorkerPool } from "../src/index.ts"
import { tasks } from "./fixtures/tasks.ts"

describe("smoke", () => {
  it.effect("works", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.makeTest({ size: 3, seed: 1 })
      assert.strictEqual(yield* pool.apply(tasks.add, [1, 2]), 3)
      assert.deepStrictEqual(yield* pool.map(tasks.square, [1, 2, 3, 4, 5]), [1, 4, 9, 16, 25])
      const u = yield* Stream.runCollect(pool.imapUnordered(tasks.square, [1, 2, 3, 4, 5, 6, 7, 8]))
      console.log(u)
      const u2 = yield* Stream.runCollect(pool.imapUnordered(tasks.half, [2, 4, 6, 8]))
      console.log(u2)
    }))
})
