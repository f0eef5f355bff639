/**
 * Worker start-up: a worker loads no more than its tasks need. Its entry
 * speaks effect's worker protocol without effect, the package index a task
 * module imports is a light one in a worker (the rest of the package loads on
 * first use), and Node's compile cache is on without showing in the tasks'
 * environment.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { WorkerPool } from "../src/index.ts"
import { tasks as index } from "./fixtures/startup-index-tasks.ts"
import { tasks as plain } from "./fixtures/startup-plain-tasks.ts"

const recordLoads = new URL("./fixtures/startup-record-loads.mjs", import.meta.url).href

describe("worker start-up", () => {
  for (const backend of ["threads", "processes"] as const) {
    it.effect(`${backend}: a worker whose tasks are plain functions loads no effect`, () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend, execArgv: ["--import", recordLoads] })
        assert.strictEqual(yield* pool.apply(plain.add, [1, 2]), 3)
        const loaded = yield* pool.apply(plain.loaded, [])
        assert.isDefined(loaded, "the preload recorded the worker's modules")
        assert.isTrue(loaded!.some((url) => url.includes("startup-plain-tasks")), "it loaded the task module")
        assert.deepStrictEqual(loaded!.filter((url) => /\/(effect|@effect)\//.test(url)), [])
        assert.isFalse(loaded!.some((url) => /\/src\/(index|WorkerPool|PoolError)\.ts$/.test(url)))
      }))

    it.effect(`${backend}: the package's other exports work in a worker, loaded on first use`, () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        assert.deepStrictEqual(yield* pool.apply(index.useIndex, []), {
          instanceOf: true,
          subclass: true,
          tag: "TaskError",
          constructorName: "TaskError",
          caught: "Error: boom (in task t#f)",
          otherClass: "PoolNotRunning",
          hasMake: true,
          nested: 42
        })
      }))

    it.effect(`${backend}: the compile cache is on, and the variable the pool set is not in the tasks' environment`, () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const seen = yield* pool.apply(plain.environment, [])
        assert.strictEqual(seen.EFFECT_MULTIPROCESSING_COMPILE_CACHE, undefined)
        assert.strictEqual(seen.NODE_COMPILE_CACHE, process.env.NODE_COMPILE_CACHE)
        if (process.env.NODE_COMPILE_CACHE === undefined && process.env.NODE_DISABLE_COMPILE_CACHE === undefined) {
          assert.isString(seen.compileCacheDir)
        }
      }))
  }

  it.effect("a user's own NODE_COMPILE_CACHE reaches the worker as it is", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({
        size: 1,
        backend: "processes",
        env: { ...process.env, NODE_COMPILE_CACHE: "/tmp/effect-multiprocessing-test-cache" }
      })
      const seen = yield* pool.apply(plain.environment, [])
      assert.strictEqual(seen.NODE_COMPILE_CACHE, "/tmp/effect-multiprocessing-test-cache")
      assert.include(seen.compileCacheDir ?? "", "/tmp/effect-multiprocessing-test-cache")
    }))
})
