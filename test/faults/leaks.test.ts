/**
 * Fault injection, "no orphans, no leaks": pools created and closed in a loop
 * leave no thread, process listener or metric series behind, nor heap; a
 * million tasks streamed through `imap` keep the caller's heap bounded, and
 * a result taken from an `imap` stream is not kept alive by the pool
 * (CPython's test_free_reference).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Metric, Stream } from "effect"
import * as V8 from "node:v8"
import * as Vm from "node:vm"
import { WorkerPool } from "../../src/index.ts"
import { tasks as leakTasks } from "../fixtures/leak-tasks.ts"
import { tasks } from "../fixtures/tasks.ts"
import { childProcesses, poolThreads } from "../utils.ts"

V8.setFlagsFromString("--expose-gc")
/** A full garbage collection, so that heapUsed tells what is retained. */
const gc = Vm.runInNewContext("gc") as () => void

/** What the caller's heap retains (after a full collection), not garbage waiting to be collected. */
const retained = () => {
  gc()
  return process.memoryUsage().heapUsed
}

/** Lets the current job end, so objects a `WeakRef` was made for in it may be collected (WeakRef's KeepDuringJob). */
const nextTurn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

const ours = (snapshots: ReadonlyArray<Metric.Metric.Snapshot>) =>
  snapshots.filter((snapshot) => snapshot.id.startsWith("effect_multiprocessing_"))

/** The `pool` attribute of every per-pool `effect_multiprocessing_*` series (the gauges) in the default registry. */
const poolSeries = Effect.map(
  Metric.snapshot,
  (snapshots) => ours(snapshots).flatMap((snapshot) => snapshot.attributes?.pool === undefined ? [] : [snapshot.attributes.pool])
)

/**
 * The process-wide series (per task and outcome: latency histograms, outcome counters), by id and attributes:
 * they are shared by every pool, and grow with the tasks a program has, never with its pools.
 */
const taskSeries = Effect.map(
  Metric.snapshot,
  (snapshots) =>
    ours(snapshots).filter((snapshot) => snapshot.attributes?.pool === undefined).map((snapshot) =>
      `${snapshot.id} ${JSON.stringify(snapshot.attributes ?? {})}`
    ).sort()
)

const listeners = () => process.eventNames().map((name) => `${String(name)}:${process.listenerCount(name)}`).join(",")

describe("no leaks", () => {
  it.effect("300 pools created and closed leave no thread, process listener or metric series behind, and the retained heap flat", () =>
    Effect.gen(function*() {
      const threadsBefore = poolThreads()
      const listenersBefore = listeners()
      const before = new Set(yield* poolSeries)
      const cycle = (i: number) =>
        Effect.scoped(Effect.gen(function*() {
          const pool = yield* WorkerPool.make({ size: 1 })
          assert.strictEqual(yield* pool.apply(tasks.square, [i]), i * i)
          // the pool's gauges are recorded while it is busy: its series exist before it closes
          assert.isTrue((yield* poolSeries).some((pool) => !before.has(pool)), "the pool recorded no series")
        }))
      const pools = (from: number, to: number) =>
        Effect.forEach(Array.from({ length: to - from }, (_, i) => from + i), cycle, { concurrency: 4, discard: true })
      yield* pools(0, 30)
      const afterFirst = retained()
      const taskSeriesAfterFirst = yield* taskSeries
      yield* pools(30, 300)
      const afterAll = retained()
      assert.strictEqual(poolThreads(), threadsBefore)
      assert.strictEqual(listeners(), listenersBefore)
      const left = (yield* poolSeries).filter((pool) => !before.has(pool))
      assert.deepStrictEqual(left, [], "series of closed pools are still in the metric registry")
      assert.deepStrictEqual(yield* taskSeries, taskSeriesAfterFirst, "per-task series grew with the pools")
      // about 1 kB a pool is compiled code; a pool's dispatcher, supervisor, fibers or series kept alive is 20 kB and more
      const grownMiB = (afterAll - afterFirst) / 2 ** 20
      assert.isBelow(grownMiB, 4, `the retained heap grew by ${grownMiB.toFixed(2)} MiB over 270 pools`)
    }), { timeout: 240_000 })

  for (const chunksize of [1, 3]) {
    for (const method of ["imap", "imapUnordered"] as const) {
      for (const task of [leakTasks.object, leakTasks.slowObject]) {
        it.effect(`${method} (chunksize ${chunksize}, ${task.name}) keeps no result the caller has consumed alive`, () =>
          Effect.gen(function*() {
            const pool = yield* WorkerPool.make({ size: 1 })
            const n = 12
            let previous: WeakRef<object> | undefined
            const alive: Array<number> = []
            let seen = 0
            yield* Stream.runForEach(
              pool[method](task, Array.from({ length: n }, (_, i) => i), { chunksize }),
              (result) =>
                Effect.gen(function*() {
                  // the stream is still running: the result taken before this one must be garbage by now
                  if (previous !== undefined) {
                    yield* nextTurn
                    gc()
                    const held = previous.deref()
                    if (held !== undefined) alive.push((held as { i: number }).i)
                  }
                  previous = new WeakRef(result)
                  seen++
                })
            )
            assert.strictEqual(seen, n)
            assert.deepStrictEqual(alive, [], "results consumed from the stream were still alive after a full collection")
          }), { timeout: 60_000 })
      }
    }
  }

  it.effect("creating and closing 40 process pools leaves no child process behind", () =>
    Effect.gen(function*() {
      const before = childProcesses()
      yield* Effect.forEach(
        Array.from({ length: 40 }, (_, i) => i),
        (i) =>
          Effect.scoped(Effect.gen(function*() {
            const pool = yield* WorkerPool.make({ size: 1, backend: "processes" })
            assert.strictEqual(yield* pool.apply(tasks.square, [i]), i * i)
          })),
        { concurrency: 4 }
      )
      assert.deepStrictEqual(childProcesses(), before)
    }), { timeout: 120_000 })

  it.effect("1,000,000 tiny tasks through imap keep the caller's heap bounded", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 2 })
      const n = 1_000_000
      function* input() {
        for (let i = 0; i < n; i++) yield i
      }
      const base = retained()
      let peak = base
      let count = 0
      yield* Stream.runForEach(pool.imap(tasks.padded, input()), (s) =>
        Effect.sync(() => {
          if (s.length !== 200) throw new Error(`bad result ${s}`)
          if (++count % 100_000 === 0) peak = Math.max(peak, retained())
        }))
      assert.strictEqual(count, n)
      // keeping the results (over 200 MiB of strings) or the job records would blow far past this
      const grownMiB = (peak - base) / 2 ** 20
      assert.isBelow(grownMiB, 32, `the retained heap grew by ${grownMiB.toFixed(1)} MiB`)
    }), { timeout: 120_000 })
})
