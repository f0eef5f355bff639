/**
 * Tracing across the boundary, in the worker: a `RUN` that follows
 * `OP_TRACE` (or `OP_LOG_LEVEL`) carries an `Observe` record. A traced job runs
 * in a span of its own, `effect-multiprocessing.task <name>`, whose parent is
 * the caller's span and whose id the Effect task's own spans name as their
 * parent (see workerLogs.ts, which gives an Effect task its tracer). When the
 * job is answered, its task span ends, and the job's finished spans go out
 * with the next message, ahead of its reply (`STATUS_SPANS`).
 *
 * Plain code without effect: a worker whose tasks are plain functions still
 * loads none of it. Times are the worker's `performance.now()` (see
 * tracing.ts for how the caller maps them to its clock).
 *
 * @internal
 */
import * as Protocol from "./protocol.ts"
import { now } from "./workerValues.ts"

/** How a job is observed: set by `OP_TRACE` / `OP_LOG_LEVEL` for the `RUN` that follows. */
export interface Observe {
  /** The caller's trace and span (`OP_TRACE`), if the job is traced. */
  traceId: string | undefined
  parentId: string
  /** The caller's minimum log level (`OP_LOG_LEVEL`), if it is not `"Info"`. */
  level: string | undefined
  /** The task's name. */
  name: string
  /** The id of the job's own span. */
  readonly spanId: string
  /** Its spans finished so far, sent when it is answered. */
  readonly spans: Array<Protocol.WireSpan>
  /** It has been answered: spans that end later are dropped. */
  ended: boolean
  /** Spans it made past `MAX_SPANS_PER_JOB`, dropped. */
  dropped: number
}

/** Most spans of one job sent to the caller; the job's span counts the others (`effect-multiprocessing.spans.dropped`). */
export const MAX_SPANS_PER_JOB = 4096

/** Past this many spans and logs waiting, the worker sends them at once (the pool takes at most 65536 per message). */
export const MAX_WAITING = 8192

/** What the worker sends about spans: finished spans of answered jobs, in the next message. */
export interface Outbox {
  readonly spans: Array<Protocol.WireSpan>
}

/** A fresh record for the next `RUN`. */
export const observe = (): Observe => ({
  traceId: undefined,
  parentId: "",
  level: undefined,
  name: "",
  spanId: randomId(),
  spans: [],
  ended: false,
  dropped: 0
})

/** Keeps a finished span of a job that is still running, unless it has made too many. */
export const keep = (observed: Observe, span: Protocol.WireSpan): void => {
  if (observed.ended) return
  if (observed.spans.length < MAX_SPANS_PER_JOB) observed.spans.push(span)
  else observed.dropped++
}

/** 16 hex digits, as a span id. */
export const randomId = (): string => {
  let id = ""
  for (let i = 0; i < 4; i++) id += Math.floor(Math.random() * 0x10000).toString(16).padStart(4, "0")
  return id
}

/**
 * A job is answered with `status` and `payload`: its task span ends (it began
 * at `started`), and its spans go to `outbox`.
 */
export const ended = (
  outbox: Outbox,
  id: number,
  observed: Observe,
  status: Protocol.Status,
  payload: unknown,
  started: number
): void => {
  if (observed.ended) return
  observed.ended = true
  if (observed.traceId === undefined) return
  const ok = status === Protocol.STATUS_OK
  const cancelled = status === Protocol.STATUS_CANCELLED
  const error = ok || cancelled ? undefined : failure(status, payload)
  const task: Protocol.WireSpan = {
    job: id,
    id: observed.spanId,
    parent: observed.parentId,
    name: `effect-multiprocessing.task ${observed.name}`,
    kind: "internal",
    start: started,
    end: now(),
    attributes: observed.dropped === 0
      ? [["effect-multiprocessing.job.id", id]]
      : [["effect-multiprocessing.job.id", id], ["effect-multiprocessing.spans.dropped", observed.dropped]],
    events: [],
    outcome: ok ? 0 : cancelled ? 2 : 1,
    error
  }
  for (const span of observed.spans) outbox.spans.push(span)
  outbox.spans.push(task)
}

/** What a failed reply says, for its span's error. */
const failure = (status: Protocol.Status, payload: unknown): string => {
  if (status === Protocol.STATUS_FAILED && typeof payload === "object" && payload !== null) {
    const { message, name } = payload as Protocol.RemoteError
    return `${String(name)}: ${String(message)}`
  }
  if (status === Protocol.STATUS_DECLARED) {
    const encoded = Array.isArray(payload) ? payload[1] : undefined
    const tag = typeof encoded === "object" && encoded !== null ? (encoded as { readonly _tag?: unknown })._tag : undefined
    return typeof tag === "string" ? `a declared error: ${tag}` : "a declared error"
  }
  if (status === Protocol.STATUS_UNCLONEABLE) return `the result cannot be sent: ${String(payload)}`
  return "failed"
}

/** A span attribute's value as it crosses the boundary: a string, a finite number or a boolean. */
export const attributeValue = (value: unknown): string | number | boolean => {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value
    case "number":
      return Number.isFinite(value) ? value : String(value)
    default:
      try {
        return typeof value === "object" && value !== null ? JSON.stringify(value) ?? String(value) : String(value)
      } catch {
        return "(unprintable)"
      }
  }
}
