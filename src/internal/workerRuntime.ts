/**
 * The worker side of the pool: takes the pool's messages (`onMessage`),
 * queues and runs its jobs (`drain`), and is where cancellation lands inside
 * the worker (`cancel`). Running one task is in workerTasks.ts, batching and
 * sending replies (`flush`) in workerReplies.ts; task modules load in
 * workerModules.ts; what a task returns or throws is inspected in
 * workerValues.ts.
 *
 * Sync and Promise tasks run as plain calls (no fiber); an Effect task runs in
 * its own fiber. Tasks of one message run back to back, but the runtime yields
 * to the event loop every few milliseconds so that a `CANCEL` can arrive. A
 * job whose module is still loading waits for it; the others go on.
 *
 * The runtime loads no part of effect until it needs it: the first time a
 * task returns an Effect, or a module declares a setup layer. A worker whose
 * tasks are plain functions never loads it, and starts several times faster.
 *
 * @internal
 */
import type * as Fiber from "effect/Fiber"
import * as Task from "../Task.ts"
import * as Protocol from "./protocol.ts"
import * as ProgressWorker from "./progressWorker.ts"
import * as WorkerModules from "./workerModules.ts"
import * as WorkerReplies from "./workerReplies.ts"
import * as WorkerTasks from "./workerTasks.ts"
import * as WorkerTracing from "./workerTracing.ts"
import { now, queueMicrotaskOriginal, setImmediateOriginal } from "./workerValues.ts"

/** Keeps the running task's record across `await`s (AsyncLocalStorage on Node). */
export interface TaskContextStore {
  readonly run: <R>(running: Running, f: () => R) => R
  readonly get: () => Running | undefined
}

/** A task the worker has received and not yet answered. */
export interface Running {
  readonly id: number
  cancelled: boolean
  controller: AbortController | undefined
  fiber: Fiber.Fiber<unknown, unknown> | undefined
  /** Its caller watches its progress (`Task.progress`): see progressWorker.ts. */
  readonly watch: ProgressWorker.Watch | undefined
  /** How it is traced and logs, if its `RUN` followed `OP_TRACE` or `OP_LOG_LEVEL` (see workerTracing.ts). */
  readonly observe: WorkerTracing.Observe | undefined
}

/** What the runtime's pieces (the queue, workerTasks.ts, workerReplies.ts) share: one object per worker. */
export interface Shared {
  readonly send: (message: Array<unknown>, transfers: ReadonlyArray<Task.Transferable>) => void
  /** The jobs received and not answered yet, by id. */
  readonly running: Map<number, Running>
  /** When the current run of synchronous work began: past `SLICE_MS`, yield to the event loop. */
  sliceStart: number
  /** When finished results were last sent. */
  lastFlush: number
  /** `LIMIT_HEAP`: past it, after a task, the worker asks to be replaced (once). */
  heapLimit: number
  /** Finished spans of answered traced jobs, sent with the next message (`STATUS_SPANS`). */
  readonly spans: Array<Protocol.WireSpan>
  /** What Effect tasks logged, sent with the next message (`STATUS_LOGS`). */
  readonly logs: Array<Protocol.WireLog>
}

type Definition = WorkerModules.Definition

/** How long finished results may wait before they are sent. */
const FLUSH_MS = 1

