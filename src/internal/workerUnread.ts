/**
 * A thread worker's record of the reply batches the pool may not have read
 * yet, so that it can send one again on `RESEND` (see "Lost messages" in
 * protocol.ts). The pool publishes in shared memory how many of the worker's
 * messages it has read (`ThreadData.received`); a batch is dropped once the
 * pool has read it. A process worker keeps none: it holds one job at a time,
 * so a lost message loses only that job's reply.
 *
 * @internal
 */
import { setTimeoutOriginal } from "./workerValues.ts"

/** How often, while some batches are kept, the worker drops those the pool has read (an idle worker sends nothing that would). */
const PRUNE_MS = 20

export interface Unread {
  /** Keeps the replies of this worker's message `seq` until the pool has read it. */
  readonly keep: (seq: number, replies: ReadonlyArray<unknown>) => void
  /** The replies of message `seq`, if kept (and not read by the pool since): they are no longer kept. */
  readonly take: (seq: number) => ReadonlyArray<unknown> | undefined
}

export const make = (received: Int32Array): Unread => {
  let unread: Array<{ readonly seq: number; readonly replies: ReadonlyArray<unknown> }> = []
  let head = 0
  let timer: ReturnType<typeof setTimeout> | undefined

  const prune = () => {
    const read = Atomics.load(received, 0)
    while (head < unread.length && unread[head].seq < read) head++
    if (head === unread.length) {
      unread = []
      head = 0
    } else if (head > 64 && head * 2 > unread.length) {
      unread = unread.slice(head)
      head = 0
    }
  }

  const schedulePrune = () => {
    if (timer !== undefined) return
    timer = setTimeoutOriginal(() => {
      timer = undefined
      prune()
      if (head < unread.length) schedulePrune()
    }, PRUNE_MS)
    timer.unref()
  }

  return {
    keep: (seq, replies) => {
      prune()
      unread.push({ seq, replies })
      schedulePrune()
    },
    take: (seq) => {
      prune()
      const index = unread.findIndex((entry, i) => i >= head && entry.seq === seq)
      if (index < 0) return undefined
      const { replies } = unread[index]
      unread.splice(index, 1)
      return replies
    }
  }
}
