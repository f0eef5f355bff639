/**
 * The worker's replies: `reply` batches a finished job's result and `flush`
 * sends the batch in one message (`scheduleFlush`: before the worker returns
 * to its event loop). A batch that cannot be cloned is sent one reply at a
 * time, the culprits replaced by an uncloneable error; `flush` also adds the
 * worker's request to be replaced once its heap is over `LIMIT_HEAP`. A
 * `Task.transfer` result goes out at once, with its transfer list
 * (`replyTransfer`). Effect is loaded only to read an Effect task's failure
 * (`replyCause`, through `fx()`), which has loaded it already.
 *
 * @internal
 */
import type * as Cause from "effect/Cause"
import * as Task from "../Task.ts"
import * as ProgressWorker from "./progressWorker.ts"
import * as Protocol from "./protocol.ts"
import type { Definition } from "./workerModules.ts"
import type { Running, Shared } from "./workerRuntime.ts"
import * as WorkerTracing from "./workerTracing.ts"
import { causeError, describe, fx, now, queueMicrotaskOriginal, uncloneable } from "./workerValues.ts"

/** The replies of one worker. */
export type Replies = ReturnType<typeof make>

export const make = (shared: Shared, heapUsed: () => number) => {
  const { running, send } = shared
  let replies: Array<unknown> = []
  let flushScheduled = false

  /** Sends what is finished now, in one message. */
  const flush = () => {
    flushScheduled = false
    if (replies.length === 0 && shared.spans.length === 0 && shared.logs.length === 0) return
    const batch = replies
    replies = []
    // spans and logs ahead of the replies: the pool still holds the jobs they are about
    if (shared.spans.length > 0) batch.unshift(-1, Protocol.STATUS_SPANS, [now(), shared.spans.splice(0)], 0)
    if (shared.logs.length > 0) batch.unshift(-1, Protocol.STATUS_LOGS, shared.logs.splice(0), 0)
    if (shared.heapLimit !== Infinity) {
      const used = heapUsed()
      if (used > shared.heapLimit) {
        shared.heapLimit = Infinity
        batch.unshift(-1, Protocol.STATUS_OVER_HEAP, used, 0)
      }
    }
    shared.lastFlush = now()
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
    if (task.watch !== undefined) ProgressWorker.beforeReply(task)
    running.delete(task.id)
    if (task.cancelled) {
      status = Protocol.STATUS_CANCELLED
      payload = undefined
    }
    if (task.observe !== undefined) WorkerTracing.ended(shared, task.id, task.observe, status, payload, started)
    replies.push(task.id, status, payload, Math.round((now() - started) * 1000))
    if (task.observe !== undefined && shared.spans.length >= WorkerTracing.MAX_WAITING) flush()
  }

  const replyTransfer = (task: Running, value: Task.Transferred<unknown>, started: number) => {
    if (task.watch !== undefined) ProgressWorker.beforeReply(task)
    running.delete(task.id)
    if (task.observe !== undefined) {
      WorkerTracing.ended(shared, task.id, task.observe, Protocol.STATUS_OK, undefined, started)
    }
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

  /** An Effect task's failure: cancelled, interrupted inside the worker, a typed failure, or a defect. */
  const replyCause = (task: Running, definition: Definition, cause: Cause.Cause<unknown>, started: number) => {
    try {
      const { Cause } = fx()
      if (Cause.hasInterruptsOnly(cause)) {
        if (task.cancelled) reply(task, Protocol.STATUS_CANCELLED, undefined, started)
        else replyThrown(task, new Error("the task's fiber was interrupted inside the worker"), started)
        return
      }
      const failure = Cause.findErrorOption(cause)
      if (failure._tag === "Some") replyFailure(task, definition, failure.value, started)
      else replyThrown(task, causeError(cause), started)
    } catch (error) {
      // the failure holds a value that throws when looked at (a revoked Proxy, a throwing getter)
      replyThrown(task, error, started, "the task's failure could not be inspected: ")
    }
  }

  /** Answers a task whose items have all succeeded: its value, or a chunk's array of values. */
  const replyResults = (task: Running, single: boolean, results: Array<unknown>, started: number) => {
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

  return { flush, scheduleFlush, reply, replyTransfer, replyThrown, replyFailure, replyCause, replyResults }
}
