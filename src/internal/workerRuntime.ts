/**
 * The worker side of the pool: loads task modules, runs tasks, batches
 * replies, and is where cancellation lands inside the worker.
 *
 * Sync and Promise tasks run as plain calls (no fiber); an Effect task runs in
 * its own fiber. Tasks of one message run back to back, but the runtime yields
 * to the event loop every few milliseconds so that a `CANCEL` can arrive.
 *
 * The runtime loads no part of effect until it needs it: the first time a
 * task returns an Effect, or a module declares a setup layer. A worker whose
 * tasks are plain functions never loads it, and starts several times faster.
 *
 * @internal
 */
import type * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import { createRequire } from "node:module"
import * as Task from "../Task.ts"
import * as Protocol from "./protocol.ts"

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

interface Definition {
  readonly url: string
  readonly name: string
  fn: Task.TaskFunction | undefined
  errors: Task.ErrorCodec | undefined
  /** The services of the module's setup layer, for its Effect tasks. */
  context: Context.Context<unknown> | undefined
  loadError: Protocol.RemoteError | undefined
}

/** The parts of effect the runtime uses, loaded on first need by `fx`. */
interface EffectModules {
  readonly Cause: typeof Cause
  readonly Effect: typeof Effect
  readonly Exit: typeof Exit
  readonly Layer: typeof Layer
  readonly Scope: typeof Scope
}

let effectModules: EffectModules | undefined

/**
 * Loads effect's modules synchronously (`require` of an ES module), the first
 * time a task returns an Effect or a module declares a layer. They are the
 * instances the task module imported already, so this costs about a
 * millisecond then, and nothing in a worker that never runs an Effect.
 */
const fx = (): EffectModules => {
  if (effectModules === undefined) {
    const require = createRequire(import.meta.url)
    effectModules = {
      Cause: require("effect/Cause"),
      Effect: require("effect/Effect"),
      Exit: require("effect/Exit"),
      Layer: require("effect/Layer"),
      Scope: require("effect/Scope")
    }
  }
  return effectModules
}

