/**
 * The file every pool worker starts (a worker thread or a child process).
 *
 * It speaks the runner side of effect's worker protocol (what
 * `@effect/platform-node`'s `NodeWorkerRunner` does, which the pool's side,
 * effect's `Worker` over `NodeWorker`, expects), hands each message to the
 * worker runtime, and exits as soon as the pool asks it to close, whatever
 * handles a task module left open.
 *
 * It does so without loading effect: loading effect is most of a worker's
 * start-up, and a worker whose tasks are plain functions never needs it (the
 * runtime loads it when a task returns an Effect or a module declares a layer).
 * The protocol, as in effect's `WorkerRunner` / `NodeWorkerRunner`:
 * - worker → pool: `[0]` once, when the worker listens (ready), then
 *   `[1, message]` for each message;
 * - pool → worker: `[0, message]` for each message, `[1]` to close.
 *
 * It also counts the messages it sends, keeps a thread worker's batches until
 * the pool has read them, and answers `RESEND` (see "Lost messages" in
 * protocol.ts); a process worker that exits says how many jobs it started.
 *
 * @internal
 */
import { AsyncLocalStorage } from "node:async_hooks"
import * as Module from "node:module"
import type * as V8 from "node:v8"
import * as WorkerThreads from "node:worker_threads"
import { whileLoading } from "./loadingModule.ts"
import type { ThreadData } from "./nodeThreads.ts"
import * as Protocol from "./protocol.ts"
import * as WorkerRuntime from "./workerRuntime.ts"
import * as WorkerUnread from "./workerUnread.ts"
import * as WorkerWait from "./workerWait.ts"
import { bundled, describe } from "./workerValues.ts"

// What the worker talks to the pool with, captured before any task module runs: a task that replaces
// `parentPort.postMessage` or `process.send`, or patches a builtin the entry calls, does not cut the worker
// off from the pool. (The runtime captures the globals it calls itself: see workerValues.ts.)
const parentPort = WorkerThreads.parentPort
const postMessage = parentPort?.postMessage.bind(parentPort)
const processSend = process.send?.bind(process)
const exit = process.exit.bind(process)
const atomicsStore = Atomics.store
const getBuiltinModule = process.getBuiltinModule
/**
 * `v8.getHeapStatistics`, for a worker given a heap limit (`LIMIT_HEAP`, which
 * the pool sends before any job): loading `node:v8` costs a worker without one
 * over a millisecond of its start-up.
 */
let heapStatistics: typeof V8.getHeapStatistics | undefined
const loadHeapStatistics = () => getBuiltinModule("node:v8").getHeapStatistics

// The pool turned Node's compile cache on for this worker (see `workerEnv` in
// nodeThreads.ts): it is on from here, and tasks see the environment they were given.
if (process.env[Protocol.COMPILE_CACHE_MARKER] !== undefined) {
  delete process.env.NODE_COMPILE_CACHE
  delete process.env[Protocol.COMPILE_CACHE_MARKER]
}

// A task module imports the package for `Task.module`: give it the worker's
// index (see workerIndex.ts), which loads nothing more, rather than the real
// one, which loads the whole pool and most of effect. Only this copy's own
// index (by URL) is swapped; anything else resolves as usual. Not in a bundle:
// there the task modules' imports were resolved when it was built.
const extension = import.meta.url.endsWith(".ts") ? ".ts" : ".js"
const packageIndex = new URL(`../index${extension}`, import.meta.url).href
const workerIndex = new URL(`./workerIndex${extension}`, import.meta.url).href
/** A task module has imported effect: a preload then readies the runtime's effect too (see `WorkerModules.warm`). */
let effectImported = false
if (!bundled) {
  Module.registerHooks?.({
    resolve: (specifier, context, nextResolve) => {
      const resolved = nextResolve(specifier, context)
      if (!effectImported && resolved.url.includes("/node_modules/effect/")) effectImported = true
      return resolved.url === packageIndex ? { ...resolved, url: workerIndex } : resolved
    }
  })
}

const fail = (message: string, cause?: unknown): never => {
  console.error(`effect-multiprocessing worker failed: ${message}`, ...(cause === undefined ? [] : [cause]))
  return exit(1)
}

if (postMessage === undefined && processSend === undefined) fail("not in a worker (no parentPort, no IPC channel)")

/** Shared with the pool by a thread worker: how many of this worker's messages the pool has read (see `ThreadData`). */
const received = (WorkerThreads.workerData as ThreadData | undefined)?.received

/** How many messages this worker has sent: the pool counts them too (see "Lost messages" in protocol.ts). */
let sent = 0

/** A thread worker's batches the pool may not have read yet, to send again on `RESEND`. */
const unread = received === undefined ? undefined : WorkerUnread.make(received)

/**
 * Sends one message in effect's envelope (`[1, message]`; `[0]` alone is the
 * ready signal), counting it; a thread worker keeps a batch of replies (`keep`,
 * without transfers) until the pool has read it.
 */
const sendRaw: (message: ReadonlyArray<unknown>, transfers?: ReadonlyArray<unknown>, keep?: boolean) => void =
  postMessage !== undefined
    ? (message, transfers, keep = true) => {
      postMessage(message, transfers as Array<WorkerThreads.Transferable>)
      const seq = sent++
      const transferred = transfers !== undefined && transfers.length > 0
      if (unread === undefined || !keep || message[0] !== 1 || transferred) return
      unread.keep(seq, message[1] as ReadonlyArray<unknown>)
    }
    : (message) => {
      processSend!(message)
      sent++
    }

