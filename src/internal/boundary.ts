/**
 * The boundary: the one place where what a worker sends is decoded and
 * checked before the pool acts on it.
 *
 * A worker runs the user's code, which can post anything on the pool's channel
 * (`parentPort.postMessage(null)`, `process.send([1, null])`, a reply whose
 * payload is not what its status says). Nothing it sends may throw in the
 * pool: a message that is not a well-formed protocol message makes the worker
 * faulty, and the pool replaces it (see `Supervisor`); exactly the tasks it
 * held fail with `WorkerCrashed`, whose message says what it sent. Replies
 * before the bad one are used as usual.
 *
 * The checks are cheap and done where a message is decoded, with no schema:
 * the envelope (`receive`, called by the backends for every message), then
 * each reply (`checkReplies` and `checkReply`, called by the dispatcher's
 * reply side, replies.ts, before it trusts a reply's fields), and what a checked reply means for its caller
 * (`decode`). Everything that arrives went through a
 * structured clone (threads) or Node's advanced serialization (processes): it
 * is plain data, with no getters or proxies, so reading it cannot run code.
 *
 * @internal
 */
import * as Exit from "effect/Exit"
import { SerializationError, TaskError } from "../PoolError.ts"
import type * as Task from "../Task.ts"
import * as Protocol from "./protocol.ts"

/** What a backend does with each message of a worker, once its envelope is checked. */
export interface Listener {
  /** A batch of replies (not yet checked one by one: see `checkReplies`). */
  readonly onReplies: (replies: ReadonlyArray<unknown>) => void
  /** The worker broke the protocol; `what` says how, for the error of the tasks it held. */
  readonly onFaulty: (what: string) => void
  /**
   * The pool could not deserialize the worker's message number `seq` (counting
   * every message of the worker from 0): its replies are lost unless the
   * worker sends them again (see `Protocol.OP_RESEND`).
   */
  readonly onUnreadable: (seq: number, error: unknown) => void
}

/**
 * Decodes one message in effect's worker envelope: `[0]` (the worker is
 * listening: `onReady`, once) or `[1, replies]` with `replies` an array.
 * Anything else is reported to `listener.onFaulty`. Never throws.
 */
export const receive = (
  message: unknown,
  readySeen: boolean,
  onReady: () => void,
  listener: Listener
): void => {
  if (Array.isArray(message)) {
    if (message.length === 2 && message[0] === 1 && Array.isArray(message[1])) return listener.onReplies(message[1])
    if (message.length === 1 && message[0] === 0) {
      if (!readySeen) return onReady()
      return listener.onFaulty(`it sent ${preview(message)}, a second ready signal`)
    }
  }
  listener.onFaulty(`it sent ${preview(message)}, not [1, replies]`)
}

/** Most replies about no task (id -1) that one message may carry besides one reply per job held. */
const MAX_NOTICES = 64

/**
 * Checks the shape of a batch before any reply in it is read: whole replies of
 * `Protocol.REPLY_WIDTH` words, and not more of them than the worker can owe (one per
 * job it holds, plus a few notices), so that an array with a huge bogus
 * `length` is never iterated. Returns what is wrong, or `undefined`.
 */
export const checkReplies = (replies: ReadonlyArray<unknown>, held: number): string | undefined => {
  const length = replies.length
  if (length % Protocol.REPLY_WIDTH !== 0) {
    return `it sent ${preview(replies)}: ${length} words, not whole replies of ${Protocol.REPLY_WIDTH}`
  }
  if (length > Protocol.REPLY_WIDTH * (held + MAX_NOTICES)) {
    return `it sent ${length / Protocol.REPLY_WIDTH} replies at once while it held ${held} jobs`
  }
  return undefined
}

/** What `checkReply` needs to know about the job a reply is about, if the worker holds it. */
export interface Held {
  /** How many errors its task declares: a declared error's index must be below. */
  readonly declared: number
}

/**
 * Checks the reply at `replies[i..i+Protocol.REPLY_WIDTH)`: a known status; the id of a
 * job the worker holds (`job`, looked up by the caller) for a status about a
 * task, -1 for the others; a finite non-negative `micros`; and the payload its
 * status promises (see protocol.ts). Returns what is wrong, or `undefined`.
 *
 * `cancelsSent` bounds the count of a `Protocol.STATUS_PROGRESS`; `sent` bounds that of
 * a `Protocol.STATUS_STARTED`. A `Protocol.STATUS_TASK_PROGRESS` must be about a job
 * held whose caller asked for its progress (`watched`), with a `micros` of 0, in
 * a message of its own (`alone`); its payload is the task's value, any value.
 */
