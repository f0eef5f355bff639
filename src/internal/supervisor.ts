/**
 * The supervisor: starts the pool's workers over effect's `Worker` platform,
 * notices when one exits, and stops them all. This is where a worker's death
 * is turned into `WorkerCrashed` for exactly the tasks it held (through
 * `Dispatcher.removeSlot`) and the worker is replaced.
 *
 * It also bounds every wait on a worker (SEMANTICS.md 30): a worker not ready
 * within `startTimeout` is killed (a failed start), and `start` itself fails
 * then; and a worker holding work is checked for liveness (liveness.ts).
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"
import * as Worker from "effect/workers/Worker"
import { WorkerStartFailed } from "../PoolError.ts"
import type * as Task from "../Task.ts"
import type * as Boundary from "./boundary.ts"
import * as Liveness from "./liveness.ts"
import * as Protocol from "./protocol.ts"
import type { Dispatcher } from "./dispatcher.ts"
import { makeSlot, type Slot } from "./slot.ts"

/** Consecutive workers that may die before they are ready before the pool gives up. */
const MAX_START_FAILURES = 3

/** The platform's handle on one spawned worker (a thread or a child process). */
export interface RawWorker {
  /**
   * Posts a request in effect's worker envelope (`[0, message]`, see
   * `WorkerRunner.PlatformMessage`). Posting directly rather than through
   * `Worker.send` keeps clone errors synchronous (effect's send buffers until
   * its port is set, then fails the whole worker on a bad message) and saves
   * an Effect run per batch.
   */
  readonly post: (message: Array<unknown>, transfers: ReadonlyArray<Task.Transferable>) => void
  /**
   * Hands every message of the worker, once its envelope is checked (see
   * `Boundary.receive`), to `listener`, synchronously as it arrives: a batch of
   * replies, a message that breaks the protocol, or one this process could not
   * deserialize. The ready signal goes to effect's platform. (Effect's
   * `Worker.run` handles a message in a forked fiber, which the worker's exit
   * can interrupt before it runs: replies a dying worker sent would be lost.)
   */
  readonly listen: (listener: Boundary.Listener) => void
  /**
   * What the worker is doing, read from memory it shares with the pool, or
   * `undefined` if it cannot tell.
   */
  readonly progress: () => Protocol.Progress | undefined
  /**
   * Resolves with how the worker exited, and what it said about it (a
   * process's last error line on stderr), once every message it sent has been
   * handed to `listen` (for a process: its channel's end, within a bound).
   */
  readonly exited: Promise<ExitStatus>
  /** Kills the worker now. */
  readonly kill: () => void
  /** Whether the worker may keep the program alive. */
  readonly ref: (ref: boolean) => void
  /**
   * How long (ms) the worker's event loop has been idle so far, or `undefined`
   * if the platform cannot tell (see `IDLE_EVIDENCE_MILLIS`).
   */
  readonly idleMillis: (() => number) | undefined
}

/** How a worker exited. */
export interface ExitStatus {
  readonly code: number | null
  readonly signal: string | null
  /** What it said about it, if anything: a process's last error line on stderr. */
  readonly detail?: string | undefined
}

/** The status of a worker that never got as far as being spawned. */
const unknownExit: ExitStatus = { code: null, signal: null }

/** How a pool's workers are made: worker threads or child processes. */
export interface Spawn {
  /** Creates the platform's worker for an id: what effect's `Spawner` returns, and our handle on it. */
  readonly spawn: (id: number) => { readonly worker: unknown; readonly raw: RawWorker }
  /** Most jobs in flight on one worker (see `Slot.maxInflight`); `undefined` for the dispatcher's default. */
  readonly maxInflight: number | undefined
}

interface Handle {
  readonly slot: Slot
  raw: RawWorker | undefined
  fiber: Fiber.Fiber<unknown, unknown> | undefined
  /** Why the pool killed this worker, if it did. */
  killedBecause: string | undefined
  /** It ran its `maxTasksPerWorker`: it is closing, and its replacement is on the way. */
  retiring: boolean
  /** It broke the protocol: it is being killed, and nothing more it sends is read. */
  faulty: boolean
  /** Its exit has been handled: nothing more it sends is read. */
  gone: boolean
  /** Kills it if it is not ready within `startTimeout`; interrupted once it is. */
  startTimer: Fiber.Fiber<void> | undefined
  /** The liveness check's record of it. */
  readonly live: Liveness.State
}