/** `Effect.isEffect`, without loading effect: effect marks its values with this property. */
const isEffect = (u: unknown): u is Effect.Effect<unknown, unknown> =>
  ((typeof u === "object" && u !== null) || typeof u === "function") && "~effect/Effect" in u

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
  let loading: Promise<void> | undefined
  let drainScheduled = false
  let replies: Array<unknown> = []
  let lastFlush = performance.now()
  let flushScheduled = false
  /** When the current run of synchronous work began: past `SLICE_MS`, yield to the event loop. */
  let sliceStart = performance.now()
  let started = 0
  let cancelsRead = 0
  /** `LIMIT_HEAP`: past it, after a task, the worker asks to be replaced (once). */
  let heapLimit = Infinity
  /** `LOAD_TIMEOUT`: how long a task module (and its setup layer) may take to load. */
  let loadTimeoutMillis = 30_000
  void loadTimeoutMillis // (issue 9: the load timeout itself is being built)
  /** Where the modules' setup layers live (made with the first): closed when the worker closes. */
  let layerScope: Scope.Closeable | undefined
  /** Each module's setup layer, built once per worker (by module URL). */
  const setups = new Map<string, Promise<Context.Context<unknown>>>()
  const setup = (url: string, layer: Layer.Layer<unknown, unknown>) => {
    let built = setups.get(url)
    if (built === undefined) {
      const { Cause, Effect, Layer, Scope } = fx()
      layerScope ??= Effect.runSync(Scope.make())
      built = Effect.runPromiseExit(Layer.buildWithScope(layer, layerScope)).then((exit) => {
        if (exit._tag === "Success") return exit.value
        throw new Error(`its setup layer failed: ${Cause.pretty(exit.cause)}`)
      })
      setups.set(url, built)
    }
    return built
  }
  /** Whether the job at the head of the queue was counted as started (it may be waiting for its module). */
  let headStarted = false

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
    lastFlush = performance.now()
    try {
      send(batch, [])
    } catch {
      // one result could not be cloned: send them one by one, replacing the culprits
      for (let i = 0; i < batch.length; i += Protocol.REPLY_WIDTH) {
        const one = batch.slice(i, i + Protocol.REPLY_WIDTH)
        try {
          send(one, [])
        } catch (error) {
          send([one[0], Protocol.STATUS_UNCLONEABLE, describe(error).message, one[3]], [])
        }
      }
    }
  }

  const scheduleFlush = () => {
    if (flushScheduled) return
    flushScheduled = true
    queueMicrotask(flush)
  }

  const reply = (task: Running, status: Protocol.Status, payload: unknown, started: number) => {
    running.delete(task.id)
    if (task.cancelled) {
      status = Protocol.STATUS_CANCELLED
      payload = undefined
    }
    replies.push(task.id, status, payload, Math.round((performance.now() - started) * 1000))
  }

  const replyTransfer = (task: Running, value: Task.Transferred<unknown>, started: number) => {
    running.delete(task.id)
    flush()
    const micros = Math.round((performance.now() - started) * 1000)
    try {
      send([task.id, Protocol.STATUS_OK, value.value, micros], value.transfer)
    } catch (error) {
      send([task.id, Protocol.STATUS_UNCLONEABLE, describe(error).message, micros], [])
    }
  }

  /** A thrown error, a rejection or a defect: always a `TaskError` on the caller's side. */
  const replyThrown = (task: Running, error: unknown, started: number) =>
    reply(task, Protocol.STATUS_FAILED, describe(error), started)

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
   * failure fails the chunk.
   */
  const runTask = (task: Running, definition: Definition, mode: Protocol.Mode, payload: unknown) => {
    const started = performance.now()
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
      const { Cause } = fx()
      if (Cause.hasInterruptsOnly(exit.cause)) {
        if (task.cancelled) reply(task, Protocol.STATUS_CANCELLED, undefined, started)
        else replyThrown(task, new Error("the task's fiber was interrupted inside the worker"), started)
        return false
      }
      const failure = Cause.findErrorOption(exit.cause)
      if (failure._tag === "Some") replyFailure(task, definition, failure.value, started)
      else replyThrown(task, causeError(exit.cause), started)
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
        if (isEffect(result)) {
          const { Effect } = fx()
          const fiber = definition.context === undefined
            ? Effect.runFork(result)
            : Effect.runForkWith(definition.context)(result)
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
        if (isThenable(result)) {
          result.then((value) => {
            results[i] = value
            step(i + 1)
            scheduleFlush()
          }, (error) => {
            replyThrown(task, error, started)
            scheduleFlush()
          })
          return
        }
        results[i] = result
        if (!single && (i & 3) === 3 && i + 1 < items.length && performance.now() - sliceStart > SLICE_MS) {
          // a long chunk of sync items: let a CANCEL in, then go on where it stopped
          const next = i + 1
          setImmediate(() => {
            sliceStart = performance.now()
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
        if (Task.isTransferred(results[i])) results[i] = (results[i] as Task.Transferred<unknown>).value
      }
      reply(task, Protocol.STATUS_OK, results, started)
    }
    step(0)
  }

  // -- the queue -----------------------------------------------------------------

  const load = (definition: Definition): Promise<void> =>
    Promise.resolve()
      .then(() => Task.registry().get(definition.url) ?? options.importModule(definition.url))
      .then(() => {
        const entry = Task.registry().get(definition.url)
        if (entry === undefined) {
          throw new Error(
            `the module ${definition.url} does not declare its tasks with Task.module(import.meta.url, ...)`
          )
        }
        const fn = entry.functions[definition.name]
        if (typeof fn !== "function") {
          throw new Error(`the module ${definition.url} has no task named "${definition.name}"`)
        }
        definition.errors = entry.errors
        if (entry.layer === undefined) {
          definition.fn = fn
          return
        }
        return setup(definition.url, entry.layer).then((context) => {
          definition.context = context
          definition.fn = fn
        })
      })
      .catch((error) => {
        definition.loadError = describe(error, `could not load task module ${definition.url}: `)
      })

  const drain = (): void => {
    drainScheduled = false
    sliceStart = performance.now()
    while (head < queue.length) {
      if (loading !== undefined) return
      if (performance.now() - sliceStart > SLICE_MS) {
        drainScheduled = true
        setImmediate(drain)
        break
      }
      if (!headStarted) {
        // counted before its module loads: loading is part of running it
        headStarted = true
        options.publish.started(++started)
      }
      const id = queue[head] as number
      const definition = definitions.get(queue[head + 1] as number)!
      if (definition.fn === undefined && definition.loadError === undefined) {
        flush() // what finished already must not wait for the module
        loading = load(definition).then(() => {
          loading = undefined
          drain()
        })
        return
      }
      const mode = queue[head + 2] as Protocol.Mode
      const payload = queue[head + 3]
      queue[head + 3] = undefined
      head += 4
      headStarted = false
      const task = running.get(id)!
      if (task.cancelled) {
        reply(task, Protocol.STATUS_CANCELLED, undefined, performance.now())
      } else if (definition.loadError !== undefined) {
        reply(task, Protocol.STATUS_FAILED, definition.loadError, performance.now())
      } else {
        runTask(task, definition, mode, payload)
      }
      if (performance.now() - lastFlush > FLUSH_MS) flush()
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
    close: (): Promise<void> => {
      if (layerScope === undefined) return Promise.resolve()
      const { Effect, Exit, Scope } = fx()
      return Effect.runPromise(Scope.close(layerScope, Exit.void))
    },
    /** Sends what is finished now: called when the worker exits, so a crash loses only unfinished work. */
    flush,
    /** The ids of the jobs received and not answered yet (after a `flush`, not even in a batch waiting to be sent). */
    held: (): Array<number> => Array.from(running.keys())
  }
}

const isThenable = (u: unknown): u is PromiseLike<unknown> =>
  typeof u === "object" && u !== null && typeof (u as any).then === "function"

/** Reduces anything thrown to a name, a message and a stack, which always clone. Never throws. */
export const describe = (error: unknown, prefix = ""): Protocol.RemoteError => {
  try {
    return describeUnsafe(error, prefix)
  } catch {
    return { name: "NonErrorThrown", message: prefix + Object.prototype.toString.call(error), stack: undefined }
  }
}

const describeUnsafe = (error: unknown, prefix: string): Protocol.RemoteError => {
  if (error instanceof Error) {
    return {
      name: String(error.name),
      // an error with no message (e.g. an undeclared tagged error) is described by its fields
      message: prefix + (error.message !== "" ? String(error.message) : json(error)),
      stack: typeof error.stack === "string" ? error.stack : undefined
    }
  }
  return { name: "NonErrorThrown", message: prefix + (typeof error === "string" ? error : json(error)), stack: undefined }
}

const json = (value: unknown): string => {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

const causeError = (cause: Cause.Cause<unknown>): Error => {
  const { Cause } = fx()
  const squashed = Cause.squash(cause)
  if (squashed instanceof Error) return squashed
  const error = new Error(Cause.pretty(cause))
  error.name = "Defect"
  return error
}
