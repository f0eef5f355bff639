/**
 * `preload` (issue 13, "ready means ready"): `make` returns once every worker
 * has loaded the listed task modules and built their setup layers, so the
 * first call pays no import; a replacement worker (after a crash, or a
 * dynamic size growing) loads them before it takes a task; a module that fails
 * to load, or never finishes, is a failed start (SEMANTICS.md 24 and 30:
 * `WorkerStartFailed` naming it, bounded by `startTimeout`); option values
 * that are not task modules are refused. With worker threads, child processes
 * and the test layer.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as TestClock from "effect/testing/TestClock"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { WorkerCrashed, WorkerPool, WorkerStartFailed } from "../src/index.ts"
import { tasks as broken } from "./fixtures/broken-module.ts"
import { tasks as failingLayer } from "./fixtures/failing-layer-tasks.ts"
import { tasks as neverLoading } from "./fixtures/never-loading-tasks.ts"
import { building, tasks as neverLayer } from "./fixtures/preload-never-layer.ts"
import { tasks as probe } from "./fixtures/preload-probe.ts"
import { record, tasks as recorded } from "./fixtures/preload-record.ts"
import { tasks as plain } from "./fixtures/startup-plain-tasks.ts"
import { tasks } from "./fixtures/tasks.ts"
import { backends, eventually } from "./utils.ts"

/** A fresh directory that preload-record.ts leaves its traces in, removed with the scope. */
const recordDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "emp-preload-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** The traces of one kind (`module` loads, `layer` builds) in `dir`. */
const traces = (dir: string, kind: "module" | "layer") => fs.readdirSync(dir).filter((name) => name.startsWith(`${kind}-`))

const envWith = (dir: string) => ({ ...process.env, PRELOAD_RECORD_DIR: dir })

const recordLoads = new URL("./fixtures/startup-record-loads.mjs", import.meta.url).href

for (const backend of backends) {
  describe(`preload (${backend})`, () => {
    it.effect("make returns once every worker has loaded the modules and built their layers, before any call", () =>
      Effect.gen(function*() {
        const dir = yield* recordDir
        const pool = yield* WorkerPool.make({ size: 2, backend, env: envWith(dir), preload: [recorded, probe.seen] })
        assert.strictEqual(traces(dir, "module").length, 2, "the module loaded in both workers")
        assert.strictEqual(traces(dir, "layer").length, 2, "its layer was built in both workers")
        const seen = yield* Effect.all([pool.apply(probe.seen, []), pool.apply(probe.seen, [])], { concurrency: 2 })
        for (const one of seen) assert.deepInclude(one, { loaded: true, layers: 1 })
        assert.strictEqual(yield* pool.apply(recorded.add, [1, 2]), 3)
        assert.strictEqual(traces(dir, "layer").length, 2, "no layer was built again")
      }))

    it.effect("a replacement worker preloads before it runs a task", () =>
      Effect.gen(function*() {
        const dir = yield* recordDir
        const pool = yield* WorkerPool.make({ size: 1, backend, env: envWith(dir), preload: [recorded] })
        const first = yield* pool.apply(probe.seen, [])
        assert.instanceOf(yield* Effect.flip(pool.apply(probe.exit, [3])), WorkerCrashed)
        const replacement = yield* pool.apply(probe.seen, [])
        assert.notStrictEqual(replacement.worker, first.worker)
        assert.deepInclude(replacement, { loaded: true, layers: 1 }, "loaded before this task ran")
        assert.include(traces(dir, "module"), `module-${replacement.worker}`)
      }))

    it.effect("a worker that a dynamic size adds preloads before it runs a task", () =>
      Effect.gen(function*() {
        const dir = yield* recordDir
        const pool = yield* WorkerPool.make({ size: { min: 0, max: 1 }, backend, env: envWith(dir), preload: [recorded] })
        assert.deepStrictEqual(traces(dir, "module"), [], "no worker yet")
        assert.deepInclude(yield* pool.apply(probe.seen, []), { loaded: true, layers: 1 })
      }))

    it.effect("a preloaded module of plain functions loads no effect in the worker", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend, execArgv: ["--import", recordLoads], preload: [plain] })
        const loaded = yield* pool.apply(plain.loaded, [])
        assert.isDefined(loaded, "the preload recorded the worker's modules")
        assert.isTrue(loaded!.some((url) => url.includes("startup-plain-tasks")), "it loaded the task module")
        assert.deepStrictEqual(loaded!.filter((url) => /\/(effect|@effect)\//.test(url)), [])
      }))

    it.effect("24. a module that fails to load: make fails with WorkerStartFailed naming it, after the usual attempts", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Effect.scoped(WorkerPool.make({ size: 1, backend, preload: [broken] })))
        assert.instanceOf(error, WorkerStartFailed)
        assert.strictEqual(error.attempts, 3)
        assert.include(error.message, `its preload of ${broken.neverRuns.url} failed`)
        assert.include(error.message, "this module refuses to load in a worker")
      }))

    it.live("30. a module that never finishes loading: make fails within startTimeout, naming it", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(
          Effect.scoped(WorkerPool.make({ size: 1, backend, startTimeout: "1 second", preload: [neverLoading] }))
        )
        assert.instanceOf(error, WorkerStartFailed)
        assert.include(error.message, "timed out")
        assert.include(error.message, `it was loading the task module ${neverLoading.neverRuns.url} (preload)`)
      }))
  })
}