export interface Supervisor {
  /** Spawns the workers; succeeds once all of them are ready. */
  readonly start: Effect.Effect<void, WorkerStartFailed>
  /** Stops every worker (asking them to close, or killing them) and waits until all have exited. */
  readonly stop: (how: "close" | "kill") => Effect.Effect<void>
  /** Lets idle workers stop keeping the program alive, or makes busy ones keep it. */
  readonly ref: (ref: boolean) => void
  /** Kills one worker now, for the reason given; it is replaced like a crashed one. */
  readonly kill: (slot: Slot, because: string) => void
  /** The pool got work: checks the liveness of the workers holding it while the pool stays busy. */
  readonly watch: () => void
}

/** How many workers: a fixed number, or between `min` and `max`, retiring those idle for `idleTimeout`. */
export interface Sizing {
  readonly min: number
  readonly max: number
  /** `undefined` for a fixed size. */
  readonly idleTimeout: Duration.Duration | undefined
}

export const make = Effect.fnUntraced(function*(options: {
  readonly sizing: Sizing
  /** Runs an effect in the pool's background (with its services: its `Clock`). */
  readonly fork: (effect: Effect.Effect<void>) => Fiber.Fiber<void>
  readonly dispatcher: Dispatcher
  readonly backend: Spawn
  readonly scope: Scope.Scope
  /** Python's `initializer(*initargs)`: run on each worker once, before it takes any task. */
  readonly initializer: { readonly task: Task.Any; readonly args: ReadonlyArray<unknown> } | undefined
  /** Python's `maxtasksperchild`: a worker is replaced after this many tasks (a map chunk is one). */
  readonly maxTasksPerWorker: number | undefined
  /** A worker whose heap in use exceeds this after a task is replaced. */
  readonly maxHeapPerWorkerMb: number | undefined
  /** How long a worker may take to be ready (with its initializer), and a task module to load in it. */
  readonly startTimeout: Duration.Duration
}) {
  const { dispatcher, scope, sizing } = options
  const platform = yield* Worker.WorkerPlatform
  const startTimeout = Duration.format(options.startTimeout)
  const handles = new Set<Handle>()
  const allReady = Deferred.makeUnsafe<void, WorkerStartFailed>()
  /** Workers ready now: start succeeds once all `size` are, at the same time. */
  let readyCount = 0
  let startFailures = 0
  /** Set once workers keep dying before they are ready: the pool stops respawning them. */
  let broken: WorkerStartFailed | undefined
  let nextWorkerId = 1
  let stopping = false
  // workers keep the program alive while they start; the pool unrefs them whenever it is idle
  let referenced = true

  const spawnWorker: Effect.Effect<void> = Effect.gen(function*() {
    if (stopping || broken !== undefined) return
    const workerId = nextWorkerId++
    let wasReady = false
    const handle: Handle = {
      slot: makeSlot(
        workerId,
        (message, transfers) => liveness.post(handle, message, transfers),
        () => handle.raw?.progress(),
        options.backend.maxInflight,
        options.maxTasksPerWorker
      ),
      raw: undefined,
      fiber: undefined,
      killedBecause: undefined,
      retiring: false,
      faulty: false,
      gone: false,
      startTimer: undefined,
      live: Liveness.initialState()
    }
    const spawner: Worker.SpawnerFn = (id) => {
      const spawned = options.backend.spawn(id)
      handle.raw = spawned.raw
      spawned.raw.listen({
        onReplies: (replies) => {
          if (handle.faulty || handle.gone) return
          liveness.onMessage(handle, replies)
          const wrong = dispatcher.onReplies(handle.slot, replies)
          if (wrong !== undefined) fault(handle, wrong)
        },
        onFaulty: (what) => {
          if (!handle.faulty && !handle.gone) fault(handle, what)
        },
        onUnreadable: (seq, error) => {
          if (!handle.faulty && !handle.gone) dispatcher.onUnreadable(handle.slot, seq, error)
        }
      })
      return spawned.worker
    }
    // known from the moment it exists, so that a stop that comes while it starts kills it and waits for it too
    handles.add(handle)
    // a worker not ready within startTimeout (spawned, and its initializer done) is killed: a failed start
    handle.startTimer = options.fork(Effect.sleep(options.startTimeout).pipe(Effect.andThen(Effect.sync(() => {
      if (wasReady || !handles.has(handle)) return
      kill(handle, `killed: it was not ready within ${startTimeout} (${startingWhat(handle)})`)
    }))))
    const worker = yield* Effect.provideService(
      platform.spawn<Array<unknown>, Array<unknown>>(workerId),
      Worker.Spawner,
      spawner
    ).pipe(Effect.orDie, Effect.onError(() => Effect.sync(() => handles.delete(handle))))
    dispatcher.addSlot(handle.slot)
    // replies arrive through RawWorker.listen; effect's run does the handshake and reports the worker's end
    const becomeReady = () => {
      wasReady = true
      handle.startTimer?.interruptUnsafe()
      startFailures = 0
      dispatcher.markReady(handle.slot)
      if (++readyCount === sizing.min) Deferred.doneUnsafe(allReady, Exit.void)
    }
    handle.fiber = yield* worker.run(() => Effect.void, {
      onSpawn: Effect.sync(() => {
        // now that effect listens to the worker (a listener refs a Node worker again), apply the pool's choice
        handle.raw?.ref(referenced)
        handle.raw?.post([Protocol.OP_LOAD_TIMEOUT, Duration.toMillis(options.startTimeout)], [])
        if (options.maxHeapPerWorkerMb !== undefined) {
          handle.raw?.post([Protocol.OP_LIMIT_HEAP, options.maxHeapPerWorkerMb * 1024 * 1024], [])
        }
        const initializer = options.initializer
        if (initializer === undefined) return becomeReady()
        // Python's initializer: once per worker, before its first task; a failure counts as a failed start
        dispatcher.markOnline(handle.slot)
        const init = dispatcher.submitTo(handle.slot, initializer.task, Protocol.MODE_APPLY, initializer.args, 1)
        const onInit = (exit: Exit.Exit<unknown, unknown>) => {
          if (exit._tag === "Success") return becomeReady()
          kill(handle, `its initializer ${initializer.task.name} failed: ${describeCause(exit.cause)}`)
        }
        if (init.exit !== undefined) onInit(init.exit)
        else init.waiter = onInit
      })
    }).pipe(
      Effect.onExit((exit) => onWorkerExit(handle, exit, wasReady)),
      Effect.forkIn(scope)
    )
  })

  const onWorkerExit = (handle: Handle, exit: Exit.Exit<unknown, unknown>, wasReady: boolean) =>
    Effect.gen(function*() {
      handles.delete(handle)
      handle.startTimer?.interruptUnsafe()
      if (wasReady) readyCount--
      if (stopping || handle.retiring) {
        handle.gone = true
        dispatcher.removeSlot(handle.slot, null, null, "the pool stopped it")
        return
      }
      // The worker died on its own: wait for its exit status, killing it if it lingers.
      const raw = handle.raw
      raw?.kill()
      const status = raw === undefined ? unknownExit : yield* Effect.promise(() => raw.exited)
      const detail = handle.killedBecause ??
        (exit._tag === "Failure" ? describeCause(exit.cause) : "it stopped unexpectedly") +
          (status.detail === undefined ? "" : `: ${status.detail}`)
      handle.gone = true
      dispatcher.removeSlot(handle.slot, status.code, status.signal, detail)
      if (!wasReady && ++startFailures >= MAX_START_FAILURES && broken === undefined) {
        broken = new WorkerStartFailed({
          attempts: startFailures,
          message: `${startFailures} workers in a row exited before they were ready; the last one: ${detail}`
        })
        dispatcher.rejectWith = Exit.fail(broken)
        Deferred.doneUnsafe(allReady, Exit.fail(broken))
      }
      if (broken !== undefined) {
        // no more respawns: healthy workers finish what they hold and drain the queue; with none left, fail it
        if (!dispatcher.slots.some((slot) => slot.ready)) dispatcher.failAll(broken)
        return
      }
      yield* Effect.forkIn(spawnWorker, scope)
    })

  const kill = (handle: Handle, because: string) => {
    handle.killedBecause ??= because
    handle.slot.killed = true
    handle.raw?.kill()
  }

  /**
   * A worker that broke the protocol is faulty: it gets no more work, what it
   * sends from now on is ignored, and it is killed and replaced; the tasks it
   * held fail with `WorkerCrashed` saying what it sent.
   */
  const fault = (handle: Handle, what: string) => {
    handle.faulty = true
    handle.slot.ready = false
    handle.slot.online = false
    kill(handle, `broke the protocol: ${what}`)
  }

  /** What a worker that is not ready yet is doing, for the error that says it did not start in time. */
  const startingWhat = (handle: Handle): string =>
    options.initializer !== undefined && handle.slot.online
      ? `its initializer ${options.initializer.task.name} had not finished`
      : "it had not started"

  const liveness = yield* Liveness.make({
    dispatcher,
    workers: () => handles,
    kill: (worker, because) => kill(worker as Handle, because),
    stopping: () => stopping,
    fork: options.fork
  })

  /** Closes a worker that is idle (it is not replaced unless `replace`). */
  const retire = (slot: Slot, replace: boolean) => {
    for (const handle of handles) {
      if (handle.slot !== slot || handle.retiring) continue
      handle.retiring = true
      slot.ready = false
      if (replace) Effect.runFork(Effect.forkIn(spawnWorker, scope))
      if (handle.fiber !== undefined) Effect.runFork(Fiber.interrupt(handle.fiber))
    }
  }
  const members = () => {
    let count = 0
    let starting = 0
    for (const handle of handles) {
      if (handle.retiring) continue
      count++
      if (!handle.slot.ready) starting++
    }
    return { count, starting }
  }

  // a worker that ran its maxTasksPerWorker: start its replacement, then let it close (it is idle)
  dispatcher.onExhausted = (slot) => retire(slot, true)

  // a dynamic pool grows while work waits and every worker is busy, up to max…
  dispatcher.onBacklog = () => {
    if (sizing.idleTimeout === undefined || stopping || broken !== undefined) return
    const { count, starting } = members()
    if (count < sizing.max && starting < dispatcher.queued()) Effect.runFork(Effect.forkIn(spawnWorker, scope))
  }
  // …and retires a worker that has been idle for idleTimeout, down to min (one timer per worker at a time)
  const idleTimers = new Set<Slot>()
  const watchIdle = (slot: Slot, idleTimeout: Duration.Duration) => {
    idleTimers.add(slot)
    const given = slot.given
    options.fork(Effect.sleep(idleTimeout).pipe(Effect.andThen(Effect.sync(() => {
      idleTimers.delete(slot)
      const idle = slot.ready && slot.inflight.size === 0 && slot.direct.length === 0
      if (!idle || stopping) return
      if (slot.given !== given) return watchIdle(slot, idleTimeout) // it worked meanwhile: idle since later
      if (members().count > sizing.min) retire(slot, false)
    }))))
  }
  dispatcher.onSlotIdle = (slot) => {
    if (sizing.idleTimeout !== undefined && !idleTimers.has(slot)) watchIdle(slot, sizing.idleTimeout)
  }

  const supervisor: Supervisor = {
    start: Effect.gen(function*() {
      for (let i = 0; i < sizing.min; i++) yield* spawnWorker
      if (sizing.min === 0) Deferred.doneUnsafe(allReady, Exit.void)
      // bounded as a whole: a worker killed for being late has less time left, not a new startTimeout
      yield* Effect.timeoutOrElse(Deferred.await(allReady), {
        duration: options.startTimeout,
        orElse: () =>
          Effect.suspend(() => {
            const late = Array.from(handles).filter((handle) => !handle.slot.ready && !handle.retiring)
            return Effect.fail(
              new WorkerStartFailed({
                attempts: startFailures + late.length,
                message: `timed out: ${sizing.min - readyCount} of ${sizing.min} workers were not ready within ${startTimeout}` +
                  (late.length > 0 ? ` (${startingWhat(late[0])})` : "")
              })
            )
          })
      })
    }),
    stop: (how) =>
      Effect.suspend(() => {
        stopping = true
        const fibers: Array<Fiber.Fiber<unknown, unknown>> = []
        const exits: Array<Promise<unknown>> = []
        for (const handle of handles) {
          // one still starting has no fiber to ask it to close: it is killed
          if (how === "kill" || handle.fiber === undefined) handle.raw?.kill()
          if (handle.fiber !== undefined) fibers.push(handle.fiber)
          if (handle.raw !== undefined) exits.push(handle.raw.exited)
        }
        // done once every worker has exited, not only once effect has let go of it
        return Effect.andThen(Fiber.interruptAll(fibers), Effect.promise(() => Promise.all(exits)))
      }),
    watch: liveness.watch,
    ref: (ref) => {
      if (referenced === ref) return
      referenced = ref
      for (const handle of handles) handle.raw?.ref(ref)
    },
    kill: (slot, because) => {
      for (const handle of handles) {
        if (handle.slot === slot) kill(handle, because)
      }
    }
  }
  return supervisor
})


const describeCause = (cause: Cause.Cause<unknown>): string => {
  // usually a WorkerError, whose reason's cause is the platform's own error (the worker's uncaught throw)
  const error = Cause.squash(cause) as { readonly message?: unknown; readonly reason?: { readonly cause?: unknown } }
  const inner = error?.reason?.cause as { readonly message?: unknown } | undefined
  const message = typeof inner?.message === "string" ? inner.message : undefined
  return [typeof error?.message === "string" ? error.message : String(error), message].filter(Boolean).join(": ")
}
