/**
 * In-memory workers for unit tests of the dispatcher's bookkeeping
 * (test/dispatcher.test.ts, the deaths accounting in test/faults/bounds.test.ts):
 * a slot that records every message posted to it, and reports what a test
 * says it has started.
 */
import type { Dispatcher } from "../src/internal/dispatcher.ts"
import * as Protocol from "../src/internal/protocol.ts"
import { type Job, makeSlot, type Slot } from "../src/internal/slot.ts"

/** An in-memory worker: records every message posted to it; `started` is how many jobs it says it began. */
export const fakeWorker = (dispatcher: Dispatcher, workerId: number) => {
  const posted: Array<Array<unknown>> = []
  const state: { started: number; running: number | undefined; cancelsRead: number } = {
    started: 0,
    running: undefined,
    cancelsRead: 0
  }
  const slot = makeSlot(workerId, (message) => {
    posted.push([...message]) // a copy, as postMessage makes: the dispatcher reuses its array
  }, () => ({ ...state }))
  dispatcher.addSlot(slot)
  dispatcher.markReady(slot)
  return { slot, posted, state, runIds: () => posted.flatMap(runIdsOf) }
}

export const runIdsOf = (message: ReadonlyArray<unknown>): Array<number> => {
  const ids: Array<number> = []
  for (let i = 0; i < message.length;) {
    if (message[i] === Protocol.OP_DEFINE) i += 4
    else if (message[i] === Protocol.OP_RUN) {
      ids.push(message[i + 1] as number)
      i += 5
    } else i += 2
  }
  return ids
}

export const reply = (dispatcher: Dispatcher, slot: Slot, job: Job, value: unknown, micros = 1) =>
  dispatcher.onReplies(slot, [job.id, Protocol.STATUS_OK, value, micros])

/** Lets the dispatcher's microtask run (it dispatches what was submitted in one). */
export const settle = () => new Promise<void>((resolve) => queueMicrotask(resolve))