describe("preload (test layer)", () => {
  it.effect("each in-process worker builds the modules' layers before make returns, and a replacement before its task", () =>
    Effect.gen(function*() {
      const before = record.layers
      const pool = yield* WorkerPool.makeTest({
        size: 2,
        preload: [recorded],
        crash: (call) => call.name === "exit"
      })
      assert.strictEqual(record.layers - before, 2, "built once per worker, before any call")
      assert.instanceOf(yield* Effect.flip(pool.apply(probe.exit, [0])), WorkerCrashed)
      assert.strictEqual(yield* pool.apply(recorded.add, [2, 3]), 5)
      assert.strictEqual(record.layers - before, 3, "the replacement built it before it ran a task")
    }))

  it.effect("a module whose layer fails: WorkerStartFailed naming it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(WorkerPool.makeTest({ size: 1, preload: [failingLayer] })))
      assert.instanceOf(error, WorkerStartFailed)
      assert.include(error.message, `its preload of ${failingLayer.render.url} failed`)
      assert.include(error.message, "no GPU on this machine")
    }))

  it.effect("a module whose layer never finishes: make fails after startTimeout on the TestClock", () =>
    Effect.gen(function*() {
      const before = building.count
      const starting = yield* Effect.forkChild(
        Effect.scoped(WorkerPool.makeTest({ size: 1, startTimeout: "10 seconds", preload: [neverLayer] }))
      )
      yield* eventually(() => building.count > before, "the worker is building the layer")
      yield* TestClock.adjust("9999 millis")
      assert.isUndefined(starting.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      const error = yield* Effect.flip(Fiber.join(starting))
      assert.instanceOf(error, WorkerStartFailed)
      assert.include(error.message, `it was loading the task module ${neverLayer.plain.url} (preload)`)
    }))
})

describe("preload: option values", () => {
  const refused: ReadonlyArray<readonly [string, unknown, string]> = [
    ["not an array", "tasks", "preload must be an array of task modules"],
    ["a number", [42], "preload[0]: expected a task module"],
    ["null", [null], "preload[0]: expected a task module"],
    ["a plain function", [(x: number) => x], "preload[0]: expected a task module"],
    ["an empty object", [{}], "preload[0]: expected a task module"],
    ["a record of tasks of two modules", [{ a: tasks.square, b: probe.seen }], "preload[0]: expected a task module"],
    ["a record with a non-task", [{ a: tasks.square, b: 1 }], "preload[0]: expected a task module"],
    ["a forged task handle", [recorded, { "~effect-multiprocessing/Task": true }], "preload[1]: expected a task handle"]
  ]
  for (const [what, value, message] of refused) {
    it.effect(`33. ${what} is refused with IllegalArgumentError`, () =>
      Effect.gen(function*() {
        for (const make of [WorkerPool.make, WorkerPool.makeTest]) {
          const error = yield* Effect.flip(Effect.scoped(make({ size: 1, preload: value as any })))
          assert.strictEqual(error._tag, "IllegalArgumentError")
          assert.include(error.message, message)
        }
      }))
  }

  it("types: an entry is what Task.module returns, or one of its tasks", () => {
    const options: WorkerPool.Options = { preload: [tasks, recorded.add, probe] }
    // @ts-expect-error a plain function is not a task module
    const lambda: WorkerPool.Options = { preload: [(x: number) => x] }
    // @ts-expect-error a module's URL is not a task module
    const url: WorkerPool.Options = { preload: [tasks.square.url] }
    assert.isDefined([options, lambda, url])
  })

  it.effect("a module listed twice (as itself and as one of its tasks) is loaded once", () =>
    Effect.gen(function*() {
      const before = record.layers
      yield* Effect.scoped(WorkerPool.makeTest({ size: 1, preload: [recorded, recorded.add, recorded] }))
      assert.strictEqual(record.layers - before, 1)
    }))
})
