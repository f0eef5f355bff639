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
 * Cheap: each task function's series are made once, on its first call; after
 * that an update is a registry look-up and the metric's own bookkeeping, with
 * no allocation of ours.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import type * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import type * as Task from "../Task.ts"

/** How a task ended, as the outcome counter's `outcome` attribute says it. */
export type Outcome = "ok" | "failed" | "crashed" | "serialization" | "cancelled" | "terminated"

/** 0.05 ms to about 52 s, doubling: tiny tasks and long ones both get percentiles. */
const BOUNDARIES = Metric.exponentialBoundaries({ start: 0.05, factor: 2, count: 22 })

/** The metric names, for exporters and tests. */
export const names = {
  wait: "effect_multiprocessing_task_wait_millis",
  run: "effect_multiprocessing_task_run_millis",
  outcomes: "effect_multiprocessing_tasks_total"
} as const

interface Series {
  readonly task: string
  readonly wait: Metric.Histogram<number>
  readonly run: Metric.Histogram<number>
  readonly outcomes: Partial<Record<Outcome, Metric.Counter<number>>>
}

const makeSeries = (task: string): Series => ({
  task,
  wait: Metric.histogram(names.wait, {
    description: "how long a task waited for a worker (ms)",
    boundaries: BOUNDARIES,
    attributes: { task }
  }),
  run: Metric.histogram(names.run, {
    description: "how long a task ran in its worker, as the worker measured it (ms)",
    boundaries: BOUNDARIES,
    attributes: { task }
  }),
  outcomes: {}
})

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

/** The per-task metrics of one pool, updated in the pool's context (its metric registry). */
export class Metrics {
  /** By `TaskKind.key`. */
  private readonly series: Array<Series | undefined> = []
  private readonly context: Context.Context<never> | undefined

  constructor(context: Context.Context<never> | undefined) {
    this.context = context
  }

  private of(key: number, task: Task.Any): Series {
    return this.series[key] ??= makeSeries(task.id)
  }

  /** A task waited `millis` for a worker. */
  wait(key: number, task: Task.Any, millis: number): void {
    if (this.context !== undefined) this.of(key, task).wait.updateUnsafe(millis, this.context)
  }

  /** A task ran `millis` in its worker. */
  run(key: number, task: Task.Any, millis: number): void {
    if (this.context !== undefined) this.of(key, task).run.updateUnsafe(millis, this.context)
  }

  /** A task ended so. */
  outcome(key: number, task: Task.Any, outcome: Outcome): void {
    if (this.context === undefined) return
    const series = this.of(key, task)
    const counter = series.outcomes[outcome] ??= Metric.counter(names.outcomes, {
      description: "tasks, by how they ended",
      incremental: true,
      attributes: { task: series.task, outcome }
    })
    counter.updateUnsafe(1, this.context)
  }
}

/** Metrics that record nothing (a dispatcher outside a pool: unit tests). */
export const none = new Metrics(undefined)
