/**
 * The test layer's backend (`WorkerPool.makeTest`): workers that run in the
 * caller's thread. Everything else is the real pool: the dispatcher, the
 * supervisor, the calls, chunking, errors, cancellation and the lifecycle run
 * as they do over threads; only the worker is in-process. Each one is the
 * real worker runtime (workerRuntime.ts, with its task running, replies and
 * module loading) behind the same protocol, and every message between it and
 * the pool is copied with `structuredClone` (with its transfer list), so a
 * value that cannot be sent fails as it would, and a task never shares a
 * reference with its caller.
 *
 * What crosses, and when, is decided by the pool's seeded scheduler
 * (inProcessScheduler.ts); failures and crashes are injected by
 * inProcessFaults.ts. A worker's death (a crash, a kill by the pool) is
 * reported as a real one is: first the replies it had sent, then its exit
 * (code 1; 0 after a close), and the supervisor fails exactly the tasks it
 * had started, with `WorkerCrashed`.
 *
 * Not modelled: memory (`resourceLimits`, `maxHeapPerWorkerMb`: its heap
 * counts as empty), CPU parallelism (one task runs at a time), the isolation
 * of a worker's globals and module state (all workers share the caller's
 * modules), and the killing of a task stuck in synchronous code (it blocks the
 * caller's thread; a task that ignores its signal is left running when its
 * worker is killed, and what it returns goes nowhere). Times are not measured:
 * a reply's run time is 0, so the dispatch does not depend on the machine.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { AsyncLocalStorage } from "node:async_hooks"
import { EventEmitter } from "node:events"
import type { TestOptions } from "../PoolOptions.ts"
import type * as Task from "../Task.ts"
import * as Boundary from "./boundary.ts"
import * as InProcessFaults from "./inProcessFaults.ts"
import * as InProcessScheduler from "./inProcessScheduler.ts"
import { whileLoading } from "./loadingModule.ts"
import * as Protocol from "./protocol.ts"
import type { ExitStatus, RawWorker, Spawn } from "./spawn.ts"
import * as WorkerRuntime from "./workerRuntime.ts"

/** The test layer's own options, checked. */
export interface Testing {
  readonly seed: string | number
  readonly fail: TestOptions["fail"]
  readonly crash: TestOptions["crash"]
}

/** Checks the test layer's options (`seed`, `fail`, `crash`). */
export const parse = (options: TestOptions | undefined): Testing | Cause.IllegalArgumentError => {
  const seed = options?.seed ?? 0
  if (!(typeof seed === "string" || (typeof seed === "number" && Number.isFinite(seed)))) {
    return new Cause.IllegalArgumentError(`seed must be a finite number or a string, got ${String(seed)}`)
  }
  for (const name of ["fail", "crash"] as const) {
    const value = options?.[name]
    if (value === undefined || typeof value === "function") continue
    if (typeof value !== "number" || !(value >= 0 && value <= 1)) {
      return new Cause.IllegalArgumentError(
        `${name} must be a rate between 0 and 1 or a predicate over the call, got ${String(value)}`
      )
    }
  }
  return { seed, fail: options?.fail, crash: options?.crash }
}

// Every in-process worker runs its tasks in one AsyncLocalStorage: `Task.signal()` (whose provider the
// last runtime made installs) finds the running task whichever worker runs it, and the faults its worker.
const storage = new AsyncLocalStorage<WorkerRuntime.Running>()
const hosts = new WeakMap<WorkerRuntime.Running, InProcessFaults.Host>()
const currentHost = (): InProcessFaults.Host | undefined => {
  const running = storage.getStore()
  return running === undefined ? undefined : hosts.get(running)
}

/**
 * The backend of one test pool: its scheduler, its faults, and the spawning
 * of its workers. The faults' registry entries are removed with the scope.
 */
