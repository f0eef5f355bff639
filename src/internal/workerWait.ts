/**
 * The worker side of the doorbell (see doorbell.ts): an idle thread worker
 * waits for its next message in `Atomics.wait`, a few milliseconds at a time,
 * and takes it from its port (`receiveMessageOnPort`) as soon as the pool
 * rings, without waiting for its event loop to wake.
 *
 * It waits only when nothing asynchronous is pending in the worker, so that
 * tasks and their timers behave exactly as without it: the worker holds no
 * job (no async task, no task waiting for its module), and Node reports no
 * live resource besides the worker's port (`process.getActiveResourcesInfo()`:
 * no timer or immediate, no I/O, no module loading — a load has its timeout
 * timer — no other port). It waits from a `setImmediate` callback, once the
 * event loop has run what was due and the microtasks have drained; after each
 * message it returns to the event loop (microtasks, I/O, timers the message
 * started) and waits again only if the worker is still idle.
 *
 * Bounds:
 * - each wait lasts at most `WAIT_MS`, then the event loop turns: what the
 *   check cannot see (an unref'd timer, a signal, the inspector) runs at most
 *   that late;
 * - a worker waits again after a timeout only within `WINDOW_MS` of its last
 *   message or reply; after that it waits in its event loop as usual, until its next
 *   message (which pays the ordinary wake-up) starts the fast path again;
 * - `worker.terminate()` interrupts `Atomics.wait` at once, so a parked
 *   worker is killed as promptly as any other.
 *
 * @internal
 */
import * as WorkerThreads from "node:worker_threads"
import { DOORBELL_PARKED, DOORBELL_RINGS } from "./protocol.ts"
import { now, setImmediateOriginal } from "./workerValues.ts"

// captured before any task module runs (see workerValues.ts)
const atomicsLoad = Atomics.load
const atomicsStore = Atomics.store
const atomicsWait = Atomics.wait
const activeResources = process.getActiveResourcesInfo.bind(process)
const receiveMessageOnPort = WorkerThreads.receiveMessageOnPort

/** How long one wait lasts at most (ms). */
export const WAIT_MS = 4
/** How long after its last message (or reply) an idle worker keeps waiting in `Atomics.wait` (ms). */
export const WINDOW_MS = 250

/** A worker's waiter. */
export interface Waiter {
  /** A message came by the event loop: wait for the next one once idle. */
  readonly onMessage: () => void
  /** The worker may have become idle (it sent a reply and holds no job): wait for the next message if so. */
  readonly onIdle: () => void
  /** No more waiting (the worker closes). */
  readonly stop: () => void
}

/** Whether Node reports nothing live in this thread but its port to the pool. */
const quiet = (): boolean => {
  const resources = activeResources()
  return resources.length === 1 && resources[0] === "MessagePort"
}

export const make = (options: {
  /** The doorbell (see doorbell.ts; its cells are named in protocol.ts). */
  readonly bell: Int32Array
  /** The worker's port to the pool (`parentPort`). */
  readonly port: WorkerThreads.MessagePort
  /** Handles one message from the pool, as the port's `message` listener does. */
  readonly deliver: (message: unknown) => void
  /** A message that could not be read. */
  readonly unreadable: (cause: unknown) => void
  /** Whether the worker holds no job. */
  readonly idle: () => boolean
}): Waiter => {
  const { bell, deliver, port } = options
  let scheduled = false
  let stopped = false
  // when the worker last received a message or sent a reply
  let lastActive = now()

  const take = (): { readonly message: unknown } | undefined => {
    try {
      return receiveMessageOnPort(port)
    } catch (cause) {
      options.unreadable(cause)
      return undefined
    }
  }

  const park = (): void => {
    scheduled = false
    if (stopped || !options.idle() || !quiet()) return
    const seen = atomicsLoad(bell, DOORBELL_RINGS)
    let taken = take()
    if (taken === undefined && !stopped) {
      atomicsStore(bell, DOORBELL_PARKED, 1)
      atomicsWait(bell, DOORBELL_RINGS, seen, WAIT_MS)
      atomicsStore(bell, DOORBELL_PARKED, 0)
      taken = take()
    }
    if (taken !== undefined) {
      lastActive = now()
      deliver(taken.message)
      // back to the event loop (what the message started runs), then wait again if still idle
      schedule()
      return
    }
    if (now() - lastActive < WINDOW_MS) schedule()
  }

  const schedule = (): void => {
    if (scheduled || stopped) return
    scheduled = true
    setImmediateOriginal(park)
  }

  return {
    onMessage: () => {
      lastActive = now()
      schedule()
    },
    onIdle: () => {
      lastActive = now()
      schedule()
    },
    stop: () => {
      stopped = true
    }
  }
}