export const checkReply = (
  replies: ReadonlyArray<unknown>,
  i: number,
  job: Held | undefined,
  cancelsSent: number,
  sent: number,
  watched = false
): string | undefined => {
  const id = replies[i]
  const status = replies[i + 1]
  const payload = replies[i + 2]
  const micros = replies[i + 3]
  if (typeof micros !== "number" || !(micros >= 0) || micros === Infinity) {
    return bad(replies, i, "its time is not a duration")
  }
  switch (status) {
    case Protocol.STATUS_OK:
    case Protocol.STATUS_FAILED:
    case Protocol.STATUS_DECLARED:
    case Protocol.STATUS_UNCLONEABLE:
    case Protocol.STATUS_CANCELLED: {
      if (job === undefined) return bad(replies, i, `it holds no job ${preview(id)}`)
      if (status === Protocol.STATUS_FAILED && !isRemoteError(payload)) {
        return bad(replies, i, "a failure that is not {name, message, stack}")
      }
      if (status === Protocol.STATUS_DECLARED && !isDeclared(payload, job.declared)) {
        return bad(replies, i, "a declared error that is not [index, encoded] with the index of a declared error")
      }
      if (status === Protocol.STATUS_UNCLONEABLE && typeof payload !== "string") {
        return bad(replies, i, "an uncloneable result without its message")
      }
      return undefined
    }
    case Protocol.STATUS_TASK_PROGRESS: {
      if (job === undefined) return bad(replies, i, `a progress update, but it holds no job ${preview(id)}`)
      if (!watched) return bad(replies, i, "a progress update for a call that did not ask for it")
      if (micros !== 0 || replies.length !== Protocol.REPLY_WIDTH) {
        return bad(replies, i, "a progress update must come alone, with a time of 0")
      }
      return undefined
    }
    case Protocol.STATUS_PROGRESS:
    case Protocol.STATUS_OVER_HEAP:
    case Protocol.STATUS_PONG:
    case Protocol.STATUS_STARTED:
    case Protocol.STATUS_RESENT:
    case Protocol.STATUS_SPANS:
    case Protocol.STATUS_LOGS: {
      if (id !== -1) return bad(replies, i, "a notice must have the id -1")
      if (status === Protocol.STATUS_PROGRESS && !isCount(payload, cancelsSent)) {
        return bad(replies, i, `not a count of the ${cancelsSent} CANCELs sent`)
      }
      if (status === Protocol.STATUS_STARTED && !isCount(payload, sent)) {
        return bad(replies, i, `not a count of the ${sent} jobs sent`)
      }
      if ((status === Protocol.STATUS_OVER_HEAP || status === Protocol.STATUS_PONG) && !isCount(payload, Number.MAX_SAFE_INTEGER)) {
        return bad(replies, i, "its count is not a count")
      }
      if (status === Protocol.STATUS_RESENT && !isResent(payload)) return bad(replies, i, "a RESENT that is not [seq, ids held]")
      if (status === Protocol.STATUS_SPANS) {
        const wrong = spansWrong(payload)
        if (wrong !== undefined) return bad(replies, i, `spans that are not [sentAt, spans]: ${wrong}`)
      }
      if (status === Protocol.STATUS_LOGS) {
        const wrong = logsWrong(payload)
        if (wrong !== undefined) return bad(replies, i, `logs that are not an array of logs: ${wrong}`)
      }
      return undefined
    }
    default:
      return bad(replies, i, "unknown status")
  }
}

/** What is wrong with the reply at `i`, with the reply itself. */
const bad = (replies: ReadonlyArray<unknown>, i: number, why: string): string =>
  `it sent the reply ${preview(replies.slice(i, i + Protocol.REPLY_WIDTH))}: ${why}`

const isCount = (u: unknown, max: number): u is number =>
  Number.isSafeInteger(u) && (u as number) >= 0 && (u as number) <= max

const isRemoteError = (u: unknown): u is Protocol.RemoteError => {
  if (typeof u !== "object" || u === null) return false
  const error = u as Record<string, unknown>
  return typeof error.name === "string" && typeof error.message === "string" &&
    (error.stack === undefined || typeof error.stack === "string")
}

const isDeclared = (u: unknown, declared: number): boolean =>
  Array.isArray(u) && u.length === 2 && isCount(u[0], declared - 1)