export const make = (testing: Testing): Effect.Effect<Spawn, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => ({
        scheduler: InProcessScheduler.make(testing.seed),
        faults: InProcessFaults.make(testing, testing.seed, currentHost)
      })),
      ({ faults }) => Effect.sync(() => faults?.dispose())
    ),
    ({ faults, scheduler }): Spawn => ({ maxInflight: undefined, spawn: (id) => spawn(scheduler, faults, id) })
  )

/** Words of each operation of a pool → worker message (see protocol.ts). */
const width = (op: unknown): number =>
  op === Protocol.OP_DEFINE ? 4 : op === Protocol.OP_RUN ? 5 : op === Protocol.OP_WATCH_PROGRESS ? 3 : 2

/** Points the `DEFINE`s of a message at the faults' wrapped modules. */
const renameDefines = (ops: Array<unknown>, rename: (url: string) => string): void => {
  for (let i = 0; i < ops.length; i += width(ops[i])) {
    if (ops[i] === Protocol.OP_DEFINE) ops[i + 2] = rename(ops[i + 2] as string)
  }
}

/** `structuredClone`, moving `transfers` as `postMessage` does. */
const copy = <A>(value: A, transfers: ReadonlyArray<Task.Transferable>): A =>
  structuredClone(value, transfers.length === 0 ? undefined : { transfer: transfers as Array<any> })

/** One in-process worker, as its pieces below share it. */
interface Worker {
  readonly id: number
  readonly scheduler: InProcessScheduler.Scheduler
  /** What the pool posted to it, read in order. */
  readonly inbox: InProcessScheduler.Lane
  /** Its replies not handed to the pool yet, each in a lane of its own. */
  readonly held: Set<InProcessScheduler.Lane>
  /** What it publishes (a thread's shared memory): see `Protocol.Progress`. */
  readonly progress: { started: number; running: number | undefined; cancelsRead: number }
  readonly view: EventEmitter
  readonly resolveExit: (status: ExitStatus) => void
  listener: Boundary.Listener | undefined
  runtime: ReturnType<typeof WorkerRuntime.make> | undefined
  /** It has died (crashed, killed, or closed): it reads nothing more, and what it sends goes nowhere. */
  dead: boolean
  /** It was asked to close: it reads nothing more. */
  closing: boolean
  /** Its exit has been reported: nothing more reaches the pool. */
  gone: boolean
}

/** Hands one reply to the pool, through the boundary's checks, unless the worker's exit was reported. */
const deliver = (worker: Worker, reply: Array<unknown>): void => {
  if (!worker.gone && worker.listener !== undefined) Boundary.receive([1, reply], true, () => {}, worker.listener)
}

/** Dies: the replies it had sent reach the pool (in an order the seed chooses), then its exit. */
const die = (worker: Worker, code: number, detail: string | undefined): void => {
  if (worker.dead) return
  const { held, scheduler } = worker
  worker.dead = true
  worker.progress.running = undefined
  scheduler.clear(worker.inbox)
  for (const event of scheduler.take(Array.from(held))) scheduler.first(event)
  held.clear()
  scheduler.first(() => {
    // what its runtime still runs is stopped (an Effect interrupted, a signal aborted): its replies go nowhere
    const runtime = worker.runtime!
    for (const job of runtime.held()) runtime.onMessage([Protocol.OP_CANCEL, job])
    worker.gone = true
    worker.view.emit("exit", code)
    worker.resolveExit({ code, signal: null, detail })
  })
}