export const make = (options: {
  readonly send: (message: Array<unknown>, transfers: ReadonlyArray<Task.Transferable>) => void
  /** Publishes, in memory shared with the pool, what the worker is doing (see `Protocol.Progress`). */
  readonly publish: {
    /** How many of the jobs received so far have started: a crash fails only those. */
    readonly started: (count: number) => void
    /** The job running synchronously now (`undefined`: none): a cancelled one stuck there gets the worker killed. */
    readonly running: (id: number | undefined) => void
    /** How many `CANCEL`s the worker has read: it is not stuck while it reads them. */
    readonly cancelsRead: (count: number) => void
  }
  readonly store: TaskContextStore
  readonly importModule: (url: string) => Promise<unknown>
  /** Whether the task modules loaded so far have imported effect (see `WorkerModules.warm`). */
  readonly effectImported: () => boolean
  /** How many bytes of V8 heap this worker uses now. */
  readonly heapUsed: () => number
}) => {
  const { send, store } = options
  const shared: Shared = {
    send,
    running: new Map(),
    sliceStart: now(),
    lastFlush: now(),
    heapLimit: Infinity,
    spans: [],
    logs: []
  }
  const { running } = shared
  const replies = WorkerReplies.make(shared, options.heapUsed)
  const { flush, reply, scheduleFlush } = replies
  const definitions = new Map<number, Definition>()
  let cancelsRead = 0
  /** What `OP_TRACE` / `OP_LOG_LEVEL` said about the next `RUN`. */
  let observeNext: WorkerTracing.Observe | undefined
  /** `LOAD_TIMEOUT`: how long a task module (and its setup layer) may take to load. */
  let loadTimeoutMillis = 30_000
  const modules = WorkerModules.make({
    importModule: options.importModule,
    effectImported: options.effectImported,
    timeoutMillis: () => loadTimeoutMillis,
    onSettled: (jobs) => queue.resume(jobs),
    onTimeout: (jobs, error) => {
      for (const job of jobs) reply(job.task, Protocol.STATUS_FAILED, error, job.started)
      flush()
    }
  })
  const queue = makeQueue({
    shared,
    definitions,
    modules,
    replies,
    runTask: WorkerTasks.make({ shared, replies, store, publish: options.publish }),
    publish: options.publish
  })
  const { enqueue, wake } = queue

  Task.setProgressProvider(ProgressWorker.provider(store))
  /** The watch of the next `RUN` (`OP_WATCH_PROGRESS` comes just before it). */
  let watchNext: { readonly id: number; readonly watch: ProgressWorker.Watch } | undefined

  Task.setSignalProvider(() => {
    const current = store.get()
    if (current === undefined) return undefined
    if (current.controller === undefined) {
      current.controller = new AbortController()
      if (current.cancelled) current.controller.abort()
    }
    return current.controller.signal
  })

  const cancel = (id: number) => {
    // tell the pool at once that this worker is not stuck: it reads its messages
    options.publish.cancelsRead(++cancelsRead)
    const task = running.get(id)
    if (task === undefined || task.cancelled) return
    task.cancelled = true
    if (modules.withdraw(id)) {
      // it waited for its module: answer now, so that the pool can give this worker other work
      reply(task, Protocol.STATUS_CANCELLED, undefined, now())
      scheduleFlush()
      return
    }
    task.controller?.abort()
    task.fiber?.interruptUnsafe()
  }

  /** Handles one message from the pool. */
  const onMessage = (ops: ReadonlyArray<unknown>): void => {
    for (let i = 0; i < ops.length;) {
      switch (ops[i]) {
        case Protocol.OP_DEFINE: {
          if (definitions.has(ops[i + 1] as number)) {
            i += 4
            break
          }
          definitions.set(ops[i + 1] as number, {
            url: ops[i + 2] as string,
            name: ops[i + 3] as string,
            fn: undefined,
            errors: undefined,
            context: undefined,
            loadError: undefined
          })
          i += 4
          break
        }
        case Protocol.OP_RUN: {
          const id = ops[i + 1] as number
          let watch: ProgressWorker.Watch | undefined
          if (watchNext !== undefined) {
            if (watchNext.id === id) watch = watchNext.watch
            watchNext = undefined
          }
          const observe = observeNext
          if (observe !== undefined) {
            observeNext = undefined
            observe.name = definitions.get(ops[i + 2] as number)?.name ?? ""
          }
          running.set(id, { id, cancelled: false, controller: undefined, fiber: undefined, watch, observe })
          enqueue(id, ops[i + 2], ops[i + 3], ops[i + 4])
          i += 5
          break
        }
        case Protocol.OP_CANCEL: {
          cancel(ops[i + 1] as number)
          i += 2
          break
        }
        case Protocol.OP_LIMIT_HEAP: {
          shared.heapLimit = ops[i + 1] as number
          i += 2
          break
        }
        case Protocol.OP_PING: {
          // the liveness check: answered at once, ahead of any work, by a worker that still listens
          send([-1, Protocol.STATUS_PONG, ops[i + 1], 0], [])
          i += 2
          break
        }
        case Protocol.OP_WATCH_PROGRESS: {
          watchNext = { id: ops[i + 1] as number, watch: ProgressWorker.watch(shared, ops[i + 2]) }
          i += 3
          break
        }
        case Protocol.OP_TRACE: {
          observeNext ??= WorkerTracing.observe()
          observeNext.traceId = String(ops[i + 1])
          observeNext.parentId = String(ops[i + 2])
          i += 4
          break
        }
        case Protocol.OP_LOG_LEVEL: {
          observeNext ??= WorkerTracing.observe()
          observeNext.level = String(ops[i + 1])
          i += 2
          break
        }
        case Protocol.OP_LOAD_TIMEOUT: {
          loadTimeoutMillis = ops[i + 1] as number
          i += 2
          break
        }
        default:
          throw new Error(`effect-multiprocessing: unknown operation ${String(ops[i])}`)
      }
    }
    wake()
  }

  return {
    onMessage,
    /** Finalizes the modules' setup layers: called when the worker closes. */
    close: modules.close,
    /** Sends what is finished now: called when the worker exits, so a crash loses only unfinished work. */
    flush,
    /** The ids of the jobs received and not answered yet (after a `flush`, not even in a batch waiting to be sent). */
    held: (): Array<number> => Array.from(running.keys()),
    /** Whether the worker holds no job (none queued, running, or waiting for its module): see workerWait.ts. */
    idle: (): boolean => running.size === 0
  }
}