const isResent = (u: unknown): u is readonly [number, ReadonlyArray<number>] =>
  Array.isArray(u) && u.length === 2 && isCount(u[0], Number.MAX_SAFE_INTEGER) && Array.isArray(u[1]) &&
  u[1].length <= 1 << 20 && u[1].every((id) => isCount(id, Number.MAX_SAFE_INTEGER))

// -- spans and logs (STATUS_SPANS, STATUS_LOGS) ---------------------------------------

/** Most spans or logs in one message, attributes or events on one span, values in one log. */
const MAX_RECORDS = 1 << 16
const MAX_FIELDS = 1024

const SPAN_KINDS: ReadonlySet<unknown> = new Set(["internal", "server", "client", "producer", "consumer"])
const LOG_LEVELS: ReadonlySet<unknown> = new Set(["Trace", "Debug", "Info", "Warn", "Error", "Fatal"])

const isRecord = (u: unknown): u is Record<string, unknown> => {
  if (typeof u !== "object" || u === null || Array.isArray(u)) return false
  const proto = Object.getPrototypeOf(u)
  return proto === Object.prototype || proto === null
}

const isTime = (u: unknown): u is number => typeof u === "number" && Number.isFinite(u)

const isId = (u: unknown): u is string => typeof u === "string" && u.length <= 64

const isList = (u: unknown, max: number): u is ReadonlyArray<unknown> => Array.isArray(u) && u.length <= max

/** `[key, value]` pairs, `value` a string, a finite number or a boolean (span attributes). */
const isAttributes = (u: unknown): boolean =>
  isList(u, MAX_FIELDS) && u.every((pair) =>
    isList(pair, 2) && pair.length === 2 && typeof pair[0] === "string" &&
    (typeof pair[1] === "string" || typeof pair[1] === "boolean" || isTime(pair[1]))
  )

const spanWrong = (u: unknown): string | undefined => {
  if (!isRecord(u)) return "a span that is not an object"
  if (!isCount(u.job, Number.MAX_SAFE_INTEGER)) return "a span without its job"
  if (!isId(u.id) || u.id === "" || !isId(u.parent)) return "a span without its id and its parent's"
  if (typeof u.name !== "string" || !SPAN_KINDS.has(u.kind)) return "a span without its name and kind"
  if (!isTime(u.start) || !isTime(u.end)) return "a span without its times"
  if (!isAttributes(u.attributes)) return "a span whose attributes are not [key, value] pairs"
  if (
    !isList(u.events, MAX_FIELDS) ||
    !u.events.every((event) =>
      isList(event, 3) && event.length === 3 && typeof event[0] === "string" && isTime(event[1]) && isAttributes(event[2])
    )
  ) return "a span whose events are not [name, time, attributes]"
  if (u.outcome !== 0 && u.outcome !== 1 && u.outcome !== 2) return "a span without its outcome"
  if (u.error !== undefined && typeof u.error !== "string") return "a span whose error is not a string"
  return undefined
}

/** What is wrong with a `STATUS_SPANS` payload, if anything (see `Protocol.WireSpan`). */
export const spansWrong = (u: unknown): string | undefined => {
  if (!isList(u, 2) || u.length !== 2 || !isTime(u[0])) return "no [sentAt, spans]"
  if (!isList(u[1], MAX_RECORDS)) return `not an array of at most ${MAX_RECORDS} spans`
  for (const span of u[1]) {
    const wrong = spanWrong(span)
    if (wrong !== undefined) return wrong
  }
  return undefined
}

/** What is wrong with a `STATUS_LOGS` payload, if anything (see `Protocol.WireLog`). */
export const logsWrong = (u: unknown): string | undefined => {
  if (!isList(u, MAX_RECORDS)) return `not an array of at most ${MAX_RECORDS} logs`
  for (const log of u) {
    if (!isRecord(log)) return "a log that is not an object"
    if (!isCount(log.job, Number.MAX_SAFE_INTEGER)) return "a log without its job"
    if (!LOG_LEVELS.has(log.level)) return "a log without a log level"
    if (!isList(log.message, MAX_FIELDS)) return "a log whose message is not an array"
    if (
      !isList(log.annotations, MAX_FIELDS) ||
      !log.annotations.every((pair) => isList(pair, 2) && pair.length === 2 && typeof pair[0] === "string")
    ) return "a log whose annotations are not [key, value] pairs"
    if (log.cause !== undefined && typeof log.cause !== "string") return "a log whose cause is not a string"
  }
  return undefined
}

