/**
 * Per-worker setup and recycling (SEMANTICS.md "Shape of the API", 24, 27):
 * Python's initializer runs once on each worker before its first task;
 * maxTasksPerWorker replaces a worker after that many tasks; broadcast runs a
 * task on every worker. All with real worker threads and real child processes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Config, ConfigProvider, Effect, Fiber, Layer, Metric, Stream } from "effect"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { TaskError, WorkerPool, WorkerStartFailed } from "../src/index.ts"
import { tasks as failingLayer } from "./fixtures/failing-layer-tasks.ts"
import { tasks as withLayer } from "./fixtures/layer-tasks.ts"
import { tasks } from "./fixtures/tasks.ts"
import * as TestClock from "effect/testing/TestClock"
import { backends, dispatched, eventually, liveWorkers, load, makeFlags, open, runFixture, waitFor } from "./utils.ts"

const count = <A>(values: ReadonlyArray<A>) => {
  const counts = new Map<A, number>()
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1)
  return counts
}

for (const backend of backends) {
  describe(`initializer (${backend})`, () => {
    it.effect("runs exactly once on each worker, before its first task", () =>
      Effect.gen(function*() {
        const calls = yield* makeFlags(backend, 1)
        const pool = yield* WorkerPool.make({ size: 3, backend, initializer: tasks.initialize, initargs: [calls, "model"] })
        assert.strictEqual(load(calls, 0), 3, "make waited for every worker's initializer")
        const seen = yield* pool.map(tasks.initLabel, Array.from({ length: 30 }, (_, i) => i), { chunksize: 1 })
        assert.isTrue(seen.every(([label]) => label === "model"))
        assert.strictEqual(load(calls, 0), 3, "not again for later tasks")
      }))

    it.effect("runs on every replacement worker too", () =>
      Effect.gen(function*() {
        const calls = yield* makeFlags(backend, 1)
        const pool = yield* WorkerPool.make({
          size: 1,
          backend,
          initializer: tasks.initialize,
          initargs: [calls, "again"],
          maxTasksPerWorker: 2
        })
        const seen = yield* pool.map(tasks.initLabel, [1, 2, 3, 4, 5, 6], { chunksize: 1 })
        assert.isTrue(seen.every(([label]) => label === "again"))
        const workers = new Set(seen.map(([, worker]) => worker)).size
        assert.strictEqual(workers, 3)
        assert.isAtLeast(load(calls, 0), workers, "one initializer run per worker (the next may be starting)")
      }))

    it.effect("24. an initializer that fails: the pool gives up after a few attempts, with the cause", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(
          WorkerPool.make({ size: 2, backend, initializer: tasks.failingInit, initargs: ["no model here"] })
        )
        assert.instanceOf(error, WorkerStartFailed)
        assert.include(error.message, "its initializer failingInit failed")
        assert.include(error.message, "no model here")
      }))

  })

  describe(`maxTasksPerWorker (${backend})`, () => {
    it.effect("27. no worker runs more than k tasks; replacements keep the pool at size, nothing is lost", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 2, backend, maxTasksPerWorker: 3 })
        const items = Array.from({ length: 40 }, (_, i) => i)
        const tagged = yield* pool.map(tasks.tagWithWorker, items, { chunksize: 1 })
        assert.deepStrictEqual(tagged.map(([x]) => x), items)
        for (const [, runs] of count(tagged.map(([, worker]) => worker))) assert.isAtMost(runs, 3)
        // a burst of tiny calls, pipelined many to a worker: still at most 3 each
        const burst = yield* Effect.forEach(items, () => pool.apply(tasks.workerId, []), { concurrency: "unbounded" })
        for (const [, runs] of count(burst)) assert.isAtMost(runs, 3)
        assert.strictEqual((yield* pool.broadcast(tasks.workerId, [])).length, 2, "still two workers")
      }))

    it.effect("27. a map chunk counts as one task", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend, maxTasksPerWorker: 2 })
        const tagged = yield* pool.map(tasks.tagWithWorker, Array.from({ length: 12 }, (_, i) => i), { chunksize: 4 })
        const perWorker = [...count(tagged.map(([, worker]) => worker)).values()]
        assert.deepStrictEqual(perWorker, [8, 4], "two chunks of 4 on the first worker, the third chunk on the next")
      }))

    it.effect("rejects a value that is not a positive integer", () =>
      Effect.gen(function*() {
        for (const maxTasksPerWorker of [0, -1, 2.5]) {
          const error = yield* Effect.flip(WorkerPool.make({ size: 1, backend, maxTasksPerWorker }))
          assert.isTrue(Cause.isIllegalArgumentError(error))
        }
      }))
  })

  describe(`broadcast (${backend})`, () => {
    it.effect("runs a task once on every worker", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 3, backend })
        const workers = yield* pool.broadcast(tasks.workerId, [])
        assert.strictEqual(new Set(workers).size, 3)
        const calls = yield* makeFlags(backend, 1)
        yield* pool.broadcast(tasks.initialize, [calls, "warmed"])
        assert.strictEqual(load(calls, 0), 3)
        const seen = yield* pool.map(tasks.initLabel, Array.from({ length: 12 }, (_, i) => i), { chunksize: 1 })
        assert.isTrue(seen.every(([label]) => label === "warmed"))
      }))

    it.effect("fails with PoolNotRunning after close", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        yield* pool.close
        const error = yield* Effect.flip(pool.broadcast(tasks.workerId, []))
        assert.strictEqual(error._tag, "PoolNotRunning")
      }))
  })

  describe(`per-worker setup layer (${backend})`, () => {
    it.effect("is built once per worker, serves the module's Effect tasks, and is finalized when the worker closes", () =>
      Effect.gen(function*() {
        const log = join(mkdtempSync(join(tmpdir(), "emp-")), "finalized")
        process.env.EMP_LAYER_LOG = log // worker threads copy the environment as they start, processes inherit it
        const pool = yield* WorkerPool.make({ size: 2, backend })
        delete process.env.EMP_LAYER_LOG
        const items = Array.from({ length: 40 }, (_, i) => i)
        const results = yield* pool.map(withLayer.predict, items, { chunksize: 1 })
        assert.deepStrictEqual(results.map(([y]) => y), items.map((x) => x * 2))
        assert.isTrue(results.every(([, build]) => build === 1), "one build per worker, reused by every task")
        const workers = new Set(results.map(([, , worker]) => worker))
        assert.strictEqual(yield* pool.apply(withLayer.plain, [1]), 2)
        yield* pool.close
        yield* pool.join
        const finalized = readFileSync(log, "utf8").trim().split("\n")
        assert.deepStrictEqual(new Set(finalized), workers, "each worker that built it finalized it, once")
        assert.strictEqual(finalized.length, workers.size)
      }))

    it.effect("a layer that fails fails the module's tasks with the cause; the pool keeps serving", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const error = yield* Effect.flip(pool.apply(failingLayer.render, [1]))
        assert.instanceOf(error, TaskError)
        assert.include(error.message, "setup layer failed")
        assert.include(error.message, "no GPU on this machine")
        assert.strictEqual(yield* pool.apply(tasks.square, [5]), 25)
      }))
  })

  describe(`layerConfig (${backend})`, () => {
    it.effect("reads the pool's options from Config (here, the environment)", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.WorkerPool
        assert.strictEqual(pool.size, 3)
        assert.strictEqual((yield* pool.broadcast(tasks.workerId, [])).length, 3)
      }).pipe(Effect.provide(
        WorkerPool.layerConfig({
          size: Config.Int("POOL_SIZE"),
          backend: Config.succeed(backend),
          maxTasksPerWorker: Config.Int("POOL_MAX_TASKS").pipe(Config.withDefault(100))
        }).pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({ POOL_SIZE: "3" }))))
      )))

    it.effect("an invalid value is rejected with a clear error", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(Layer.build(
          WorkerPool.layerConfig({ size: Config.Int("POOL_SIZE"), backend: Config.succeed(backend) }).pipe(
            Layer.provide(ConfigProvider.layer(ConfigProvider.fromEnvRecord({ POOL_SIZE: "0" })))
          )
        ))
        assert.isTrue(Cause.isIllegalArgumentError(error))
      }))
  })

  describe(`stats (${backend})`, () => {
    it.effect("count workers by state, queued and running tasks, outcomes, and times", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const fresh = yield* pool.stats
        assert.deepStrictEqual(fresh.workers, { busy: 0, idle: 1, starting: 0 })
        assert.deepStrictEqual([fresh.queued, fresh.running, fresh.succeeded, fresh.failed], [0, 0, 0, 0])

        const flags = yield* makeFlags(backend)
        const blocking = yield* pool.applyAsync(tasks.waitForRelease, [flags])
        yield* waitFor(flags, 0)
        const waiting = yield* pool.applyAsync(tasks.square, [3])
        const busy = yield* pool.stats
        assert.deepStrictEqual(busy.workers, { busy: 1, idle: 0, starting: 0 })
        assert.deepStrictEqual([busy.queued, busy.running], [1, 1])

        open(flags, 1)
        yield* blocking.wait()
        yield* waiting.wait()
        yield* pool.map(tasks.square, [1, 2, 3, 4], { chunksize: 2 }) // two chunks: two tasks
        yield* Effect.flip(pool.apply(tasks.boom, ["x"]))
        const done = yield* pool.stats
        assert.deepStrictEqual([done.queued, done.running, done.succeeded, done.failed], [0, 0, 4, 1])
        assert.deepStrictEqual(done.tasksPerWorker.map((worker) => worker.tasks), [5])
        assert.strictEqual(done.run.count, 5)
        assert.isAtLeast(done.run.maxMillis, done.run.meanMillis)
        assert.strictEqual(done.wait.count, 5)
      }))

    it.effect("are kept in Effect Metric gauges too", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        yield* pool.map(tasks.square, [1, 2, 3], { chunksize: 1 })
        yield* TestClock.adjust("1 second") // the last refresh, once the pool is idle
        const gauges = (yield* Metric.snapshot).filter((metric) => metric.id === "effect_multiprocessing_tasks_succeeded")
        assert.isTrue(gauges.some((gauge) => (gauge.state as { readonly value: number }).value === 3))
      }))
  })

  describe(`maxQueue (${backend})`, () => {
    it.effect("submitters wait beyond the bound instead of the queue growing; nothing is lost", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend, maxQueue: 3 })
        const flags = yield* makeFlags(backend)
        const blocking = yield* pool.applyAsync(tasks.waitForRelease, [flags])
        yield* waitFor(flags, 0)
        const callers = yield* Effect.forkChild(
          Effect.forEach(Array.from({ length: 10 }, (_, i) => i), (i) => pool.apply(tasks.square, [i]), {
            concurrency: "unbounded"
          })
        )
        yield* dispatched
        assert.strictEqual((yield* pool.stats).queued, 3, "three queued, seven callers waiting")
        const mapping = yield* Effect.forkChild(pool.map(tasks.square, [1, 2, 3, 4], { chunksize: 1 }))
        yield* dispatched
        assert.strictEqual((yield* pool.stats).queued, 3, "the map waits for room too")
        open(flags, 1)
        yield* blocking.wait()
        assert.deepStrictEqual(yield* Fiber.join(callers), Array.from({ length: 10 }, (_, i) => i * i))
        assert.deepStrictEqual(yield* Fiber.join(mapping), [1, 4, 9, 16])
      }))

    it.effect("imap reads its input no further ahead than the bound", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend, maxQueue: 2 })
        let pulled = 0
        function* endless() {
          for (let i = 0;; i++) {
            pulled++
            yield i
          }
        }
        const first = yield* Stream.runCollect(Stream.take(pool.imap(tasks.square, endless()), 3))
        assert.deepStrictEqual(first, [0, 1, 4])
        assert.isAtMost(pulled, 3 + 2 + 2, "the items taken, the bound, and the stream's own one-item buffers")
      }))

    it.effect("a caller that gives up while waiting for room submits nothing", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend, maxQueue: 1 })
        const flags = yield* makeFlags(backend)
        yield* pool.applyAsync(tasks.waitForRelease, [flags])
        yield* waitFor(flags, 0)
        yield* pool.applyAsync(tasks.square, [1]) // fills the queue
        const waiting = yield* Effect.forkChild(pool.apply(tasks.square, [2]))
        yield* dispatched
        yield* Fiber.interrupt(waiting)
        open(flags, 1)
        yield* pool.close
        yield* pool.join
        assert.strictEqual((yield* pool.stats).succeeded, 2, "the blocking task and square(1), not square(2)")
      }))

    it.effect("rejects a value that is not a positive integer", () =>
      Effect.gen(function*() {
        for (const maxQueue of [0, -3, 1.5]) {
          assert.isTrue(Cause.isIllegalArgumentError(yield* Effect.flip(WorkerPool.make({ size: 1, backend, maxQueue }))))
        }
      }))
  })

  describe(`dynamic size (${backend})`, () => {
    it.effect("starts min workers, grows to max while tasks wait, retires idle ones down to min", () =>
      Effect.gen(function*() {
        const workersBefore = liveWorkers(backend)
        const pool = yield* WorkerPool.make({ size: { min: 1, max: 3, idleTimeout: "10 seconds" }, backend })
        assert.strictEqual(pool.size, 3)
        assert.deepStrictEqual((yield* pool.stats).workers, { busy: 0, idle: 1, starting: 0 })
        // three tasks that can only finish together: the pool must grow to three workers
        const counter = yield* makeFlags(backend, 1)
        const workers = yield* pool.starmap(tasks.barrier, [[counter, 3], [counter, 3], [counter, 3]], { chunksize: 1 })
        assert.strictEqual(new Set(workers).size, 3)
        yield* Effect.yieldNow
        yield* TestClock.adjust("10 seconds") // all three have been idle that long
        // two workers exit; the pool learns of each exit a moment after the OS does (a retiring worker counts
        // as starting until then), so wait for both events
        const shrunk = () => Effect.runSync(pool.stats).workers.starting === 0
        yield* eventually(
          () => liveWorkers(backend).length === workersBefore.length + 1 && shrunk(),
          "the pool shrank back to one worker, and saw the others exit"
        )
        assert.deepStrictEqual((yield* pool.stats).workers, { busy: 0, idle: 1, starting: 0 })
        assert.deepStrictEqual(yield* pool.map(tasks.square, [1, 2, 3]), [1, 4, 9], "and still serves")
      }))

    it.effect("never runs more than max workers; min 0 starts none", () =>
      Effect.gen(function*() {
        const workersBefore = liveWorkers(backend)
        const pool = yield* WorkerPool.make({ size: { min: 0, max: 2 }, backend })
        assert.deepStrictEqual(liveWorkers(backend), workersBefore)
        const tagged = yield* pool.map(tasks.tagWithWorker, Array.from({ length: 30 }, (_, i) => i), { chunksize: 1 })
        assert.isAtMost(new Set(tagged.map(([, worker]) => worker)).size, 2)
        assert.isAtMost(liveWorkers(backend).length, workersBefore.length + 2)
      }))

    it.effect("rejects a range that makes no sense", () =>
      Effect.gen(function*() {
        for (const size of [{ min: 2, max: 1 }, { min: -1, max: 2 }, { min: 0, max: 0 }, { min: 1, max: 2.5 }]) {
          assert.isTrue(Cause.isIllegalArgumentError(yield* Effect.flip(WorkerPool.make({ size, backend }))), JSON.stringify(size))
        }
        const infinite = yield* Effect.flip(WorkerPool.make({ size: { min: 1, max: 2, idleTimeout: "Infinity" }, backend }))
        assert.isTrue(Cause.isIllegalArgumentError(infinite))
      }))
  })
}

describe("initializer (processes only)", () => {
  it.effect("24. a failing initializer of a process pool fails make, even with nothing else keeping the program alive", () =>
    Effect.gen(function*() {
      const output = yield* runFixture("failing-init-process-pool.ts")
      assert.strictEqual(output.trim(), "make failed with WorkerStartFailed")
    }))
})
