/**
 * What a pool tells you as it works: the events of its workers and queue
 * (`pool.events`, a `Stream` of `PoolEvent`s, for dashboards and alerts),
 * and the updates of a task's progress (`pool.applyWithProgress`, a `Stream`
 * of `ProgressUpdate`s).
 *
 * The events are published to a sliding `PubSub` (1024 events per
 * subscriber): publishing never waits, so a slow dashboard never slows the
 * pool; a subscriber more than 1024 events behind loses the oldest ones.
 * While nobody subscribes, the pool builds no event at all.
 *
 * @example
 * ```ts
 * import { Effect, Stream } from "effect"
 * import { WorkerPool } from "effect-multiprocessing"
 *
 * const program = Effect.gen(function*() {
 *   const pool = yield* WorkerPool.make({ size: 4, maxTasksPerWorker: 100 })
 *   yield* pool.events.pipe(
 *     Stream.runForEach((event) => Effect.log(event._tag, event)),
 *     Effect.forkScoped
 *   )
 *   // …
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.1.0
 * @module
 */

/**
 * A worker was created (a thread or a process), and is starting.
 *
 * @since 0.1.0
 * @category events
 */
export interface WorkerStarted {
  /** Tells the events apart. */
  readonly _tag: "WorkerStarted"
  /** The worker (as in `WorkerCrashed.workerId`). */
  readonly workerId: number
}

/**
 * A worker is ready (started, and its initializer done): it takes tasks.
 *
 * @since 0.1.0
 * @category events
 */
export interface WorkerReady {
  /** Tells the events apart. */
  readonly _tag: "WorkerReady"
  /** The worker. */
  readonly workerId: number
}

/**
 * A worker exited because the pool asked it to: the pool stopped, or it
 * retired (recycled, or idle in a dynamic pool).
 *
 * @since 0.1.0
 * @category events
 */
export interface WorkerExited {
  /** Tells the events apart. */
  readonly _tag: "WorkerExited"
  /** The worker. */
  readonly workerId: number
  /** Why it was asked to exit. */
  readonly reason: "stopped" | "retired"
}

/**
 * A ready worker died on its own (a crash, `process.exit`, out of memory, a
 * signal), or was killed by the pool (a cancelled task that would not stop,
 * a broken protocol, a failed liveness check). The tasks it had started
 * failed with `WorkerCrashed`; it is replaced (see `WorkerReplaced`).
 *
 * @since 0.1.0
 * @category events
 */
export interface WorkerCrashed {
  /** Tells the events apart. */
  readonly _tag: "WorkerCrashed"
  /** The worker. */
  readonly workerId: number
  /** Its exit code, if it exited. */
  readonly exitCode: number | null
  /** The signal that killed it, if one did. */
  readonly signal: string | null
  /** What happened, as the `WorkerCrashed` errors of its tasks say it. */
  readonly cause: string
}

/**
 * A worker died before it was ready (its start, its initializer, or its
 * `startTimeout` failed). Three in a row break the pool (`WorkerStartFailed`).
 *
 * @since 0.1.0
 * @category events
 */
export interface WorkerStartFailed {
  /** Tells the events apart. */
  readonly _tag: "WorkerStartFailed"
  /** The worker. */
  readonly workerId: number
  /** What happened. */
  readonly cause: string
  /** How many workers in a row have failed to start, this one included. */
  readonly attempt: number
}

/**
 * A worker is being replaced: `replacement` starts in its place, after a
 * crash, a failed start, or its recycling (`WorkerRecycled`: it leaves once
 * it has answered its tasks).
 *
 * @since 0.1.0
 * @category events
 */
export interface WorkerReplaced {
  /** Tells the events apart. */
  readonly _tag: "WorkerReplaced"
  /** The worker that left (or leaves, once it has answered its tasks). */
  readonly workerId: number
  /** The worker started in its place. */
  readonly replacement: number
}

/**
 * A worker reached its `maxTasksPerWorker`, or its heap passed
 * `maxHeapPerWorkerMb`: it takes no more tasks, and is replaced once it has
 * answered those it holds.
 *
 * @since 0.1.0
 * @category events
 */
export interface WorkerRecycled {
  /** Tells the events apart. */
  readonly _tag: "WorkerRecycled"
  /** The worker. */
  readonly workerId: number
  /** Which limit it reached. */
  readonly reason: "maxTasksPerWorker" | "maxHeapPerWorkerMb"
}

/**
 * The queue reached `maxQueue`: submitters now wait for room. Published once
 * until the queue has room again.
 *
 * @since 0.1.0
 * @category events
 */
export interface QueueFull {
  /** Tells the events apart. */
  readonly _tag: "QueueFull"
  /** The pool's `maxQueue`. */
  readonly maxQueue: number
}

/**
 * Every task submitted so far has been answered: nothing is queued or
 * running (the pool is idle).
 *
 * @since 0.1.0
 * @category events
 */
export interface QueueDrained {
  /** Tells the events apart. */
  readonly _tag: "QueueDrained"
}

/**
 * What happens to a pool's workers and queue, as `pool.events` streams it.
 *
 * @since 0.1.0
 * @category models
 */
export type PoolEvent =
  | WorkerStarted
  | WorkerReady
  | WorkerExited
  | WorkerCrashed
  | WorkerStartFailed
  | WorkerReplaced
  | WorkerRecycled
  | QueueFull
  | QueueDrained

/**
 * One element of `pool.applyWithProgress`'s stream: a progress update the
 * task reported (`Task.progress(value)`), or, last, the call's result.
 *
 * @since 0.1.0
 * @category models
 */
export type ProgressUpdate<A> = Progress | Done<A>

/**
 * A progress update of a task: the value it passed to `Task.progress`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Progress {
  /** Tells the updates apart. */
  readonly _tag: "Progress"
  /** What the task reported. */
  readonly value: unknown
}

/**
 * The result of a call, after its progress updates.
 *
 * @since 0.1.0
 * @category models
 */
export interface Done<A> {
  /** Tells the updates apart. */
  readonly _tag: "Done"
  /** The task's result. */
  readonly value: A
}