/** What a task's reply means for its caller, once `checkReply` has passed it. */
export const decode = (task: Task.Any, status: Protocol.Status, payload: unknown): Exit.Exit<unknown, unknown> => {
  switch (status) {
    case Protocol.STATUS_OK:
      return Exit.succeed(payload)
    case Protocol.STATUS_DECLARED: {
      const [index, encoded] = payload as [number, unknown]
      try {
        return Exit.fail(task.errors.decode(index, encoded))
      } catch (error) {
        return Exit.fail(
          new TaskError({
            task: task.id,
            remoteName: "DeclaredErrorDecodeError",
            message: `${task.name} failed with a declared error that could not be decoded: ${errorMessage(error)}`,
            remoteStack: undefined
          })
        )
      }
    }
    case Protocol.STATUS_UNCLONEABLE:
      return Exit.fail(
        new SerializationError({
          task: task.id,
          direction: "result",
          message: `the result of ${task.name} cannot be sent back from its worker: ${payload as string}`
        })
      )
    default: {
      // Protocol.STATUS_FAILED, or Protocol.STATUS_CANCELLED for a job its caller did not cancel
      const remote = (payload ?? { name: "Interrupted", message: "the task was cancelled", stack: undefined }) as
        Protocol.RemoteError
      return Exit.fail(
        new TaskError({
          task: task.id,
          remoteName: remote.name,
          message: remote.message,
          remoteStack: remote.stack
        })
      )
    }
  }
}

/** A worker's messages the pool could not read, while it answers the `RESEND`s (see protocol.ts). */
export interface Lost {
  /** `RESEND`s not answered yet. */
  pending: number
  /** `Slot.sent` when the last `RESEND` was posted: the jobs sent before it are the worker's to account for. */
  sentBefore: number
  /** Why the first message could not be read. */
  reason: string
}

/** The error of a job whose reply was in a message the pool could not read (`reason`: why). */
export const unreadable = (task: Task.Any, reason: string): SerializationError =>
  new SerializationError({
    task: task.id,
    direction: "result",
    message: `the result of ${task.name} cannot be read by the pool: ${reason}`
  })

/** The message of a thrown value, whatever it is. */
export const errorMessage = (error: unknown): string => error instanceof Error ? error.message : String(error)

/**
 * If `replies` is the answer to `OP_RESEND` (a single `Protocol.STATUS_RESENT`), the
 * number of the message it answers; else `undefined`. For a backend that keeps
 * track of the messages it lost.
 */
export const resentSeq = (replies: ReadonlyArray<unknown>): number | undefined => {
  if (replies.length !== Protocol.REPLY_WIDTH || replies[1] !== Protocol.STATUS_RESENT || !isResent(replies[2])) return undefined
  return replies[2][0]
}

/**
 * A short, safe rendering of something a worker sent, for an error message:
 * at most a few elements, keys and characters, at most two levels deep.
 * Never throws and never iterates a bogus `length`.
 */
export const preview = (value: unknown, depth = 0): string => {
  try {
    return previewUnsafe(value, depth)
  } catch {
    return "(something unprintable)"
  }
}

/** `Object.prototype.toString`'s name for an object: `Uint8Array`, `Date`, `Error`. */
const tag = (value: object): string => Object.prototype.toString.call(value).slice(8, -1)

const MAX_ITEMS = 6
const MAX_CHARS = 60

const previewUnsafe = (value: unknown, depth: number): string => {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value.length > MAX_CHARS ? `${value.slice(0, MAX_CHARS)}…` : value)
    case "bigint":
      return `${value}n`
    case "object": {
      if (value === null) return "null"
      if (depth >= 2) return Array.isArray(value) ? "[…]" : "{…}"
      if (ArrayBuffer.isView(value)) return `${tag(value)}(${value.byteLength} bytes)`
      if (value instanceof Map || value instanceof Set) return `${value instanceof Map ? "Map" : "Set"}(${value.size})`
      const proto = Object.getPrototypeOf(value)
      if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) {
        return tag(value)
      }
      if (Array.isArray(value)) {
        const shown = Math.min(value.length, MAX_ITEMS)
        const items: Array<string> = []
        for (let i = 0; i < shown; i++) items.push(previewUnsafe(value[i], depth + 1))
        if (value.length > shown) items.push(`… ${value.length - shown} more`)
        return `[${items.join(", ")}]`
      }
      const keys = Object.keys(value)
      const items = keys.slice(0, MAX_ITEMS).map((key) =>
        `${key}: ${previewUnsafe((value as Record<string, unknown>)[key], depth + 1)}`
      )
      if (keys.length > MAX_ITEMS) items.push(`… ${keys.length - MAX_ITEMS} more`)
      return `{${items.join(", ")}}`
    }
    default:
      return String(value)
  }
}