/** The worker runtime of `worker`: its replies are copied and held for the scheduler; its progress is published. */
const makeRuntime = (worker: Worker, faults: InProcessFaults.Faults | undefined) => {
  const { held, progress, scheduler } = worker
  const host: InProcessFaults.Host = {
    workerId: worker.id,
    dead: () => worker.dead,
    crash: (call) => die(worker, 1, `crashed by the test layer in ${call.name} (TestOptions.crash, call ${call.index})`)
  }
  return WorkerRuntime.make({
    send: (message, transfers) => {
      if (worker.dead) return
      const replies = copy(message, transfers)
      scheduler.busy()
      for (let i = 0; i < replies.length; i += Protocol.REPLY_WIDTH) {
        const reply = replies.slice(i, i + Protocol.REPLY_WIDTH)
        reply[3] = 0 // run times are not measured: the dispatch must not depend on the machine
        if (reply[0] === -1 || reply[1] === Protocol.STATUS_TASK_PROGRESS) {
          // a notice, or a progress update (which must reach the pool before its task's reply, sent later)
          scheduler.first(() => deliver(worker, reply))
          continue
        }
        const lane = scheduler.single(() => {
          held.delete(lane)
          deliver(worker, reply)
        })
        held.add(lane)
      }
    },
    publish: {
      started: (count) => {
        scheduler.busy()
        if (!worker.dead) progress.started = count
      },
      running: (job) => {
        scheduler.busy()
        if (!worker.dead) progress.running = job === undefined ? undefined : Protocol.runningSlot(job)
      },
      cancelsRead: (count) => {
        if (!worker.dead) progress.cancelsRead = count
      }
    },
    store: {
      run: (running, f) => {
        hosts.set(running, host)
        return storage.run(running, f)
      },
      get: () => storage.getStore()
    },
    importModule: (url) => scheduler.pauseWhile(whileLoading(url, () => faults?.load(url) ?? import(url))),
    // the caller's thread, where the pool runs: effect is loaded
    effectImported: () => true,
    heapUsed: () => 0
  })
}

const spawn = (
  scheduler: InProcessScheduler.Scheduler,
  faults: InProcessFaults.Faults | undefined,
  id: number
): { readonly worker: unknown; readonly raw: RawWorker } => {
  let resolveExit: (status: ExitStatus) => void = () => {}
  const exited = new Promise<ExitStatus>((resolve) => {
    resolveExit = resolve
  })
  // what effect's worker platform sees (see `platformView` in nodeThreads.ts): the exit, and the ready signal
  const view = Object.assign(new EventEmitter(), {
    postMessage: (message: unknown) => {
      if (Array.isArray(message) && message[0] === 1) close()
    },
    terminate: () => die(worker, 1, undefined)
  })
  const worker: Worker = {
    id,
    scheduler,
    inbox: scheduler.lane(),
    held: new Set(),
    progress: { started: 0, running: undefined, cancelsRead: 0 },
    view,
    resolveExit: (status) => resolveExit(status),
    listener: undefined,
    runtime: undefined,
    dead: false,
    closing: false,
    gone: false
  }
  const runtime = makeRuntime(worker, faults)
  worker.runtime = runtime

  /** Effect's `[1]`: stop listening, finalize the task modules' setup layers, exit with 0. */
  const close = () => {
    if (worker.closing || worker.dead) return
    worker.closing = true
    scheduler.clear(worker.inbox)
    runtime.close().then(
      () => die(worker, 0, undefined),
      (cause) => die(worker, 1, `a setup layer could not be finalized: ${String(cause)}`)
    )
  }

  let announced = false
  view.on("newListener", (event) => {
    if (event !== "message" || announced) return
    announced = true
    scheduler.first(() => {
      if (!worker.dead) view.emit("message", [0])
    })
  })

  const raw: RawWorker = {
    post: (message, transfers) => {
      const ops = copy(message, transfers)
      scheduler.busy()
      if (worker.dead || worker.closing) return
      if (faults !== undefined) renameDefines(ops, faults.rename)
      const event = () => {
        if (!worker.dead && !worker.closing) runtime.onMessage(ops)
      }
      // a liveness check alone is answered at once, outside the draw
      if (ops.length === 2 && ops[0] === Protocol.OP_PING) scheduler.first(event)
      else scheduler.push(worker.inbox, event)
    },
    listen: (listener) => {
      worker.listener = listener
    },
    progress: () => ({ ...worker.progress }),
    exited,
    kill: () => die(worker, 1, undefined),
    ref: () => {},
    idleMillis: undefined
  }
  return { worker: view, raw }
}