/**
 * `RESEND seq`: sends again, one reply per message, the replies of this
 * worker's message `seq` (if it kept them; not a progress update), then `STATUS_RESENT` with the jobs
 * it still holds, once every finished reply is sent.
 */
const resend = (seq: number) => {
  runtime.flush()
  const replies = unread?.take(seq)
  for (let i = 0; replies !== undefined && i < replies.length; i += Protocol.REPLY_WIDTH) {
    const one = replies.slice(i, i + Protocol.REPLY_WIDTH)
    // a lost progress update stays lost: its task may have answered since (an update after that would be a fault)
    if (one[1] === Protocol.STATUS_TASK_PROGRESS) continue
    try {
      sendRaw([1, one], [], false)
    } catch (error) {
      sendRaw([1, [one[0], Protocol.STATUS_UNCLONEABLE, describe(error).message, one[3]]], [], false)
    }
  }
  sendRaw([1, [-1, Protocol.STATUS_RESENT, [seq, runtime.held()], 0]], [], false)
}

/** A process worker's count of the jobs it has started, for its exit report (a thread's is in shared memory). */
let startedCount = 0

const storage = new AsyncLocalStorage<WorkerRuntime.Running>()
const storageRun: WorkerRuntime.TaskContextStore["run"] = storage.run.bind(storage)
const storageGet = storage.getStore.bind(storage)
// shared with the pool: how many jobs this worker has started, and which one holds the thread now
const progress = (WorkerThreads.workerData as ThreadData | undefined)?.progress
const runtime = WorkerRuntime.make({
  send: (message, transfers) => {
    sendRaw([1, message], transfers)
    if (waiter !== undefined && runtime.idle()) waiter.onIdle()
  },
  publish: progress === undefined
    ? {
      // a child process: no shared memory; the pool sends it one job at a time and learns of CANCELs read by message
      started: (count) => {
        startedCount = count
      },
      running: () => {},
      cancelsRead: (count) => sendRaw([1, [-1, Protocol.STATUS_PROGRESS, count, 0]])
    }
    : {
      started: (count) => atomicsStore(progress, 0, count),
      running: (id) => atomicsStore(progress, 1, id === undefined ? 0 : Protocol.runningSlot(id)),
      cancelsRead: (count) => atomicsStore(progress, 2, count)
    },
  store: { run: storageRun, get: storageGet },
  importModule: (url) => whileLoading(url, () => import(url)),
  // in a bundle, the runtime's effect is the bundle's: readying it costs nothing worth saving
  effectImported: () => effectImported,
  heapUsed: () => (heapStatistics ??= loadHeapStatistics())().used_heap_size
})

// a task that exits the worker, or throws where nothing catches it, must not take finished results with it;
// a process worker then says how many jobs it started: the pool runs those it had not elsewhere
process.on("exit", () => {
  runtime.flush()
  if (parentPort === null && !closing && process.connected) {
    try {
      sendRaw([1, [-1, Protocol.STATUS_STARTED, startedCount, 0]])
    } catch {
      // the channel is gone: the pool counts every job it sent as started
    }
  }
})

let closing = false

const onMessage = (message: readonly [0, Array<unknown>] | readonly [1]) => {
  if (closing) return
  if (message[0] === 0) {
    const ops = message[1]
    // the pool posts RESEND on its own (see "Lost messages" in protocol.ts)
    if (ops[0] === Protocol.OP_RESEND) resend(ops[1] as number)
    else {
      // loaded now, before any task module can patch it
      if (ops[0] === Protocol.OP_LIMIT_HEAP) heapStatistics ??= loadHeapStatistics()
      runtime.onMessage(ops)
    }
    waiter?.onMessage()
    return
  }
  // [1]: close. Stop listening, finalize the task modules' setup layers, exit.
  closing = true
  waiter?.stop()
  if (parentPort !== null) {
    parentPort.off("message", onMessage)
    parentPort.close()
  } else {
    process.off("message", onMessage)
    process.channel?.unref()
  }
  // awaited, not `.then`: a task may have patched `Promise.prototype.then`
  void (async () => {
    try {
      await runtime.close()
    } catch (cause) {
      fail("a setup layer could not be finalized", cause)
    }
    exit(0)
  })()
}

/**
 * A thread worker with a doorbell (`Backend.Options.fastWakeup`): once idle, it waits for the pool's next
 * message in `Atomics.wait` and takes it from its port as soon as the pool rings (see workerWait.ts).
 */
const doorbell = (WorkerThreads.workerData as ThreadData | undefined)?.doorbell
const waiter = parentPort === null || doorbell === undefined ? undefined : WorkerWait.make({
  bell: doorbell,
  port: parentPort,
  deliver: (message) => onMessage(message as readonly [0, Array<unknown>] | readonly [1]),
  unreadable: (cause) => fail("could not read a message: a messageerror, on the fast wake-up path", cause),
  idle: () => runtime.idle()
})

if (parentPort !== null) {
  parentPort.on("message", onMessage)
  parentPort.on("messageerror", (cause) => fail("received a messageerror event", cause))
  parentPort.on("error", (cause) => fail("received an error event", cause))
} else {
  process.on("message", onMessage)
  // A forked worker whose parent is gone (even killed by SIGKILL) exits instead of living on as an orphan.
  process.on("disconnect", () => process.exit(0))
}

// ready: the pool sends the messages it buffered, and counts this worker as started
sendRaw([0])

// Every task module imports the package index (for `Task.module`): the worker's index is loaded now, while
// the pool readies its other workers, rather than by the first call (it loads no effect, see workerIndex.ts).
// Its first message is handled once this import has read its files, as it would be with the index imported by
// that call's module.
if (!bundled) import(workerIndex).catch(() => {})
