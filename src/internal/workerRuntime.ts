/**
 * The worker side of the pool: runs tasks, batches replies, and is where
 * cancellation lands inside the worker. (Task modules load in
 * workerModules.ts; what a task returns or throws is inspected in
 * workerValues.ts.)
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
import type * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Task from "../Task.ts"
import * as Protocol from "./protocol.ts"
import * as WorkerModules from "./workerModules.ts"
import {
  apply,
  causeError,
  classify,
  describe,
  EFFECT,
  fx,
  type Kind,
  now,
  PROMISE,
  promiseThen,
  queueMicrotaskOriginal,
  setImmediateOriginal,
  thenFound,
  uncloneable,
  VALUE
} from "./workerValues.ts"

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
}

type Definition = WorkerModules.Definition

/** How long the runtime runs queued tasks before yielding to the event loop. */
const SLICE_MS = 4
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
  /** How many bytes of V8 heap this worker uses now. */
  readonly heapUsed: () => number
}) => {
  const { send, store } = options
  const definitions = new Map<number, Definition>()
  const running = new Map<number, Running>()
  // queued RUN operations, flat: id, key, mode, payload
  let queue: Array<unknown> = []
  let head = 0
  /** Jobs whose module has loaded since they started waiting for it: they run before the queue. */
  let resumed: Array<WorkerModules.Waiting> = []
  let resumedHead = 0
  let drainScheduled = false
  let replies: Array<unknown> = []
  let lastFlush = now()
  let flushScheduled = false
  /** When the current run of synchronous work began: past `SLICE_MS`, yield to the event loop. */
  let sliceStart = now()
  let started = 0
  let cancelsRead = 0
  /** `LIMIT_HEAP`: past it, after a task, the worker asks to be replaced (once). */
  let heapLimit = Infinity
  /** `LOAD_TIMEOUT`: how long a task module (and its setup layer) may take to load. */
  let loadTimeoutMillis = 30_000
  const modules = WorkerModules.make({
    importModule: options.importModule,
    timeoutMillis: () => loadTimeoutMillis,
    onSettled: (jobs) => {
      resumed.push(...jobs)
      // at once, even if a drain is scheduled for later; never inside a drain (which may have started the load)
      queueMicrotaskOriginal(drain)
    },
    onTimeout: (jobs, error) => {
      for (const job of jobs) reply(job.task, Protocol.STATUS_FAILED, error, job.started)
      flush()
    }
  })

  Task.setSignalProvider(() => {
    const current = store.get()
    if (current === undefined) return undefined
    if (current.controller === undefined) {
      current.controller = new AbortController()
      if (current.cancelled) current.controller.abort()
    }
    return current.controller.signal
  })

  // -- replies ---------------------------------------------------------------

  const flush = () => {
    flushScheduled = false
    if (replies.length === 0) return
    const batch = replies
    replies = []
    if (heapLimit !== Infinity) {
      const used = options.heapUsed()
      if (used > heapLimit) {
        heapLimit = Infinity
        batch.unshift(-1, Protocol.STATUS_OVER_HEAP, used, 0)
      }
    }
    lastFlush = now()
    try {
      send(batch, [])
    } catch {
      // one result could not be cloned: send them one by one, replacing the culprits
      for (let i = 0; i < batch.length; i += Protocol.REPLY_WIDTH) {
        const one = batch.slice(i, i + Protocol.REPLY_WIDTH)
        try {
          send(one, [])
        } catch (error) {
          send([one[0], Protocol.STATUS_UNCLONEABLE, uncloneable(error, one[2]), one[3]], [])
        }
      }
    }
  }

  const scheduleFlush = () => {
    if (flushScheduled) return
    flushScheduled = true
    queueMicrotaskOriginal(flush)
  }

  const reply = (task: Running, status: Protocol.Status, payload: unknown, started: number) => {
    running.delete(task.id)
    if (task.cancelled) {
      status = Protocol.STATUS_CANCELLED
      payload = undefined
    }
    replies.push(task.id, status, payload, Math.round((now() - started) * 1000))
  }

  const replyTransfer = (task: Running, value: Task.Transferred<unknown>, started: number) => {
    running.delete(task.id)
    flush()
    const micros = Math.round((now() - started) * 1000)
    try {
      send([task.id, Protocol.STATUS_OK, value.value, micros], value.transfer)
    } catch (error) {
      send([task.id, Protocol.STATUS_UNCLONEABLE, uncloneable(error, value.value), micros], [])
    }
  }

  /** A thrown error, a rejection or a defect: always a `TaskError` on the caller's side. Never throws. */
  const replyThrown = (task: Running, error: unknown, started: number, prefix?: string) =>
    reply(task, Protocol.STATUS_FAILED, describe(error, prefix), started)

  /** An Effect's typed failure: a declared error is encoded by its schema, anything else becomes a `TaskError`. */
  const replyFailure = (task: Running, definition: Definition, error: unknown, started: number) => {
    let encoded: ReturnType<Task.ErrorCodec["encode"]>
    try {
      encoded = definition.errors!.encode(error)
    } catch (cause) {
      return reply(task, Protocol.STATUS_FAILED, describe(cause, "a declared error could not be encoded: "), started)
    }
    if (encoded !== undefined) return reply(task, Protocol.STATUS_DECLARED, encoded, started)
    reply(task, Protocol.STATUS_FAILED, describe(error), started)
  }

  // -- running tasks -----------------------------------------------------------

  /**
   * Runs one RUN operation. A chunk (`map` / `starmap`) calls the function for
   * each item in order and answers with the array of results; the first
   * failure fails the chunk. Whatever a task returns or throws ends in one
   * reply: nothing it does to its value can throw out of here.
   */
  const runTask = (task: Running, definition: Definition, mode: Protocol.Mode, payload: unknown) => {
    const started = now()
    const fn = definition.fn!
    const single = mode === Protocol.MODE_APPLY
    const items = (single ? [payload] : payload) as ReadonlyArray<unknown>
    const spread = mode !== Protocol.MODE_MAP
    const results: Array<unknown> = single ? [] : new Array(items.length)

    /** Records an Effect task's success and says whether to go on, or replies with its failure. */
    const onEffectExit = (exit: Exit.Exit<unknown, unknown>, i: number): boolean => {
      if (exit._tag === "Success") {
        results[i] = exit.value
        return true
      }
      try {
        const { Cause } = fx()
        if (Cause.hasInterruptsOnly(exit.cause)) {
          if (task.cancelled) reply(task, Protocol.STATUS_CANCELLED, undefined, started)
          else replyThrown(task, new Error("the task's fiber was interrupted inside the worker"), started)
          return false
        }
        const failure = Cause.findErrorOption(exit.cause)
        if (failure._tag === "Some") replyFailure(task, definition, failure.value, started)
        else replyThrown(task, causeError(exit.cause), started)
      } catch (error) {
        // the failure holds a value that throws when looked at (a revoked Proxy, a throwing getter)
        replyThrown(task, error, started, "the task's failure could not be inspected: ")
      }
      return false
    }

    /**
     * Runs items from `from` on, synchronously, publishing that this job holds
     * the thread meanwhile, inside the task's context (for `Task.signal()`,
     * also in what its items start): entered once per run, not per item.
     */
    const step = (from: number): void => {
      options.publish.running(task.id)
      try {
        store.run(task, () => stepFrom(from))
      } finally {
        options.publish.running(undefined)
      }
    }

    /** Waits for item `i`'s promise or thenable (`then`), once: a thenable may call back twice, or throw after. */
    const awaitItem = (result: unknown, then: Function, i: number): void => {
      let settled = false
      const onFulfilled = (value: unknown) => {
        if (settled) return
        settled = true
        results[i] = value
        step(i + 1)
        scheduleFlush()
      }
      const onRejected = (error: unknown) => {
        if (settled) return
        settled = true
        replyThrown(task, error, started)
        scheduleFlush()
      }
      try {
        apply(then, result, [onFulfilled, onRejected])
      } catch (error) {
        onRejected(error)
      }
    }

    const stepFrom = (from: number): void => {
      for (let i = from; i < items.length; i++) {
        if (task.cancelled) return reply(task, Protocol.STATUS_CANCELLED, undefined, started)
        let result: unknown
        try {
          const args = spread ? items[i] as ReadonlyArray<unknown> : [items[i]]
          result = fn(...args)
        } catch (error) {
          return replyThrown(task, error, started)
        }
        let kind: Kind
        try {
          kind = classify(result)
        } catch (error) {
          return replyThrown(task, error, started, "the task's result could not be inspected: ")
        }
        if (kind === EFFECT) {
          const { Effect } = fx()
          let fiber: Fiber.Fiber<unknown, unknown>
          try {
            const effect = result as Effect.Effect<unknown, unknown>
            fiber = definition.context === undefined
              ? Effect.runFork(effect)
              : Effect.runForkWith(definition.context)(effect)
          } catch (error) {
            return replyThrown(task, error, started)
          }
          const done = fiber.pollUnsafe()
          if (done !== undefined) {
            // completed synchronously: go on in this loop, so a long chunk does not grow the stack
            if (onEffectExit(done, i)) continue
            return
          }
          task.fiber = fiber
          if (task.cancelled) fiber.interruptUnsafe()
          fiber.addObserver((exit) => {
            task.fiber = undefined
            if (onEffectExit(exit, i)) step(i + 1)
            scheduleFlush()
          })
          return
        }
        if (kind !== VALUE) return awaitItem(result, kind === PROMISE ? promiseThen : thenFound(), i)
        results[i] = result
        if (!single && (i & 3) === 3 && i + 1 < items.length && now() - sliceStart > SLICE_MS) {
          // a long chunk of sync items: let a CANCEL in, then go on where it stopped
          const next = i + 1
          setImmediateOriginal(() => {
            sliceStart = now()
            step(next)
            flush()
          })
          return
        }
      }
      if (single) {
        const value = results[0]
        if (Task.isTransferred(value)) return replyTransfer(task, value, started)
        return reply(task, Protocol.STATUS_OK, value, started)
      }
      for (let i = 0; i < results.length; i++) {
        const value = results[i]
        if (Task.isTransferred(value)) results[i] = value.value
      }
      reply(task, Protocol.STATUS_OK, results, started)
    }
    step(0)
  }

  // -- the queue -----------------------------------------------------------------

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
    runTask(task, definition, mode, payload)
  }

  const drain = (): void => {
    drainScheduled = false
    sliceStart = now()
    while (resumedHead < resumed.length || head < queue.length) {
      // only with work left: a worker whose queue is empty reads its next message at once (a CANCEL among them)
      if (now() - sliceStart > SLICE_MS) {
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
        begin(job.task, job.definition, job.mode, job.payload)
      } else {
        // counted before its module loads: loading is part of running it
        options.publish.started(++started)
        const task = running.get(queue[head] as number)!
        const definition = definitions.get(queue[head + 1] as number)!
        const mode = queue[head + 2] as Protocol.Mode
        const payload = queue[head + 3]
        queue[head + 3] = undefined
        head += 4
        begin(task, definition, mode, payload)
      }
      if (now() - lastFlush > FLUSH_MS) flush()
    }
    if (head === queue.length) {
      queue = []
      head = 0
    }
    flush()
  }

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
          running.set(id, { id, cancelled: false, controller: undefined, fiber: undefined })
          queue.push(id, ops[i + 2], ops[i + 3], ops[i + 4])
          i += 5
          break
        }
        case Protocol.OP_CANCEL: {
          cancel(ops[i + 1] as number)
          i += 2
          break
        }
        case Protocol.OP_LIMIT_HEAP: {
          heapLimit = ops[i + 1] as number
          i += 2
          break
        }
        case Protocol.OP_PING: {
          // the liveness check: answered at once, ahead of any work, by a worker that still listens
          send([-1, Protocol.STATUS_PONG, ops[i + 1], 0], [])
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
    if (!drainScheduled) drain()
  }

  return {
    onMessage,
    /** Finalizes the modules' setup layers: called when the worker closes. */
    close: modules.close,
    /** Sends what is finished now: called when the worker exits, so a crash loses only unfinished work. */
    flush,
    /** The ids of the jobs received and not answered yet (after a `flush`, not even in a batch waiting to be sent). */
    held: (): Array<number> => Array.from(running.keys())
  }
}

