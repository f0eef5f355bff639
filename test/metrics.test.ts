/**
 * Metrics: per-task histograms of wait and run time and counters per
 * outcome (`effect_multiprocessing_task_*`, `effect_multiprocessing_tasks_total`,
 * with a `task` attribute), beside the pool's gauges. Each test runs with a
 * registry of its own. With worker threads and child processes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Metric } from "effect"
import { WorkerPool } from "../src/index.ts"
import { tasks } from "./fixtures/progress-tasks.ts"
import { backends, makeFlags, waitFor } from "./utils.ts"

const names = {
  wait: "effect_multiprocessing_task_wait_millis",
  run: "effect_multiprocessing_task_run_millis",
  outcomes: "effect_multiprocessing_tasks_total"
}

/** The state of metric `id` whose attributes include `attributes`. */
const find = (snapshots: ReadonlyArray<Metric.Metric.Snapshot>, id: string, attributes: Record<string, string>) =>
  snapshots.filter((snapshot) =>
    snapshot.id === id &&
    Object.entries(attributes).every(([key, value]) => snapshot.attributes?.[key] === value)
  )

const count = (snapshots: ReadonlyArray<Metric.Metric.Snapshot>, task: string, outcome: string): number => {
  const [counter] = find(snapshots, names.outcomes, { task, outcome })
  return counter === undefined ? 0 : Number((counter.state as Metric.CounterState<number>).count)
}

for (const backend of backends) {
  describe(`per-task metrics (${backend})`, () => {
    it.live("histograms count every call's wait and run; the outcome counters say how each ended", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 2, backend })
        const flags = yield* makeFlags(backend)
        for (let i = 0; i < 5; i++) yield* pool.apply(tasks.square, [i])
        yield* pool.map(tasks.square, [1, 2, 3, 4, 5, 6], { chunksize: 2 }) // 3 chunks: 3 tasks
        yield* Effect.flip(pool.apply(tasks.fail, ["no"]))
        yield* Effect.flip(pool.apply(tasks.exit, [1]))
        const cancelled = yield* Effect.forkChild(pool.apply(tasks.untilCancelled, [flags]))
        yield* waitFor(flags, 0)
        yield* Fiber.interrupt(cancelled)

        const snapshots = yield* Metric.snapshot
        const square = tasks.square.id
        const [wait] = find(snapshots, names.wait, { task: square })
        const [run] = find(snapshots, names.run, { task: square })
        assert.strictEqual(wait.type, "Histogram")
        assert.strictEqual((wait.state as Metric.HistogramState).count, 8)
        assert.strictEqual((run.state as Metric.HistogramState).count, 8)
        const buckets = (run.state as Metric.HistogramState).buckets
        assert.isAbove(buckets.length, 10, "boundaries for percentiles")
        assert.strictEqual(buckets.at(-1)![1], 8, "every run is in the last (cumulative) bucket")

        assert.strictEqual(count(snapshots, square, "ok"), 8)
        assert.strictEqual(count(snapshots, tasks.fail.id, "failed"), 1)
        assert.strictEqual(count(snapshots, tasks.exit.id, "crashed"), 1)
        assert.strictEqual(count(snapshots, tasks.untilCancelled.id, "cancelled"), 1)
        // one series per task function (four got a worker), none per call
        assert.strictEqual(find(snapshots, names.wait, {}).length, 4)
      }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))

    it.live("the pool's gauges are still there", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        yield* pool.apply(tasks.square, [3])
        const snapshots = yield* Metric.snapshot
        const [succeeded] = snapshots.filter((snapshot) => snapshot.id === "effect_multiprocessing_tasks_succeeded")
        assert.strictEqual(Number((succeeded.state as Metric.GaugeState<number>).value), 1)
      }).pipe(Effect.provideService(Metric.MetricRegistry, new Map())))
  })
}