/**
 * The worker's queue of jobs: `drain` runs them in slices of about `SLICE_MS`,
 * jobs whose module has loaded meanwhile first, and publishes how many have
 * started.
 */
const makeQueue = (options: {
  readonly shared: Shared
  readonly definitions: Map<number, Definition>
  readonly modules: ReturnType<typeof WorkerModules.make>
  readonly replies: WorkerReplies.Replies
  readonly runTask: (task: Running, definition: Definition, mode: Protocol.Mode, payload: unknown) => void
  readonly publish: { readonly started: (count: number) => void }
}) => {
  const { definitions, modules, publish, runTask, shared } = options
  const { running } = shared
  const { flush, reply } = options.replies
  // queued RUN operations, flat: id, key, mode, payload
  let queue: Array<unknown> = []
  let head = 0
  /** Jobs whose module has loaded since they started waiting for it: they run before the queue. */
  let resumed: Array<WorkerModules.Waiting> = []
  let resumedHead = 0
  let started = 0
  let drainScheduled = false

  /** Runs a job, or, if its module has not loaded yet, makes it wait for it (started all the same). */
  const begin = (task: Running, definition: Definition, mode: Protocol.Mode, payload: unknown): void => {
    if (task.cancelled) return reply(task, Protocol.STATUS_CANCELLED, undefined, now())
    if (definition.fn === undefined && definition.loadError === undefined) {
      const load = modules.pending(definition)
      if (load !== undefined) {
        if (load.timedOut !== undefined) return reply(task, Protocol.STATUS_FAILED, load.timedOut, now())
        return modules.wait(load, { task, definition, mode, payload, started: now() })
      }
    }
    if (definition.loadError !== undefined) return reply(task, Protocol.STATUS_FAILED, definition.loadError, now())
    // `preload`: its module has loaded, and its layer is built
    if (mode === Protocol.MODE_LOAD) {
      modules.warm()
      return reply(task, Protocol.STATUS_OK, undefined, now())
    }
    runTask(task, definition, mode, payload)
  }

  const drain = (): void => {
    drainScheduled = false
    shared.sliceStart = now()
    let ran = false
    while (resumedHead < resumed.length || head < queue.length) {
      // only with work left: a worker whose queue is empty reads its next message at once (a CANCEL among them);
      // and not before the first job: a drain that was itself held up (a GC pause, a busy machine) still makes
      // progress where it was called (a job whose task exits its worker right after must not wait for a later turn
      // of the event loop, in which the worker would read, and start, more work)
      if (ran && now() - shared.sliceStart > WorkerTasks.SLICE_MS) {
        drainScheduled = true
        setImmediateOriginal(drain)
        break
      }
      if (resumedHead < resumed.length) {
        const job = resumed[resumedHead]
        resumed[resumedHead++] = undefined as never
        if (resumedHead === resumed.length) {
          resumed = []
          resumedHead = 0
        }
        ran = true
        begin(job.task, job.definition, job.mode, job.payload)
      } else {
        // counted before its module loads: loading is part of running it
        publish.started(++started)
        const task = running.get(queue[head] as number)!
        const definition = definitions.get(queue[head + 1] as number)!
        const mode = queue[head + 2] as Protocol.Mode
        const payload = queue[head + 3]
        queue[head + 3] = undefined
        head += 4
        ran = true
        begin(task, definition, mode, payload)
      }
      if (now() - shared.lastFlush > FLUSH_MS) flush()
    }
    if (head === queue.length) {
      queue = []
      head = 0
    }
    flush()
  }

  return {
    /** Queues a RUN. */
    enqueue: (id: number, key: unknown, mode: unknown, payload: unknown): void => {
      queue.push(id, key, mode, payload)
    },
    /** Runs what is queued now, unless a drain is scheduled (it yielded to the event loop). */
    wake: (): void => {
      if (!drainScheduled) drain()
    },
    /** Jobs whose module has settled: they run before the queue. */
    resume: (jobs: ReadonlyArray<WorkerModules.Waiting>): void => {
      resumed.push(...jobs)
      // at once, even if a drain is scheduled for later; never inside a drain (which may have started the load)
      queueMicrotaskOriginal(drain)
    }
  }
}
