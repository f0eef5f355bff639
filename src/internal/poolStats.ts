/**
 * A pool's `stats`, read from its dispatcher, and their mirror in Effect
 * `Metric` gauges (refreshed every second while the pool is busy).
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import type * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as Scope from "effect/Scope"
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
 * Keeps the gauges of one pool (told apart by a `pool` attribute) up to date,
 * for as long as the current scope (the pool's) is open: `onBusy` is called
 * when the pool gets work. The gauges are refreshed every second while the
 * pool is busy, and once more within a second of it going idle; the loop then
 * ends, so an idle pool has no timer keeping its program alive, and a call
 * costs one check. When the scope closes, the pool's series are removed from
 * the metric registry (`Metric.removeUnsafe`), and nothing is recorded after:
 * a program that makes many pools does not collect their series.
 *
 * The refresh runs on the live clock, not the caller's `Clock`: the gauges
 * sample what real workers do in real time, and a `TestClock` would keep the
 * loop asleep (and warn that the test does not advance it) for nothing.
 */
export const recorder = (
  dispatcher: Dispatcher,
  fork: (effect: Effect.Effect<void>) => void
): Effect.Effect<{ readonly onBusy: () => void }, never, Scope.Scope> =>
  Effect.gen(function*() {
    // the registry and attributes of the pool's context, for every update and for the removal alike
    const context = yield* Effect.context<never>()
    const series = seriesOf(String(poolIds++))
    let recording = false
    let removed = false
    const recordWhileBusy: Effect.Effect<void> = Effect.suspend(() => {
      if (removed) {
        recording = false
        return Effect.void
      }
      record(series, snapshot(dispatcher), context)
      if (dispatcher.outstanding > 0) return Effect.andThen(Effect.sleep("1 second"), recordWhileBusy)
      recording = false
      return Effect.void
    })
    const live = Effect.provideService(recordWhileBusy, Clock.Clock, Clock.Clock.defaultValue())
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        removed = true
        for (const gauge of Object.values(series)) Metric.removeUnsafe(gauge, context)
      })
    )
    return {
      onBusy: (): void => {
        if (recording || removed) return
        recording = true
        fork(live)
      }
    }
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

/** The series of one pool: each gauge with the pool's attributes. */
const seriesOf = (pool: string) => {
  const of = (gauge: Metric.Gauge<number>, extra?: Record<string, string>) =>
    Metric.withAttributes(gauge, { pool, ...extra })
  return {
    busy: of(gauges.workers, { state: "busy" }),
    idle: of(gauges.workers, { state: "idle" }),
    starting: of(gauges.workers, { state: "starting" }),
    queued: of(gauges.queued),
    running: of(gauges.running),
    succeeded: of(gauges.succeeded),
    failed: of(gauges.failed),
    waitMean: of(gauges.waitMean),
    runMean: of(gauges.runMean)
  }
}

/** Mirrors a pool's stats into its series, all at once (no removal can come in between). */
const record = (series: ReturnType<typeof seriesOf>, stats: Stats, context: Context.Context<never>): void => {
  series.busy.updateUnsafe(stats.workers.busy, context)
  series.idle.updateUnsafe(stats.workers.idle, context)
  series.starting.updateUnsafe(stats.workers.starting, context)
  series.queued.updateUnsafe(stats.queued, context)
  series.running.updateUnsafe(stats.running, context)
  series.succeeded.updateUnsafe(stats.succeeded, context)
  series.failed.updateUnsafe(stats.failed, context)
  series.waitMean.updateUnsafe(stats.wait.meanMillis, context)
  series.runMean.updateUnsafe(stats.run.meanMillis, context)
}
