/**
 * Backends as layers, and the options every worker starts with (`argv`, `env`,
 * `name`), plus recycling by memory (`maxHeapPerWorkerMb`), on real threads
 * and real processes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Config, ConfigProvider, Effect, Layer } from "effect"
import * as fs from "node:fs"
import { Backend, WorkerPool } from "../src/index.ts"
import { backendTasks } from "./fixtures/backend-tasks.ts"

const threadNames = (): Array<string> =>
  fs.readdirSync("/proc/self/task").flatMap((task) => {
    try {
      return [fs.readFileSync(`/proc/self/task/${task}/comm`, "utf8").trim()]
    } catch {
      return []
    }
  })

describe("Backend layers", () => {
  it.effect("without a layer, workers are threads of this process", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1 })
      const [pid] = (yield* pool.apply(backendTasks.whoami, [])).split(":")
      assert.strictEqual(Number(pid), process.pid)
    }))

  it.effect("Backend.processes makes the pools built under it fork child processes", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 2 })
      const workers = yield* pool.map(backendTasks.whoami, [0, 1], { chunksize: 1 })
      for (const worker of workers) assert.notStrictEqual(Number(worker.split(":")[0]), process.pid)
      assert.strictEqual(new Set(workers).size, 2)
    }).pipe(Effect.provide(Backend.processes())))

  it.effect("Backend.threads gives threads, and a pool's own backend option wins over the layer's", () =>
    Effect.gen(function*() {
      const threads = yield* WorkerPool.make({ size: 1 }).pipe(Effect.provide(Backend.threads()))
      assert.strictEqual(Number((yield* threads.apply(backendTasks.whoami, [])).split(":")[0]), process.pid)
      const overridden = yield* WorkerPool.make({ size: 1, backend: "threads" }).pipe(
        Effect.provide(Backend.processes())
      )
      assert.strictEqual(Number((yield* overridden.apply(backendTasks.whoami, [])).split(":")[0]), process.pid)
    }))

  it.effect("the layer's options apply, and each option the pool sets replaces the layer's", () =>
    Effect.gen(function*() {
      const layered = yield* WorkerPool.make({ size: 1 })
      assert.deepStrictEqual(yield* layered.apply(backendTasks.argv, []), ["from", "layer"])
      assert.strictEqual(yield* layered.apply(backendTasks.env, ["MODE"]), "layer")
      const own = yield* WorkerPool.make({ size: 1, argv: ["own"] })
      assert.deepStrictEqual(yield* own.apply(backendTasks.argv, []), ["own"])
      assert.strictEqual(yield* own.apply(backendTasks.env, ["MODE"]), "layer")
    }).pipe(Effect.provide(Backend.processes({ argv: ["from", "layer"], env: { MODE: "layer" } }))))

  it.effect("WorkerPool.layer builds its pool with the Backend layer it is given", () =>
    Effect.gen(function*() {
      const worker = yield* WorkerPool.apply(backendTasks.whoami, [])
      assert.notStrictEqual(Number(worker.split(":")[0]), process.pid)
    }).pipe(Effect.provide(WorkerPool.layer({ size: 1 }).pipe(Layer.provide(Backend.processes())))))

  it.effect("layerConfig can take the backend and the worker heap bound from the environment", () =>
    Effect.gen(function*() {
      const worker = yield* WorkerPool.apply(backendTasks.whoami, [])
      assert.notStrictEqual(Number(worker.split(":")[0]), process.pid)
    }).pipe(Effect.provide(
      WorkerPool.layerConfig({
        size: Config.Int("POOL_SIZE"),
        backend: Config.Literals(["threads", "processes"], "POOL_BACKEND"),
        maxHeapPerWorkerMb: Config.Int("POOL_MAX_HEAP_MB")
      }).pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({
        POOL_SIZE: "1",
        POOL_BACKEND: "processes",
        POOL_MAX_HEAP_MB: "512"
      }))))
    )))
})

for (const kind of ["threads", "processes"] as const) {
  describe(`worker start options (${kind})`, () => {
    it.effect("argv: a task sees exactly the given arguments in process.argv.slice(2); none by default", () =>
      Effect.gen(function*() {
        const given = yield* WorkerPool.make({ size: 1, backend: kind, argv: ["--mode", "batch", "x y"] })
        assert.deepStrictEqual(yield* given.apply(backendTasks.argv, []), ["--mode", "batch", "x y"])
        const none = yield* WorkerPool.make({ size: 1, backend: kind })
        assert.deepStrictEqual(yield* none.apply(backendTasks.argv, []), [])
      }))

    it.effect("env: a task sees the given environment, and only it", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend: kind, env: { MODE: "batch" } })
        assert.strictEqual(yield* pool.apply(backendTasks.env, ["MODE"]), "batch")
        assert.strictEqual(yield* pool.apply(backendTasks.env, ["PATH"]), undefined)
      }))

    it.effect("maxHeapPerWorkerMb: a worker whose heap outgrows the limit is replaced after its task", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend: kind, maxHeapPerWorkerMb: 96 })
        // small tasks keep the same worker
        const first = yield* pool.apply(backendTasks.whoami, [])
        assert.strictEqual(yield* pool.apply(backendTasks.whoami, []), first)
        // one that leaves 160 MiB behind gets its worker replaced; the next task runs on a fresh one
        assert.strictEqual(yield* pool.apply(backendTasks.hoard, [160]), first)
        const next = yield* pool.apply(backendTasks.whoami, [])
        assert.notStrictEqual(next, first)
        assert.strictEqual(yield* pool.apply(backendTasks.hoarded, []), 0)
        assert.strictEqual(yield* pool.apply(backendTasks.whoami, []), next)
        const stats = yield* pool.stats
        assert.strictEqual(stats.workers.idle, 1)
      }))
  })
}

describe("worker names", () => {
  it.effect("threads are named <name> worker <n>, as the OS sees them", () =>
    Effect.gen(function*() {
      yield* WorkerPool.make({ size: 2, name: "emp-named" })
      const named = threadNames().filter((name) => name.startsWith("emp-named worke"))
      assert.strictEqual(named.length, 2)
    }))

  it.effect("a process worker's title is <name> worker <n>", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1, backend: "processes", name: "emp-named" })
      assert.match(yield* pool.apply(backendTasks.title, []), /^emp-named worker \d+$/)
      const pid = Number((yield* pool.apply(backendTasks.whoami, [])).split(":")[0])
      assert.match(fs.readFileSync(`/proc/${pid}/cmdline`, "utf8"), /^emp-named worker \d+/)
    }))
})

describe("bad backend options", () => {
  const rejected = (options: WorkerPool.Options, message: RegExp) =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(WorkerPool.make(options))
      assert.isTrue(Cause.isIllegalArgumentError(error))
      assert.match((error as Cause.IllegalArgumentError).message, message)
    })

  it.effect("are rejected with a clear error before any worker starts", () =>
    Effect.gen(function*() {
      yield* rejected({ argv: "--mode" as unknown as Array<string> }, /argv must be an array of strings/)
      yield* rejected({ execArgv: [1] as unknown as Array<string> }, /execArgv must be an array of strings/)
      yield* rejected({ name: "" }, /name must be a non-empty string/)
      yield* rejected({ env: "MODE=1" as unknown as Record<string, string> }, /env must be a record of strings/)
      yield* rejected({ maxHeapPerWorkerMb: 0 }, /maxHeapPerWorkerMb must be a positive integer/)
      yield* rejected({ backend: "fibers" as unknown as "threads" }, /backend must be "threads" or "processes"/)
    }))

  it.effect("a bad kind in a Backend layer is rejected the same way", () =>
    rejected({ size: 1 }, /backend must be "threads" or "processes", got fibers/).pipe(
      Effect.provideService(Backend.Backend, { kind: "fibers" as unknown as "threads" })
    ))
})
