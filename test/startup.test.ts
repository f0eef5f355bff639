/**
 * Worker start-up: a worker loads no more than its tasks need. Its entry
 * speaks effect's worker protocol without effect, the package index a task
 * module imports is a light one in a worker (the rest of the package loads on
 * first use), and Node's compile cache is on without showing in the tasks'
 * environment.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { EventEmitter } from "node:events"
import { WorkerPool } from "../src/index.ts"
import * as NodeProcesses from "../src/internal/nodeProcesses.ts"
import * as NodeThreads from "../src/internal/nodeThreads.ts"
import { tasks as index } from "./fixtures/startup-index-tasks.ts"
import { tasks as plain } from "./fixtures/startup-plain-tasks.ts"

const recordLoads = new URL("./fixtures/startup-record-loads.mjs", import.meta.url).href
const earlyExit = new URL("./fixtures/early-exit-entry.mjs", import.meta.url)
const exitAtOnce = new URL("./fixtures/exit-at-once-entry.mjs", import.meta.url)

const noListener = { onReplies: () => {}, onFaulty: () => {}, onUnreadable: () => {} }

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

    it.effect(`${backend}: a worker loads the package's worker index once ready, before its first task module`, () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend, execArgv: ["--import", recordLoads] })
        yield* pool.apply(plain.add, [1, 2])
        const loaded = (yield* pool.apply(plain.loaded, []))!
        const index = loaded.findIndex((url) => url.endsWith("/src/internal/workerIndex.ts"))
        assert.isAtLeast(index, 0)
        assert.isBelow(index, loaded.findIndex((url) => url.includes("startup-plain-tasks")))
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

  describe("workers started early (before the pool listens to them)", () => {
    it("the view keeps what came before anyone listened: the first listener of a kind gets it, every one the exit", async () => {
      const worker = new EventEmitter()
      const view = NodeThreads.platformView(worker, { postMessage: () => {}, terminate: () => {} })
      view.emit("message", [0])
      const boom = new Error("boom")
      worker.emit("error", boom) // nobody listens: kept, not thrown
      worker.emit("exit", 3)
      const seen: Array<unknown> = []
      await new Promise<void>((resolve) => {
        view.on("message", (message) => seen.push(["message", message]))
        view.on("error", (error) => seen.push(["error", error]))
        view.on("exit", (code) => seen.push(["exit", code]))
        view.on("exit", (code) => {
          seen.push(["exit again", code])
          resolve()
        })
      })
      assert.deepStrictEqual(seen, [["message", [0]], ["error", boom], ["exit", 3], ["exit again", 3]])
      view.on("message", () => seen.push("told twice"))
      await Promise.resolve()
      assert.strictEqual(seen.length, 4)
    })

    for (const backend of ["threads", "processes"] as const) {
      it(`${backend}: a worker started early hands what it sent, and its exit, to the pool once it listens`, async () => {
        const workers = backend === "threads"
          ? NodeThreads.threads({ workerEntry: earlyExit })
          : NodeProcesses.processes({ workerEntry: earlyExit })
        const discard = workers.startEarly!(1)
        const started = workers.spawn(1)
        // it has sent its ready signal and exited before anyone listened
        assert.strictEqual((await started.raw.exited).code, 7)
        const view = started.worker as EventEmitter
        const seen: Array<unknown> = []
        await new Promise<void>((resolve) => {
          started.raw.listen(noListener)
          view.on("message", (message) => seen.push(["message", message]))
          view.on("exit", (code) => {
            seen.push(["exit", code])
            resolve()
          })
        })
        assert.deepStrictEqual(seen, [["message", [0]], ["exit", 7]])
        await discard() // nothing left: it was handed out
      })
    }

    it("those never handed out are killed, and waited for", async () => {
      const backend = NodeThreads.threads({})
      const discard = backend.startEarly!(2)
      const exits: Array<number | null> = []
      // the first is handed out (and killed here); the second is left over
      const first = backend.spawn(1)
      first.raw.kill()
      exits.push((await first.raw.exited).code)
      await discard()
      assert.strictEqual(exits.length, 1)
    })

    for (const backend of ["threads", "processes"] as const) {
      it.effect(`${backend}: a pool whose first workers cannot start fails with WorkerStartFailed at once (no wait for startTimeout)`, () =>
        Effect.gen(function*() {
          const error = yield* Effect.flip(
            WorkerPool.make({ size: 2, backend, workerEntry: exitAtOnce, startTimeout: "60 seconds" })
          )
          assert.strictEqual(error._tag, "WorkerStartFailed")
          assert.include(error.message, "in a row exited before they were ready")
        }), { timeout: 30_000 })
    }
  })
})
