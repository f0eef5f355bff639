/**
 * The supervisor: starts the pool's workers over effect's `Worker` platform,
 * notices when one exits, and stops them all. This is where a worker's death
 * is turned into `WorkerCrashed` for exactly the tasks it held (through
 * `Dispatcher.removeSlot`) and the worker is replaced.
 *
 * It also bounds every wait on a worker (SEMANTICS.md 30): a worker not ready
 * within `startTimeout` is killed (a failed start), and `start` itself fails
 * then; and a worker holding work is checked for liveness (liveness.ts).
 * How many workers there should be (a dynamic size, idle retirement, the
 * replacement of one that ran its `maxTasksPerWorker`) is decided in sizing.ts.
 *
 * Each mechanism is a function over the pool's `State`: `spawnWorker` (with
 * `onSpawn`, the handshake, `prepare`, the preloads and the initializer, and
 * `startTimer`),
 * `onWorkerExit` (with `countStartFailure`, which breaks the pool), `kill` and
 * `fault`, `start` and `stop`.
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
import { TaskError, WorkerStartFailed } from "../PoolError.ts"
import type * as Task from "../Task.ts"
import * as Liveness from "./liveness.ts"
import * as Protocol from "./protocol.ts"
import type { Dispatcher } from "./dispatcher.ts"
import * as Sizing from "./sizing.ts"
import type { ExitStatus, RawWorker, Spawn } from "./spawn.ts"
import { type Job, makeSlot, type Slot } from "./slot.ts"

/** Consecutive workers that may die before they are ready before the pool gives up. */
const MAX_START_FAILURES = 3

/** The status of a worker that never got as far as being spawned. */
const unknownExit: ExitStatus = { code: null, signal: null }

