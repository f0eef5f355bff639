/**
 * A pool's engine, as `WorkerPool.make` starts it: the dispatcher and the
 * supervisor wired to each other, the cancel watch (a cancelled task that does
 * not stop within `cancelGracePeriod` has its worker replaced), the lifecycle
 * (lifecycle.ts) and the calls (calls.ts), put together as a `Pool`.
 *
 * @internal
 */
import * as NodeWorker from "@effect/platform-node/NodeWorker"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Scope from "effect/Scope"
import type * as Task from "../Task.ts"
import type { Pool } from "../WorkerPool.ts"
import * as Calls from "./calls.ts"
import { Dispatcher } from "./dispatcher.ts"
import * as Events from "./events.ts"
import * as Lifecycle from "./lifecycle.ts"
import * as NodeProcesses from "./nodeProcesses.ts"
import * as NodeThreads from "./nodeThreads.ts"
import type * as PoolOptions from "./options.ts"
import * as PoolStats from "./poolStats.ts"
import type { Job } from "./slot.ts"
import type { Spawn } from "./spawn.ts"
import * as Supervisor from "./supervisor.ts"

/**
 * Starts the engine of a pool from its parsed options, and waits until its
 * workers are ready (see `WorkerPool.make`).
 */
export const make = Effect.fnUntraced(function*(
  parsed: PoolOptions.Parsed,
  /** Python's `initializer(*initargs)`, if any. */
  initializer: { readonly task: Task.Any; readonly args: ReadonlyArray<unknown> } | undefined,
  /** Workers other than the backend's: the test layer's in-process workers (inProcessWorkers.ts). */
  spawn?: Spawn
) {
  const { backend, cancelGracePeriod, maxHeapPerWorkerMb, maxQueue, maxTasksPerWorker, preload, sizing, startTimeout } =
    parsed
  const size = sizing.max
  const scope = yield* Effect.scope
  const workers = spawn ?? (backend.kind === "processes" ? NodeProcesses.processes(backend) : NodeThreads.threads(backend))
  // the first workers start now: their start-up overlaps with the rest of this set-up; those the supervisor
  // does not take (the pool fails or is interrupted before) are killed
  const discardEarly = yield* Effect.acquireRelease(
    Effect.sync(() => workers.startEarly?.(sizing.min)),
    (discard) => Effect.promise(() => discard?.() ?? Promise.resolve())
  )
  const discard = Effect.promise(() => discardEarly?.() ?? Promise.resolve())
  const dispatcher = new Dispatcher()
  dispatcher.maxQueue = maxQueue ?? Infinity
  dispatcher.poolSize = size
  // before the pool's other finalizers, so it closes after them: subscribers see the workers exit
  dispatcher.events = yield* Events.make
  const asyncResults = yield* FiberSet.make<unknown, unknown>()
  const background = yield* FiberSet.make<unknown, unknown>()
  const runBackground = yield* FiberSet.runtime(background)()
  const workersScope = yield* Scope.fork(scope)
  const supervisor = yield* Supervisor.make({
    sizing,
    fork: (effect) => runBackground(effect),
    dispatcher,
    backend: workers,
    scope: workersScope,
    initializer,
    preload,
    maxTasksPerWorker,
    maxHeapPerWorkerMb,
    startTimeout
  }).pipe(Effect.provide(NodeWorker.layerPlatform))

  const lifecycle = Lifecycle.make({ dispatcher, supervisor, runBackground, asyncResults })

  const stats = Effect.sync(() => PoolStats.snapshot(dispatcher))
  yield* PoolStats.register(dispatcher)

  dispatcher.onBusy = () => {
    supervisor.ref(true)
    supervisor.watch()
  }
  dispatcher.onCancelRunning = (job) => runBackground(watchCancelled(dispatcher, supervisor, cancelGracePeriod, job))
  dispatcher.onIdle = () => {
    lifecycle.onIdle()
    dispatcher.events.drained()
  }

  yield* Effect.addFinalizer(() => lifecycle.terminate)

  // a pool that cannot start leaves no worker behind: those still starting are killed, and waited for
  yield* Effect.onError(supervisor.start, () => lifecycle.terminate).pipe(Effect.ensuring(discard))
  lifecycle.started()

  const pool: Pool = {
    size,
    stats,
    ...Calls.make({ dispatcher, lifecycle, size, maxQueue, asyncResults }),
    events: dispatcher.events.stream,
    subscribeEvents: dispatcher.events.subscribe,
    close: lifecycle.close,
    join: lifecycle.join,
    terminate: lifecycle.terminate
  }
  return pool
})

/**
 * The cancel watch: a cancelled task that has not stopped within the grace
 * period (stuck in synchronous code, or ignoring its signal, or
 * uninterruptible) cannot be stopped any other way: its worker is replaced.
 */
const watchCancelled = (
  dispatcher: Dispatcher,
  supervisor: Supervisor.Supervisor,
  cancelGracePeriod: Duration.Duration,
  job: Job
): Effect.Effect<void> =>
  Effect.sleep(cancelGracePeriod).pipe(Effect.andThen(Effect.suspend(() => {
    const grace = Duration.format(cancelGracePeriod)
    switch (dispatcher.cancelVerdict(job)) {
      case "done":
        return Effect.void
      case "waiting":
        return watchCancelled(dispatcher, supervisor, cancelGracePeriod, job)
      case "stuck":
        return Effect.sync(() =>
          supervisor.kill(job.slot!, `killed: a cancelled ${job.task.name} was still running synchronously after ${grace}`)
        )
      case "ignored":
        return Effect.sync(() =>
          supervisor.kill(
            job.slot!,
            `killed: a cancelled ${job.task.name} had not stopped ${grace} after its worker read the cancel ` +
              `(it ignores its AbortSignal, or cannot be interrupted)`
          )
        )
    }
  })))
