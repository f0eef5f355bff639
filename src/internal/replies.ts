/**
 * The reply side of the dispatcher: where a worker's replies settle the jobs
 * it holds, where its notices (progress, heap, the count it started, the
 * answer to a `RESEND`, the spans and logs of its tasks) are recorded on its `Slot`, and where the jobs answered
 * in a message the pool could not read are found and failed (see "Lost
 * messages" in protocol.ts). Each reply is checked at the boundary before it
 * is used (boundary.ts).
 *
 * What follows a batch (refilling the worker, retiring it) is the
 * dispatcher's (`Dispatcher.onReplies`).
 *
 * @internal
 */
import * as Exit from "effect/Exit"
import * as Boundary from "./boundary.ts"
import * as CallerLogs from "./callerLogs.ts"
import type { Dispatcher } from "./dispatcher.ts"
import * as Protocol from "./protocol.ts"
import { learnCost, type Slot } from "./slot.ts"
import * as Tracing from "./tracing.ts"

export class Replies {
  /** Workers with messages the pool could not read, until they answer every `RESEND` (see protocol.ts). */
  private readonly lost = new Map<Slot, Boundary.Lost>()
  private readonly dispatcher: Dispatcher

  constructor(dispatcher: Dispatcher) {
    this.dispatcher = dispatcher
  }

  /**
   * Reads a batch of replies, in order: the jobs they answer are taken off
   * the worker, and each with its outcome pushed on `answered` (`job, exit`,
   * flat), for the dispatcher to settle once it has refilled the worker. At
   * the first reply that breaks the protocol the rest is ignored, and what is
   * wrong is returned; the replies before it count.
   */
  read(slot: Slot, replies: ReadonlyArray<unknown>, answered: Array<unknown>): string | undefined {
    const totals = this.dispatcher.totals
    let wrong = Boundary.checkReplies(replies, slot.inflight.size)
    for (let i = 0; wrong === undefined && i < replies.length; i += Protocol.REPLY_WIDTH) {
      const status = replies[i + 1] as Protocol.Status
      const job = status <= Protocol.STATUS_CANCELLED || status === Protocol.STATUS_TASK_PROGRESS
        ? slot.inflight.get(replies[i] as number)
        : undefined
      wrong = Boundary.checkReply(replies, i, job?.task.errors, slot.cancelsSent, slot.sent, job?.watch !== undefined)
      if (wrong !== undefined) break
      if (job === undefined) {
        wrong = this.onNotice(slot, status, replies[i + 2])
        continue
      }
      if (status === Protocol.STATUS_TASK_PROGRESS) {
        // a progress update, checked: to its caller, unless it gave up (see progress.ts)
        if (!job.cancelled) job.watch!.onProgress(replies[i + 2])
        continue
      }
      this.dispatcher.release(slot, job)
      slot.answered.add(job.task.url)
      slot.completed++
      const micros = replies[i + 3] as number
      const ran = micros / 1000
      totals.runs++
      totals.runMillis += ran
      if (ran > totals.maxRunMillis) totals.maxRunMillis = ran
      // a reply is the only way a job succeeds: counted here, its failures where it is settled
      this.dispatcher.metrics.run(job.kind.key, job.task, ran, status === Protocol.STATUS_OK && !job.cancelled)
      // only complete runs say what the task costs (a cancelled or failed one stopped early)
      if (status === Protocol.STATUS_OK) learnCost(job, micros)
      if (job.traced !== undefined) Tracing.answered(job, slot.workerId, micros)
      if (!job.cancelled) answered.push(job, Boundary.decode(job.task, status, replies[i + 2]))
    }
    return wrong
  }

  /** A reply about no task (its id is -1), already checked; returns what is wrong with it, if anything. */
  private onNotice(slot: Slot, status: Protocol.Status, payload: unknown): string | undefined {
    switch (status) {
      case Protocol.STATUS_PROGRESS:
        slot.cancelsReported = payload as number
        return undefined
      case Protocol.STATUS_OVER_HEAP:
        slot.budget = 0 // maxHeapPerWorkerMb: it takes nothing more, and is replaced once it has answered
        this.dispatcher.events.heapOver(slot)
        return undefined
      case Protocol.STATUS_STARTED:
        slot.startedReported = payload as number
        return undefined
      case Protocol.STATUS_PONG:
        if ((payload as number) > slot.pong) slot.pong = payload as number
        return undefined
      case Protocol.STATUS_RESENT:
        return this.onResent(slot, payload as readonly [number, ReadonlyArray<number>])
      case Protocol.STATUS_SPANS:
        Tracing.deliver(slot.inflight, slot.workerId, payload as readonly [number, ReadonlyArray<Protocol.WireSpan>])
        return undefined
      case Protocol.STATUS_LOGS:
        CallerLogs.deliver(slot.inflight, slot.workerId, payload as ReadonlyArray<Protocol.WireLog>)
        return undefined
      default:
        return undefined
    }
  }

  /**
   * The pool could not read a worker's message number `seq`: ask the worker
   * to send its replies again and say which jobs it still holds (see "Lost
   * messages" in protocol.ts).
   */
  onUnreadable(slot: Slot, seq: number, error: unknown): void {
    let lost = this.lost.get(slot)
    if (lost === undefined) {
      lost = { pending: 0, sentBefore: 0, reason: Boundary.errorMessage(error) }
      this.lost.set(slot, lost)
    }
    try {
      slot.post([Protocol.OP_RESEND, seq], [])
      lost.pending++
      lost.sentBefore = slot.sent
    } catch {
      // the worker is gone; its exit settles the slot
    }
  }

  /**
   * The answer to a `RESEND`, after the replies sent again. Once every `RESEND`
   * is answered, a job sent before the last one that the worker no longer
   * holds, and that no reply has settled, was answered in a message the pool
   * could not read: it fails with `SerializationError`.
   */
  private onResent(slot: Slot, [, held]: readonly [number, ReadonlyArray<number>]): string | undefined {
    const lost = this.lost.get(slot)
    if (lost === undefined) return "it answered a RESEND it was not sent"
    if (--lost.pending > 0) return undefined
    this.lost.delete(slot)
    const holds = new Set(held)
    const gone = Array.from(slot.inflight.values()).filter((job) =>
      job.seq >= 0 && job.seq < lost.sentBefore && !holds.has(job.id)
    )
    for (const job of gone) {
      this.dispatcher.release(slot, job)
      slot.completed++
      this.dispatcher.settle(job, Exit.fail(Boundary.unreadable(job.task, lost.reason)))
    }
    return undefined
  }

  /** Forgets a worker that is gone: its unanswered `RESEND`s no longer matter. */
  forget(slot: Slot): void {
    this.lost.delete(slot)
  }
}
