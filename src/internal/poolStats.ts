/**
 * A pool's `stats`, read from its dispatcher, and their mirror in Effect
 * `Metric` gauges (read from the dispatcher whenever metrics are read).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
import type { Stats, TimeSummary } from "../WorkerPool.ts"
import type { Dispatcher } from "./dispatcher.ts"
import * as Metrics from "./metrics.ts"

/** What the pool is doing now, and what it has done. */
export const snapshot = (dispatcher: Dispatcher): Stats => {
  let busy = 0
  let idle = 0
  let starting = 0
  let running = 0
  for (const slot of dispatcher.slots) {
    running += slot.inflight.size
    if (slot.ready && slot.inflight.size > 0) busy++
    else if (slot.ready) idle++
    else starting++
  }
  const totals = dispatcher.totals
  return {
    workers: { busy, idle, starting },
    queued: dispatcher.queued(),
    running,
    succeeded: totals.succeeded,
    failed: totals.failed,
    tasksPerWorker: dispatcher.slots.map((slot) => ({ workerId: slot.workerId, tasks: slot.completed })),
    wait: summary(totals.waits, totals.waitMillis, totals.maxWaitMillis),
    run: summary(totals.runs, totals.runMillis, totals.maxRunMillis)
  }
}

const summary = (count: number, totalMillis: number, maxMillis: number): TimeSummary => ({
  count,
  meanMillis: count === 0 ? 0 : totalMillis / count,
  maxMillis
})

let poolIds = 0

/**
 * Registers the gauges of one pool (told apart by a `pool` attribute) for as
 * long as the current scope (the pool's) is open. Each series is read from
 * the dispatcher when metrics are snapshotted (`Metric.registerUnsafe`), so
 * it is always current, costs the pool nothing while it works, and needs no
 * timer (nor a clock a test would have to advance). When the scope closes,
 * the series are removed from the metric registry: a program that makes many
 * pools does not collect their series, nor the pools they read.
 */
export const register = (dispatcher: Dispatcher): Effect.Effect<void, never, Scope.Scope> =>
  Effect.gen(function*() {
    // the registry (and attributes) of the pool's context
    const context = yield* Effect.context<never>()
    // the per-task histograms and outcome counters, in the same registry (see metrics.ts)
    dispatcher.metrics = new Metrics.Metrics(context)
    const pool = String(poolIds++)
    const series = (gauge: Metric.Gauge<number>, read: (stats: Stats) => number, extra?: Record<string, string>) =>
      Metric.registerUnsafe(Metric.withAttributes(gauge, { pool, ...extra }), context, {
        get: () => ({ value: read(snapshot(dispatcher)) }),
        update: () => {},
        modify: () => {}
      })
    const registrations = [
      series(gauges.workers, (stats) => stats.workers.busy, { state: "busy" }),
      series(gauges.workers, (stats) => stats.workers.idle, { state: "idle" }),
      series(gauges.workers, (stats) => stats.workers.starting, { state: "starting" }),
      series(gauges.queued, (stats) => stats.queued),
      series(gauges.running, (stats) => stats.running),
      series(gauges.succeeded, (stats) => stats.succeeded),
      series(gauges.failed, (stats) => stats.failed),
      series(gauges.waitMean, (stats) => stats.wait.meanMillis),
      series(gauges.runMean, (stats) => stats.run.meanMillis)
    ]
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        for (const registration of registrations) registration.remove()
      })
    )
  })

const gauges = {
  workers: Metric.gauge("effect_multiprocessing_workers", { description: "workers, by state" }),
  queued: Metric.gauge("effect_multiprocessing_tasks_queued", { description: "tasks waiting for a worker" }),
  running: Metric.gauge("effect_multiprocessing_tasks_running", { description: "tasks sent to a worker, not answered" }),
  succeeded: Metric.gauge("effect_multiprocessing_tasks_succeeded", { description: "tasks that succeeded" }),
  failed: Metric.gauge("effect_multiprocessing_tasks_failed", { description: "tasks that failed" }),
  waitMean: Metric.gauge("effect_multiprocessing_wait_mean_millis", { description: "mean wait for a worker" }),
  runMean: Metric.gauge("effect_multiprocessing_run_mean_millis", { description: "mean run time in a worker" })
}
