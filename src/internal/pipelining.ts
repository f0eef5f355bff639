/**
 * How much work a busy worker may hold besides what it runs, and how a
 * worker's share goes out in messages: the rules the dispatcher
 * (dispatcher.ts) applies once no idle worker is left for a job.
 *
 * - The window: small jobs whose estimated cost fits `TARGET_QUEUED_MICROS`
 *   are pipelined, many to a message.
 * - Chunks: a thread worker holds `CHUNKS_IN_FLIGHT` chunks whatever their
 *   cost (`chunkMayWait`), so that the next is copied to it while it computes;
 *   each large one travels in a message of its own (`messagesInOrder`).
 * - A free thread: a job no worker has room for goes to a worker that has
 *   started every call it holds and runs none synchronously (`threadFree`), so
 *   that no call waits without bound behind async tasks that end after it.
 *
 * @internal
 */
import * as Protocol from "./protocol.ts"
import type { Job, Slot } from "./slot.ts"

/** Estimated work (µs) a worker may have queued before it counts as full. */
export const TARGET_QUEUED_MICROS = 2000

/**
 * How many chunks (`map`, `starmap`, `imap`) a worker may hold whatever their
 * estimated cost: the next one waits in the worker while it computes the
 * first, so the caller sends it (and reads the results of the one before)
 * meanwhile, and the worker never waits for the caller.
 */
export const CHUNKS_IN_FLIGHT = 2

/** A chunk of at least this many items is posted in a message of its own (see `messagesInOrder`). */
export const LARGE_CHUNK_ITEMS = 256

/**
 * Every worker the pool runs (`poolSize`; 0: as many as there are) is ready
 * to take shared jobs: none is starting, being replaced or retiring. Until
 * then, a chunk waits for the worker to come rather than behind another chunk
 * (chunks that wait for each other, a barrier, need a worker each).
 */
export const isComplete = (slots: ReadonlyArray<Slot>, poolSize: number): boolean => {
  let ready = 0
  for (const slot of slots) if (slot.ready && slot.budget > 0) ready++
  return ready > 0 && ready >= poolSize
}

/** `job` fits `slot`'s window of estimated work. */
export const fitsWindow = (slot: Slot, job: Job): boolean =>
  job.cost >= 0 && slot.queuedMicros + job.cost <= TARGET_QUEUED_MICROS

/**
 * `job` is a chunk that may wait in `slot` behind the one chunk it holds
 * (not cancelled), whatever their cost. The caller checks the rest: the
 * worker's budget, its module loading, and that the pool is complete.
 */
export const chunkMayWait = (slot: Slot, job: Job): boolean => {
  if (job.mode === Protocol.MODE_APPLY || job.deaths > 0 || slot.inflight.size >= CHUNKS_IN_FLIGHT) return false
  for (const held of slot.inflight.values()) {
    if (held.mode === Protocol.MODE_APPLY || held.cancelled) return false
  }
  return true
}

/**
 * The thread of `slot` is free for `job` now: a thread worker that has
 * started every job it holds (single calls already posted, long or not
 * measured yet, none of them cancelled) and runs none synchronously, so that
 * what it holds waits on something else (I/O, a timer, a signal). A worker
 * that holds short calls answers them soon, and gets more then; a process
 * shares no progress (and runs one task at a time); a job that has seen a
 * worker die goes to an idle worker only.
 */
export const threadFree = (slot: Slot, job: Job): boolean => {
  if (job.deaths > 0 || !slot.ready || slot.direct.length > 0 || slot.isolating) return false
  if (slot.inflight.size >= slot.maxInflight || (job.target === undefined && slot.budget <= 0)) return false
  if (slot.loading.has(job.task.url)) return false
  const progress = slot.progress()
  if (progress === undefined || progress.running !== undefined || progress.started < slot.sent) return false
  for (const held of slot.inflight.values()) {
    if (held.mode !== Protocol.MODE_APPLY || held.cancelled || held.seq < 0) return false
    if (held.cost >= 0 && held.cost < TARGET_QUEUED_MICROS) return false
  }
  return true
}

/** A chunk large enough to travel in a message of its own. */
export const isLarge = (job: Job): boolean => job.mode !== Protocol.MODE_APPLY && job.items >= LARGE_CHUNK_ITEMS

/**
 * The messages to post for each worker's share, in the order to post them:
 * each large chunk alone (the worker starts on it without waiting for the rest
 * to be copied, and a message costs nothing next to it), the jobs between
 * them together; the first message of every worker first, then the second of
 * every worker, and so on.
 */
export const messagesInOrder = (
  batches: ReadonlyMap<Slot, ReadonlyArray<Job>>
): Array<readonly [Slot, ReadonlyArray<Job>]> => {
  const queues = Array.from(batches, ([slot, batch]) => [slot, messagesOf(batch)] as const)
  const order: Array<readonly [Slot, ReadonlyArray<Job>]> = []
  for (let round = 0, more = true; more; round++) {
    more = false
    for (const [slot, messages] of queues) {
      if (round < messages.length) order.push([slot, messages[round]])
      more ||= round + 1 < messages.length
    }
  }
  return order
}

/** A worker's share split in messages, in order: each large chunk alone, the jobs between them together. */
const messagesOf = (batch: ReadonlyArray<Job>): Array<Array<Job>> => {
  const messages: Array<Array<Job>> = []
  let small: Array<Job> | undefined
  for (const job of batch) {
    if (isLarge(job)) {
      small = undefined
      messages.push([job])
    } else if (small === undefined) {
      small = [job]
      messages.push(small)
    } else {
      small.push(job)
    }
  }
  return messages
}