interface Handle {
  readonly slot: Slot
  raw: RawWorker | undefined
  fiber: Fiber.Fiber<unknown, unknown> | undefined
  /** Why the pool killed this worker, if it did. */
  killedBecause: string | undefined
  /** It has been ready (spawned, and its initializer done): it counts in `readyCount`. */
  wasReady: boolean
  /** It ran its `maxTasksPerWorker`: it is closing, and its replacement is on the way. */
  retiring: boolean
  /** It broke the protocol: it is being killed, and nothing more it sends is read. */
  faulty: boolean
  /** Its exit has been handled: nothing more it sends is read. */
  gone: boolean
  /** What it does before it is ready (a preload, its initializer), for the error if it never is. */
  preparing: string | undefined
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

/** How the pool's workers are started, kept and replaced. */
interface Options {
  readonly sizing: Sizing.Sizing
  /** Runs an effect in the pool's background (with its services: its `Clock`). */
  readonly fork: (effect: Effect.Effect<void>) => Fiber.Fiber<void>
  readonly dispatcher: Dispatcher
  readonly backend: Spawn
  readonly scope: Scope.Scope
  /** Python's `initializer(*initargs)`: run on each worker once, before it takes any task. */
  readonly initializer: { readonly task: Task.Any; readonly args: ReadonlyArray<unknown> } | undefined
  /** `preload`: a task of each module every worker loads (with its setup layer) before it is ready. */
  readonly preload: ReadonlyArray<Task.Any>
  /** Python's `maxtasksperchild`: a worker is replaced after this many tasks (a map chunk is one). */
  readonly maxTasksPerWorker: number | undefined
  /** A worker whose heap in use exceeds this after a task is replaced. */
  readonly maxHeapPerWorkerMb: number | undefined
  /** How long a worker may take to be ready (with its initializer), and a task module to load in it. */
  readonly startTimeout: Duration.Duration
}

/** What the supervisor's pieces below share: one object per pool. */
interface State {
  readonly options: Options
  readonly platform: Worker.WorkerPlatform["Service"]
  /** `options.startTimeout`, formatted for messages. */
  readonly startTimeout: string
  readonly handles: Set<Handle>
  /**
   * The exits of workers whose end is being handled (`onWorkerExit`) and that
   * have not exited yet: a stop waits for them too, so that once it is done
   * no worker of the pool is alive, whatever was exiting when it began.
   */
  readonly exiting: Set<RawWorker>
  readonly allReady: Deferred.Deferred<void, WorkerStartFailed>
  readonly liveness: Effect.Success<ReturnType<typeof Liveness.make>>
  /** Workers ready now: start succeeds once all `sizing.min` are, at the same time. */
  readyCount: number
  startFailures: number
  /** Why the last worker that exited before it was ready did, while `startFailures > 0`. */
  lastStartFailure: string | undefined
  /** Set once workers keep dying before they are ready: the pool stops respawning them. */
  broken: WorkerStartFailed | undefined
  nextWorkerId: number
  stopping: boolean
  /** Whether the workers may keep the program alive (see `Supervisor.ref`). */
  referenced: boolean
}

export const make = Effect.fnUntraced(function*(options: Options) {
  const platform = yield* Worker.WorkerPlatform
  const handles = new Set<Handle>()
  const liveness = yield* Liveness.make({
    dispatcher: options.dispatcher,
    workers: () => handles,
    kill: (worker, because) => kill(worker as Handle, because),
    stopping: () => state.stopping,
    fork: options.fork
  })
  const state: State = {
    options,
    platform,
    startTimeout: Duration.format(options.startTimeout),
    handles,
    exiting: new Set(),
    allReady: Deferred.makeUnsafe<void, WorkerStartFailed>(),
    liveness,
    readyCount: 0,
    startFailures: 0,
    lastStartFailure: undefined,
    broken: undefined,
    nextWorkerId: 1,
    stopping: false,
    // workers keep the program alive while they start; the pool unrefs them whenever it is idle
    referenced: true
  }
  Sizing.install({
    sizing: options.sizing,
    dispatcher: options.dispatcher,
    workers: state,
    spawn: (replaces) => Effect.runSync(forkWorker(state, replaces)),
    fork: options.fork
  })

  const supervisor: Supervisor = {
    start: start(state),
    stop: (how) => stop(state, how),
    watch: liveness.watch,
    ref: (ref) => {
      if (state.referenced === ref) return
      state.referenced = ref
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

/** Spawns the first `sizing.min` workers; succeeds once all of them are ready, within `startTimeout`. */
const start = (state: State): Effect.Effect<void, WorkerStartFailed> =>
  Effect.gen(function*() {
    const { sizing } = state.options
    for (let i = 0; i < sizing.min; i++) yield* spawnWorker(state)
    if (sizing.min === 0) Deferred.doneUnsafe(state.allReady, Exit.void)
    // bounded as a whole: a worker killed for being late has less time left, not a new startTimeout
    yield* Effect.timeoutOrElse(Deferred.await(state.allReady), {
      duration: state.options.startTimeout,
      orElse: () =>
        Effect.suspend(() => {
          const late = Array.from(state.handles).filter((handle) => !handle.slot.ready && !handle.retiring)
          // the most telling: one that is doing something, else one that was replaced for being late
          const doing = late.find((handle) => startingWhat(handle) !== notStarted)
          const what = doing !== undefined
            ? startingWhat(doing)
            : late.length > 0 && state.lastStartFailure !== undefined
            ? `${notStarted}; the one before it: ${state.lastStartFailure}`
            : late.length > 0
            ? notStarted
            : undefined
          return Effect.fail(
            new WorkerStartFailed({
              attempts: state.startFailures + late.length,
              message:
                `timed out: ${sizing.min - state.readyCount} of ${sizing.min} workers were not ready within ${state.startTimeout}` +
                (what === undefined ? "" : ` (${what})`)
            })
          )
        })
    })
  })

/** Stops every worker (asking them to close, or killing them); done once all have exited. */
const stop = (state: State, how: "close" | "kill"): Effect.Effect<void> =>
  Effect.suspend(() => {
    state.stopping = true
    const fibers: Array<Fiber.Fiber<unknown, unknown>> = []
    for (const handle of state.handles) {
      // one still starting has no fiber to ask it to close: it is killed
      if (how === "kill" || handle.fiber === undefined) handle.raw?.kill()
      if (handle.fiber !== undefined) fibers.push(handle.fiber)
    }
    // done once every worker has exited, not only once effect has let go of it; the exits are collected once the
    // fibers are done: a worker's thread or process is started inside its fiber, and may have been started meanwhile
    return Effect.andThen(Fiber.interruptAll(fibers), Effect.promise(() => Promise.all(exitsOf(state, how))))
  })

/** The exits of every worker that has not exited: those the pool holds, and those whose end is being handled. */
const exitsOf = (state: State, how: "close" | "kill"): Array<Promise<unknown>> => {
  const exits: Array<Promise<unknown>> = []
  for (const handle of state.handles) {
    if (handle.raw === undefined) continue
    if (how === "kill" || handle.fiber === undefined) handle.raw.kill()
    exits.push(handle.raw.exited)
  }
  for (const raw of state.exiting) {
    if (how === "kill") raw.kill()
    exits.push(raw.exited)
  }
  return exits
}

// -- spawning a worker -----------------------------------------------------------

/**
 * Spawns one worker (unless the pool is stopping or broken) with its
 * `startTimeout` timer; succeeds once it is spawned, and it becomes ready in
 * `onSpawn`. Its exit is handled by `onWorkerExit`.
 */
const spawnWorker = (state: State, replaces?: number): Effect.Effect<void> =>
  Effect.suspend(() => {
    const handle = reserveWorker(state, replaces)
    return handle === undefined ? Effect.void : startWorker(state, handle)
  })

/**
 * A new worker's place in the pool, taken at once (synchronously): it is a
 * member from now on, so a `broadcast` made while it starts (a crashed or
 * recycled worker's replacement) waits for it and runs on it too.
 */
const reserveWorker = (state: State, replaces?: number): Handle | undefined => {
  if (state.stopping || state.broken !== undefined) return undefined
  const { dispatcher } = state.options
  const workerId = state.nextWorkerId++
  if (replaces !== undefined) dispatcher.events.replaced(replaces, workerId)
  const handle = makeHandle(state, workerId)
  // known from the moment it exists, so that a stop that comes while it starts kills it and waits for it too
  state.handles.add(handle)
  handle.startTimer = startTimer(state, handle)
  dispatcher.addSlot(handle.slot)
  return handle
}

/** Starts the worker of a place `reserveWorker` took (in the background: see `forkWorker`). */
const startWorker: (state: State, handle: Handle) => Effect.Effect<void> = Effect.fnUntraced(function*(
  state: State,
  handle: Handle
) {
  const { dispatcher, scope } = state.options
  const release = () => {
    state.handles.delete(handle)
    handle.startTimer?.interruptUnsafe()
    dispatcher.removeSlot(handle.slot, null, null, "the pool stopped it")
  }
  // the pool stopped (or broke) between taking the place and starting it here
  if (state.stopping || state.broken !== undefined) return release()
  const worker = yield* Effect.provideService(
    state.platform.spawn<Array<unknown>, Array<unknown>>(handle.slot.workerId),
    Worker.Spawner,
    spawner(state, handle)
  ).pipe(
    Effect.orDie,
    Effect.onError(() => Effect.sync(release))
  )
  if (state.stopping) return release()
  // replies arrive through RawWorker.listen; effect's run does the handshake and reports the worker's end
  handle.fiber = yield* worker.run(() => Effect.void, { onSpawn: Effect.sync(() => onSpawn(state, handle)) }).pipe(
    Effect.onExit((exit) => onWorkerExit(state, handle, exit)),
    Effect.forkIn(scope)
  )
})

/** Takes a new worker's place now (`reserveWorker`) and starts it in the background, in `scope`. */
const forkWorker = (state: State, replaces?: number): Effect.Effect<void> =>
  Effect.suspend(() => {
    const handle = reserveWorker(state, replaces)
    return handle === undefined ? Effect.void : Effect.asVoid(Effect.forkIn(startWorker(state, handle), state.options.scope))
  })

const makeHandle = (state: State, workerId: number): Handle => {
  const { liveness, options } = state
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
    wasReady: false,
    retiring: false,
    faulty: false,
    gone: false,
    preparing: undefined,
    startTimer: undefined,
    live: Liveness.initialState()
  }
  return handle
}

/** Effect's `Spawner` for one worker: creates it, and hands what it sends to the liveness check and the dispatcher. */
const spawner = (state: State, handle: Handle): Worker.SpawnerFn => {
  const { liveness } = state
  const { backend, dispatcher } = state.options
  return (id) => {
    const spawned = backend.spawn(id)
    handle.raw = spawned.raw
    dispatcher.events.started(handle.slot.workerId)
    spawned.raw.listen({
      onReplies: (replies) => {
        if (handle.faulty || handle.gone) return
        const wrong = dispatcher.onReplies(handle.slot, replies)
        if (wrong !== undefined) return fault(handle, wrong)
        liveness.onMessage(handle)
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
}

/** A worker not ready within `startTimeout` (spawned, and its initializer done) is killed: a failed start. */
const startTimer = (state: State, handle: Handle): Fiber.Fiber<void> =>
  state.options.fork(Effect.sleep(state.options.startTimeout).pipe(Effect.andThen(Effect.sync(() => {
    if (handle.wasReady || !state.handles.has(handle)) return
    kill(handle, `killed: it was not ready within ${state.startTimeout} (${startingWhat(handle)})`)
  }))))

/**
 * The handshake, once effect listens to the worker: the pool's ref choice, the
 * load timeout, the heap limit; then `prepare`.
 */
const onSpawn = (state: State, handle: Handle): void => {
  const { maxHeapPerWorkerMb, startTimeout } = state.options
  // now that effect listens to the worker (a listener refs a Node worker again), apply the pool's choice
  handle.raw?.ref(state.referenced)
  handle.raw?.post([Protocol.OP_LOAD_TIMEOUT, Duration.toMillis(startTimeout)], [])
  if (maxHeapPerWorkerMb !== undefined) {
    handle.raw?.post([Protocol.OP_LIMIT_HEAP, maxHeapPerWorkerMb * 1024 * 1024], [])
  }
  prepare(state, handle)
}

/** One thing a worker does before it is ready: a job meant for it, and what its failure means. */
interface Step {
  /** What the worker is doing meanwhile (see `startingWhat`). */
  readonly doing: string
  readonly submit: () => Job
  /** Why the worker is killed if the job fails. */
  readonly failed: (cause: Cause.Cause<unknown>) => string
}

/**
 * Readies a worker that answered the handshake, one job meant for it after the
 * other: it loads each `preload` module (with its setup layer), then runs the
 * initializer (Python's: once per worker, before its first task); it is ready
 * once all have succeeded. A failure is a failed start: the worker is killed.
 */
const prepare = (state: State, handle: Handle): void => {
  const { dispatcher, initializer, preload } = state.options
  const steps: Array<Step> = preload.map((task) => ({
    doing: `it was loading the task module ${task.url} (preload)`,
    // a kind of its own: how long the module took to load is not what its task costs
    submit: () => dispatcher.submitTo(handle.slot, { ...task, id: `${task.url}#(preload)` }, Protocol.MODE_LOAD, undefined, 1),
    failed: (cause) => `its preload of ${task.url} failed: ${describeRemote(cause)}`
  }))
  if (initializer !== undefined) {
    steps.push({
      doing: `its initializer ${initializer.task.name} had not finished`,
      submit: () => dispatcher.submitTo(handle.slot, initializer.task, Protocol.MODE_APPLY, initializer.args, 1),
      failed: (cause) => `its initializer ${initializer.task.name} failed: ${describeCause(cause)}`
    })
  }
  if (steps.length === 0) return becomeReady(state, handle)
  dispatcher.markOnline(handle.slot)
  const run = (i: number): void => {
    if (i === steps.length) return becomeReady(state, handle)
    const step = steps[i]
    handle.preparing = step.doing
    const job = step.submit()
    const onExit = (exit: Exit.Exit<unknown, unknown>) => {
      if (exit._tag === "Success") return run(i + 1)
      kill(handle, step.failed(exit.cause))
    }
    if (job.exit !== undefined) onExit(job.exit)
    else job.waiter = onExit
  }
  run(0)
}

const becomeReady = (state: State, handle: Handle): void => {
  handle.wasReady = true
  handle.startTimer?.interruptUnsafe()
  state.startFailures = 0
  state.lastStartFailure = undefined
  state.options.dispatcher.events.ready(handle.slot.workerId)
  state.options.dispatcher.markReady(handle.slot)
  if (++state.readyCount === state.options.sizing.min) Deferred.doneUnsafe(state.allReady, Exit.void)
}

/** What a worker that is not ready yet is doing, for the error that says it did not start in time. */
const startingWhat = (handle: Handle): string =>
  handle.slot.online && handle.preparing !== undefined ? handle.preparing : notStarted

const notStarted = "it had not started"

// -- a worker's exit -----------------------------------------------------------------

/**
 * A worker exited: its tasks fail with `WorkerCrashed` (`Dispatcher.removeSlot`)
 * and it is replaced, unless the pool stopped or retired it, or is broken.
 */
const onWorkerExit = (state: State, handle: Handle, exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> =>
  Effect.gen(function*() {
    const { dispatcher } = state.options
    const wasReady = handle.wasReady
    state.handles.delete(handle)
    const exiting = handle.raw
    if (exiting !== undefined) {
      state.exiting.add(exiting)
      exiting.exited.then(() => state.exiting.delete(exiting))
    }
    handle.startTimer?.interruptUnsafe()
    if (wasReady) state.readyCount--
    if (state.stopping || handle.retiring) {
      handle.gone = true
      dispatcher.events.exited(handle.slot.workerId, handle.retiring ? "retired" : "stopped")
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
    if (wasReady) dispatcher.events.crashed(handle.slot.workerId, status.code, status.signal, detail)
    else dispatcher.events.startFailed(handle.slot.workerId, detail, state.startFailures + 1)
    dispatcher.removeSlot(handle.slot, status.code, status.signal, detail)
    if (!wasReady) countStartFailure(state, detail)
    if (state.broken !== undefined) {
      // no more respawns: healthy workers finish what they hold and drain the queue; with none left, fail it
      if (!dispatcher.slots.some((slot) => slot.ready)) dispatcher.failAll(state.broken)
      return
    }
    yield* forkWorker(state, handle.slot.workerId)
  })

/** A worker exited before it was ready: after `MAX_START_FAILURES` in a row, the pool is broken. */
const countStartFailure = (state: State, detail: string): void => {
  state.lastStartFailure = detail
  if (++state.startFailures < MAX_START_FAILURES || state.broken !== undefined) return
  const broken = new WorkerStartFailed({
    attempts: state.startFailures,
    message: `${state.startFailures} workers in a row exited before they were ready; the last one: ${detail}`
  })
  state.broken = broken
  state.options.dispatcher.rejectWith = Exit.fail(broken)
  Deferred.doneUnsafe(state.allReady, Exit.fail(broken))
}

// -- killing a worker ------------------------------------------------------------------

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

/** A worker's own error (a `TaskError`) as it said it; anything else (a crash) as `describeCause` reads it. */
const describeRemote = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause)
  return error instanceof TaskError
    ? `${error.remoteName}: ${error.remoteMessage ?? error.message}`
    : describeCause(cause)
}

const describeCause = (cause: Cause.Cause<unknown>): string => {
  // usually a WorkerError, whose reason's cause is the platform's own error (the worker's uncaught throw)
  const error = Cause.squash(cause) as { readonly message?: unknown; readonly reason?: { readonly cause?: unknown } }
  const inner = error?.reason?.cause as { readonly message?: unknown } | undefined
  const message = typeof inner?.message === "string" ? inner.message : undefined
  return [typeof error?.message === "string" ? error.message : String(error), message].filter(Boolean).join(": ")
}
