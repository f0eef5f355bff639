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
 *   that no call waits without bound behind async tasks that end after it;
 *   the dispatcher looks again while such a thread will soon be free (`Recheck`).
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
 *
 * `"soon"`: it would be, but the worker has not yet published that it started
 * what it was sent, or that it is done running one synchronously. It sends no
 * message when that changes, so the dispatcher looks again (`Recheck`).
 */
export const threadFree = (slot: Slot, job: Job): boolean | "soon" => {
  if (job.deaths > 0 || !slot.ready || slot.direct.length > 0 || slot.isolating) return false
  if (slot.inflight.size >= slot.maxInflight || (job.target === undefined && slot.budget <= 0)) return false
  if (slot.loading.has(job.task.url)) return false
  const progress = slot.progress()
  if (progress === undefined) return false
  for (const held of slot.inflight.values()) {
    if (held.mode !== Protocol.MODE_APPLY || held.cancelled || held.seq < 0) return false
    if (held.cost >= 0 && held.cost < TARGET_QUEUED_MICROS) return false
  }
  return progress.running !== undefined || progress.started < slot.sent ? "soon" : true
}

/** A worker whose thread is free for `job` (`threadFree`); `recheck` is asked to look again if one soon will be. */
export const freeThread = (slots: ReadonlyArray<Slot>, job: Job, recheck: Recheck): Slot | undefined => {
  for (const slot of slots) {
    const free = threadFree(slot, job)
    if (free === true) return slot
    if (free === "soon") recheck.needed = true
  }
  return undefined
}

/** The first and the longest wait (ms) between two looks at a worker that will soon have a free thread. */
export const RECHECK_MILLIS = { first: 1, most: 64 } as const

/**
 * Looks again, on a real-time timer (what it waits for is the worker's
 * thread, not the pool's `Clock`), while a queued job waits for a thread that
 * will soon be free: at once, then backing off to `RECHECK_MILLIS.most` while
 * that thread stays busy (a long synchronous run). It stops when no job waits
 * so, and the pool is never kept alive beyond one wait.
 */
export class Recheck {
  /** Set during a dispatch that left a job waiting for a thread that will soon be free. */
  needed = false
  private timer: ReturnType<typeof setTimeout> | undefined
  private delay: number = RECHECK_MILLIS.first

  private readonly dispatch: () => void

  constructor(dispatch: () => void) {
    this.dispatch = dispatch
  }

  /** Called at the end of a dispatch: schedules the next look if one is needed. */
  settle(): void {
    if (!this.needed) {
      this.delay = RECHECK_MILLIS.first
      return
    }
    this.needed = false
    if (this.timer !== undefined) return
    const delay = this.delay
    this.delay = Math.min(delay * 2, RECHECK_MILLIS.most)
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.dispatch()
    }, delay)
  }
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
