/**
 * A pool's per-task metrics, beside the gauges of poolStats.ts: histograms of
 * how long tasks waited for a worker and ran in it, and counters of how they
 * ended, each with a `task` attribute (the task's id, `url#name`), so that an
 * exporter shows latency percentiles per task. A `map` chunk counts as one
 * task, as in `stats`.
 *
 * Cardinality: one series per task function the program calls (and per
 * outcome it has seen), bounded by its code, never by its data. The series
 * are process-wide (no `pool` attribute): several pools running the same
 * task add to the same series, and a pool's end does not remove them.
 *
 * Cheap: each task function's series are made and registered once (per
 * metric registry), on its first call, as poolStats.ts registers its gauges:
 * effect's `Metric.histogram` and `Metric.counter`, whose state the registry
 * reads from the pool's own tallies (`Tally`, `Histogram`) whenever metrics
 * are read. Recording a task is then a binary search and a few additions, no
 * allocation and no registry look-up: an `updateUnsafe` per task costs about
 * ten times that, a sizeable share of a tiny task's cost in the pool.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import type * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import type * as Task from "../Task.ts"

/** How a task ended, as the outcome counter's `outcome` attribute says it. */
export type Outcome = "ok" | "failed" | "crashed" | "serialization" | "cancelled" | "terminated"

/** 0.05 ms to about 52 s, doubling: tiny tasks and long ones both get percentiles. */
export const BOUNDARIES: ReadonlyArray<number> = Metric.exponentialBoundaries({ start: 0.05, factor: 2, count: 22 })

/** The metric names, for exporters and tests. */
export const names = {
  wait: "effect_multiprocessing_task_wait_millis",
  run: "effect_multiprocessing_task_run_millis",
  outcomes: "effect_multiprocessing_tasks_total"
} as const

const noop = () => {}

/** The tally of one histogram series, read by the registry as effect's `HistogramState`. */
class Histogram {
  private readonly bounds = Float64Array.from(BOUNDARIES)
  /** Per bucket (the last: above every boundary). */
  private readonly counts = new Float64Array(BOUNDARIES.length + 1)
  private count = 0
  private sum = 0
  private min = Number.MAX_VALUE
  private max = -Number.MAX_VALUE

  record(value: number): void {
    const bounds = this.bounds
    // the first boundary >= value (binary search)
    let lo = 0
    let hi = bounds.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (value <= bounds[mid]) hi = mid
      else lo = mid + 1
    }
    this.counts[lo]++
    this.count++
    this.sum += value
    if (value < this.min) this.min = value
    if (value > this.max) this.max = value
  }

  /** As effect's histogram reports it: cumulative counts per boundary. */
  state(): Metric.HistogramState {
    const buckets: Array<[number, number]> = []
    let cumulated = 0
    for (let i = 0; i < this.bounds.length; i++) {
      cumulated += this.counts[i]
      buckets.push([this.bounds[i], cumulated])
    }
    return { buckets, count: this.count, min: this.min, max: this.max, sum: this.sum }
  }
}

/** The series of one task function in one registry. */
interface Series {
  readonly wait: Histogram
  readonly run: Histogram
  readonly outcomes: Record<Outcome, number>
}

/** The series of each registry, by task id: shared by every pool that records in that registry. */
const registries = new WeakMap<object, Map<string, Series>>()

/** Registers the series of `task` in the registry of `context` (once per registry), read from their tallies. */
const makeSeries = (context: Context.Context<never>, task: string): Series => {
  const registry = Context.get(context, Metric.MetricRegistry)
  let byTask = registries.get(registry)
  if (byTask === undefined) {
    byTask = new Map()
    registries.set(registry, byTask)
  }
  const existing = byTask.get(task)
  if (existing !== undefined) return existing
  const series: Series = {
    wait: new Histogram(),
    run: new Histogram(),
    outcomes: { ok: 0, failed: 0, crashed: 0, serialization: 0, cancelled: 0, terminated: 0 }
  }
  byTask.set(task, series)
  const histogram = (name: string, description: string, tally: Histogram) =>
    Metric.registerUnsafe(
      Metric.histogram(name, { description, boundaries: BOUNDARIES, attributes: { task } }),
      context,
      { get: () => tally.state(), update: noop, modify: noop }
    )
  histogram(names.wait, "how long a task waited for a worker (ms)", series.wait)
  histogram(names.run, "how long a task ran in its worker, as the worker measured it (ms)", series.run)
  for (const outcome of Object.keys(series.outcomes) as Array<Outcome>) {
    Metric.registerUnsafe(
      Metric.counter(names.outcomes, { description: "tasks, by how they ended", incremental: true, attributes: { task, outcome } }),
      context,
      { get: () => ({ count: series.outcomes[outcome], incremental: true }), update: noop, modify: noop }
    )
  }
  return series
}

/** How an outcome is classified: by the error's `_tag` (a task's declared error counts as `failed`). */
export const outcomeOf = (exit: Exit.Exit<unknown, unknown>): Outcome => {
  if (exit._tag === "Success") return "ok"
  const error = Cause.findErrorOption(exit.cause)
  if (error._tag === "None") return Cause.hasInterruptsOnly(exit.cause) ? "cancelled" : "failed"
  switch ((error.value as { readonly _tag?: unknown } | null)?._tag) {
    case "WorkerCrashed":
      return "crashed"
    case "SerializationError":
      return "serialization"
    case "PoolTerminated":
    case "PoolNotRunning":
    case "WorkerStartFailed":
      return "terminated"
    default:
      return "failed"
  }
}

/** The per-task metrics of one pool, recorded in the registry of the pool's context. */
export class Metrics {
  /** By `TaskKind.key`. */
  private readonly series: Array<Series | undefined> = []
  private readonly context: Context.Context<never> | undefined

  constructor(context: Context.Context<never> | undefined) {
    this.context = context
  }

  private of(key: number, task: Task.Any): Series | undefined {
    if (this.context === undefined) return undefined
    return this.series[key] ??= makeSeries(this.context, task.id)
  }

  /** A task waited `millis` for a worker. */
  wait(key: number, task: Task.Any, millis: number): void {
    this.of(key, task)?.wait.record(millis)
  }

  /** A task ran `millis` in its worker; `ok`: it succeeded (the only way a task succeeds: one look-up for both). */
  run(key: number, task: Task.Any, millis: number, ok: boolean): void {
    const series = this.of(key, task)
    if (series === undefined) return
    series.run.record(millis)
    if (ok) series.outcomes.ok++
  }

  /** A task ended so (a success is counted by `run`). */
  outcome(key: number, task: Task.Any, outcome: Outcome): void {
    const series = this.of(key, task)
    if (series !== undefined) series.outcomes[outcome]++
  }
}

/** Metrics that record nothing (a dispatcher outside a pool: unit tests). */
export const none = new Metrics(undefined)
