/**
 * The boundary, SEMANTICS.md 28, for what tracing and logs add to the
 * protocol: a worker whose spans (`STATUS_SPANS`) or logs (`STATUS_LOGS`) are
 * malformed is faulty: it is replaced, and exactly the task it held fails
 * with `WorkerCrashed` saying what it sent; nothing throws in the pool. Well
 * formed spans and logs of a job the worker does not hold are dropped. With
 * worker threads and child processes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { WorkerCrashed, WorkerPool } from "../../src/index.ts"
import { malformed, tasks } from "../fixtures/tracing-tasks.ts"
import { backends } from "../utils.ts"

for (const backend of backends) {
  describe(`a worker whose spans or logs are malformed (${backend})`, () => {
    for (const kind of Object.keys(malformed) as Array<keyof typeof malformed>) {
      it.live(`28. it sends ${kind}: it is replaced, its task fails with WorkerCrashed saying so`, () =>
        Effect.gen(function*() {
          const pool = yield* WorkerPool.make({ size: 1, backend })
          assert.strictEqual(yield* pool.apply(tasks.add, [1, 2]), 3)
          const error = yield* Effect.flip(pool.apply(tasks.postMalformed, [kind]))
          assert.instanceOf(error, WorkerCrashed)
          assert.include(error.message, "broke the protocol")
          assert.include(error.message, kind.startsWith("span") ? "spans that are not" : "logs that are not")
          // replaced: a new worker serves
          assert.strictEqual(yield* pool.apply(tasks.add, [2, 3]), 5)
        }))
    }

    it.live("28. well-formed spans and logs of a job it does not hold are dropped; it serves on", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const before = yield* pool.apply(tasks.whoAmI, [])
        assert.strictEqual(yield* pool.apply(tasks.postHarmless, []), "posted")
        assert.strictEqual(yield* pool.apply(tasks.add, [2, 3]), 5)
        assert.strictEqual(yield* pool.apply(tasks.whoAmI, []), before)
      }))
  })
}
