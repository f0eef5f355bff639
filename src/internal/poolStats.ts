/**
 * A pool's `stats`, read from its dispatcher, and their mirror in Effect
 * `Metric` gauges (refreshed every second while the pool is busy).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type { Stats, TimeSummary } from "../WorkerPool.ts"
import type { Dispatcher } from "./dispatcher.ts"

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
 * Keeps the gauges of one pool (told apart by a `pool` attribute) up to date:
 * `onBusy` is called when the pool gets work. The gauges are refreshed every
 * second while the pool is busy, and once more within a second of it going
 * idle; the loop then ends, so an idle pool has no timer keeping its program
 * alive, and a call costs one check.
 */
export const recorder = (dispatcher: Dispatcher, fork: (effect: Effect.Effect<void>) => void) => {
  const record = recordMetrics(poolIds++)
  let recording = false
  const recordWhileBusy: Effect.Effect<void> = Effect.suspend(() => record(snapshot(dispatcher))).pipe(
    Effect.andThen(Effect.suspend(() => {
      if (dispatcher.outstanding > 0) return Effect.andThen(Effect.sleep("1 second"), recordWhileBusy)
      recording = false
      return Effect.void
    }))
  )
  return {
    onBusy: (): void => {
      if (recording) return
      recording = true
      fork(recordWhileBusy)
    }
  }
}

const gauges = {
  workers: Metric.gauge("effect_multiprocessing_workers", { description: "workers, by state" }),
  queued: Metric.gauge("effect_multiprocessing_tasks_queued", { description: "tasks waiting for a worker" }),
  running: Metric.gauge("effect_multiprocessing_tasks_running", { description: "tasks sent to a worker, not answered" }),
  succeeded: Metric.gauge("effect_multiprocessing_tasks_succeeded", { description: "tasks that succeeded" }),
  failed: Metric.gauge("effect_multiprocessing_tasks_failed", { description: "tasks that failed" }),
  waitMean: Metric.gauge("effect_multiprocessing_wait_mean_millis", { description: "mean wait for a worker" }),
  runMean: Metric.gauge("effect_multiprocessing_run_mean_millis", { description: "mean run time in a worker" })
}

/** Mirrors a pool's stats into Effect Metric gauges. */
const recordMetrics = (pool: number) => (stats: Stats) => {
  const attributes = { pool: String(pool) }
  const set = (gauge: Metric.Gauge<number>, value: number, extra?: Record<string, string>) =>
    Metric.update(Metric.withAttributes(gauge, extra ? { ...attributes, ...extra } : attributes), value)
  return Effect.all([
    set(gauges.workers, stats.workers.busy, { state: "busy" }),
    set(gauges.workers, stats.workers.idle, { state: "idle" }),
    set(gauges.workers, stats.workers.starting, { state: "starting" }),
    set(gauges.queued, stats.queued),
    set(gauges.running, stats.running),
    set(gauges.succeeded, stats.succeeded),
    set(gauges.failed, stats.failed),
    set(gauges.waitMean, stats.wait.meanMillis),
    set(gauges.runMean, stats.run.meanMillis)
  ], { discard: true })
}
