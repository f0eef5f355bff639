/**
 * Tracing across the boundary, on the caller's side.
 *
 * Every pool call runs in a span of ours (`effect-multiprocessing.apply`,
 * `.map`, …) when the caller's tracer records: any `Tracer` other than
 * effect's default `nativeTracer`, with tracing enabled. That check reads the
 * calling fiber's context cache (`fiber.cache.tracer`, `tracerEnabled`), so a
 * caller without a tracer pays one comparison per call and nothing else: no
 * span, no allocation, nothing more on the wire.
 *
 * When the call's span is sampled, each of its jobs carries it (`Job.traced`):
 * `OP_TRACE` goes ahead of the job's `RUN` with the span's trace id and span id,
 * the worker runs the job in a span of its own (`effect-multiprocessing.task`)
 * whose parent is the call's span, and an Effect task's own spans are children
 * of that one. Finished worker spans come back with the replies
 * (`STATUS_SPANS`) and are made again, with their names, parents, times,
 * attributes, events and outcome, by the caller's tracer (`deliver`): one
 * trace, parent → pool call → worker task → the task's own spans.
 *
 * Clocks. A worker measures its spans with its own `performance.now()`; each
 * message of spans says what that clock read as it was sent. The caller places
 * the message's spans so that this moment is when it received the message, in
 * the caller's `Clock`: durations are the worker's own, and a worker span
 * starts after the job was sent and ends before its reply arrived (it appears
 * later than it ran by the time the message took, microseconds to a
 * millisecond), whatever the two clocks' origins.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as References from "effect/References"
import * as Tracer from "effect/Tracer"
import type * as Task from "../Task.ts"
import * as Protocol from "./protocol.ts"
import type { Job } from "./slot.ts"

/** A pool call traced by the caller's tracer, and what its jobs tell about it. */
export interface Traced {
  /** The call's span. */
  readonly span: Tracer.Span
  readonly tracer: Tracer.Tracer
  readonly clock: Clock.Clock
  /** Time its jobs ran in workers (ms, summed). */
  runMillis: number
  /** The longest a job of it waited before a worker ran it (ms). */
  waitMillis: number
  /** The worker that ran its first job (-1: none yet). */
  worker: number
  /** The workers that ran its jobs, once there are two or more. */
  workers: Array<number> | undefined
  /** Jobs answered. */
  jobs: number
}

/** Attribute keys, on the call's span and on the worker's task spans. */
export const ATTR = {
  task: "effect-multiprocessing.task.id",
  pool: "effect-multiprocessing.pool",
  worker: "effect-multiprocessing.worker.id",
  workers: "effect-multiprocessing.worker.ids",
  items: "effect-multiprocessing.items",
  chunksize: "effect-multiprocessing.chunk.size",
  jobs: "effect-multiprocessing.jobs",
  wait: "effect-multiprocessing.wait.ms",
  run: "effect-multiprocessing.run.ms",
  outcome: "effect-multiprocessing.outcome"
} as const

/** Whether the fiber's tracer records (the cheap check: a fiber's context cache). */
export const records = (fiber: Fiber.Fiber<unknown, unknown>): boolean => {
  const cache = fiber.cache
  return cache.tracer !== undefined && cache.tracer !== Tracer.nativeTracer && cache.tracerEnabled
}

/**
 * What a call's body is given: the caller's context (for its logs), the traced
 * call if its span is sampled, and the call's span if it has one.
 */
export type Body<A, E, R> = (
  context: Context.Context<never>,
  traced: Traced | undefined,
  span: Tracer.Span | undefined
) => Effect.Effect<A, E, R>

/**
 * Runs a pool call's body in the call's span `effect-multiprocessing.<method>`
 * when the caller's tracer records; else as it is, with the caller's context.
 * `ends: false` leaves the span open on success (an `*Async` call: its wait
 * ends it, see `end`).
 */
export const call = <A, E, R>(
  method: string,
  pool: number,
  task: Task.Any | undefined,
  body: Body<A, E, R>,
  ends = true
): Effect.Effect<A, E, R> =>
  Effect.withFiber((fiber) => {
    if (!records(fiber as Fiber.Fiber<unknown, unknown>)) return body(fiber.context, undefined, undefined)
    const attributes: Record<string, unknown> = { [ATTR.pool]: pool }
    if (task !== undefined && typeof task === "object" && typeof task.id === "string") attributes[ATTR.task] = task.id
    return Effect.uninterruptibleMask((restore) =>
      Effect.flatMap(Effect.makeSpan(`effect-multiprocessing.${method}`, { attributes, kind: "client" }), (span) => {
        const traced = span.sampled ? make(span, fiber.cache.tracer!, fiber.getRef(Clock.Clock)) : undefined
        // the body is given the context inside the call's span: its jobs' logs belong to that span
        const inSpan = Effect.withFiber((inner) => body(inner.context, traced, span))
        return Effect.onExit(
          // a stack trace of the pool's own code helps nobody, and is a good part of a traced call's cost
          restore(Effect.withParentSpan(inSpan, span, { captureStackTrace: false })),
          (exit) => ends || exit._tag === "Failure" ? end(span, traced, exit) : Effect.void
        )
      })
    )
  })

const make = (span: Tracer.Span, tracer: Tracer.Tracer, clock: Clock.Clock): Traced => ({
  span,
  tracer,
  clock,
  runMillis: 0,
  waitMillis: 0,
  worker: -1,
  workers: undefined,
  jobs: 0
})

/** Ends a call's span with its outcome and what its jobs told. */
export const end = (
  span: Tracer.Span,
  traced: Traced | undefined,
  exit: Exit.Exit<unknown, unknown>
): Effect.Effect<void> =>
  Effect.withFiber((fiber) => {
    if (traced !== undefined && traced.jobs > 0) {
      span.attribute(ATTR.jobs, traced.jobs)
      span.attribute(ATTR.run, round(traced.runMillis))
      span.attribute(ATTR.wait, round(traced.waitMillis))
      if (traced.workers === undefined) span.attribute(ATTR.worker, traced.worker)
      else span.attribute(ATTR.workers, traced.workers)
    }
    span.attribute(ATTR.outcome, outcome(exit))
    span.end(fiber.getRef(Clock.Clock).currentTimeNanosUnsafe(), exit)
    return Effect.void
  })

/** Ends the span of an `*Async` call (`call`'s `span`, if any) when its wait is over. */
export const endWith = <A, E>(
  wait: Effect.Effect<A, E>,
  span: Tracer.Span | undefined,
  traced: Traced | undefined
): Effect.Effect<A, E> =>
  span === undefined
    ? wait
    : Effect.onExit(wait, (exit) => end(span, traced, exit))

const round = (millis: number): number => Math.round(millis * 1000) / 1000

const outcome = (exit: Exit.Exit<unknown, unknown>): string => {
  if (exit._tag === "Success") return "success"
  const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
  if (error !== undefined) {
    const value = (error as { readonly error: unknown }).error
    const tag = typeof value === "object" && value !== null ? (value as { readonly _tag?: unknown })._tag : undefined
    return typeof tag === "string" ? tag : "failure"
  }
  return exit.cause.reasons.some((reason) => reason._tag === "Die") ? "defect" : "interrupted"
}

/** Marks a submitted job with its caller: its context (for its logs) and its traced call. */
export const mark = (job: Job, context: Context.Context<never>, traced: Traced | undefined): Job => {
  job.context = context
  job.traced = traced
  return job
}

/**
 * Pushes, ahead of a job's `RUN`, how it is traced (`OP_TRACE`) and the
 * level it logs at (`OP_LOG_LEVEL`), when either is not the default.
 */
/** Whether `beforeRun` has anything to push for `job`: it is traced, or its caller logs at another level than Info. */
export const hasRunOps = (job: Job): boolean => job.traced !== undefined || logLevel(job.context!) !== "Info"

export const beforeRun = (job: Job, ops: Array<unknown>): void => {
  const traced = job.traced
  if (traced !== undefined) ops.push(Protocol.OP_TRACE, traced.span.traceId, traced.span.spanId, 1)
  const level = logLevel(job.context!)
  if (level !== "Info") ops.push(Protocol.OP_LOG_LEVEL, level)
}

// the jobs of a burst share their caller's context: its level is looked up once
let lastContext: Context.Context<never> | undefined
let lastLevel = "Info"

const logLevel = (context: Context.Context<never>): string => {
  if (context !== lastContext) {
    lastLevel = Context.get(context, References.MinimumLogLevel)
    lastContext = context
  }
  return lastLevel
}

/** A traced job is answered: what it tells of its call (`micros`: how long it ran in `workerId`). */
export const answered = (job: Job, workerId: number, micros: number): void => {
  const traced = job.traced!
  const ran = micros / 1000
  traced.jobs++
  traced.runMillis += ran
  const waited = performance.now() - job.submittedAt - ran
  if (waited > traced.waitMillis) traced.waitMillis = waited
  if (traced.worker === -1) traced.worker = workerId
  else if (traced.worker !== workerId) {
    if (traced.workers === undefined) traced.workers = [traced.worker, workerId]
    else if (!traced.workers.includes(workerId)) traced.workers.push(workerId)
  }
}

/**
 * Makes the finished spans of a worker's message (`STATUS_SPANS`, checked at
 * the boundary) again with each job's caller's tracer, under its call's span.
 * Spans of a job the worker no longer holds are dropped (a fiber the task
 * left running). A tracer that throws loses its spans, nothing else.
 */
export const deliver = (
  inflight: ReadonlyMap<number, Job>,
  workerId: number,
  payload: readonly [number, ReadonlyArray<Protocol.WireSpan>]
): void => {
  const [sentAt, spans] = payload
  const byJob = new Map<Job, Array<Protocol.WireSpan>>()
  for (const span of spans) {
    const job = inflight.get(span.job)
    if (job?.traced === undefined) continue
    const list = byJob.get(job)
    if (list === undefined) byJob.set(job, [span])
    else list.push(span)
  }
  for (const [job, list] of byJob) {
    try {
      rebuild(job.traced!, workerId, sentAt, list)
    } catch {
      // the caller's tracer threw: its spans are lost, the pool is unaffected
    }
  }
}

const rebuild = (traced: Traced, workerId: number, sentAt: number, spans: ReadonlyArray<Protocol.WireSpan>): void => {
  const receivedAt = traced.clock.currentTimeNanosUnsafe()
  const at = (time: number): bigint => receivedAt - BigInt(Math.round((sentAt - time) * 1e6))
  if (spans.length === 1 && spans[0].parent === traced.span.spanId) {
    // the common case, a plain task: its job's span alone
    const wire = spans[0]
    const span = traced.tracer.span({
      name: wire.name,
      parent: Option.some(traced.span),
      annotations: Context.empty(),
      links: [],
      startTime: at(wire.start),
      kind: wire.kind,
      root: false,
      sampled: true
    })
    for (const [key, value] of wire.attributes) span.attribute(key, value)
    span.attribute(ATTR.worker, workerId)
    span.end(at(Math.max(wire.end, wire.start)), exitOf(wire))
    return
  }
  const byId = new Map<string, Protocol.WireSpan>()
  for (const span of spans) byId.set(span.id, span)
  const made = new Map<string, Tracer.Span>()
  const making = new Set<string>()
  const makeSpan = (wire: Protocol.WireSpan): Tracer.Span => {
    const done = made.get(wire.id)
    if (done !== undefined) return done
    making.add(wire.id)
    const parentWire = byId.get(wire.parent)
    // a parent that is the call's span, one this message does not carry, or a cycle (a forgery): the call's span
    const parent: Tracer.AnySpan | undefined = wire.parent === ""
      ? undefined
      : parentWire !== undefined && !making.has(parentWire.id)
      ? makeSpan(parentWire)
      : traced.span
    const span = traced.tracer.span({
      name: wire.name,
      parent: parent === undefined ? Option.none() : Option.some(parent),
      annotations: Context.empty(),
      links: [],
      startTime: at(wire.start),
      kind: wire.kind,
      root: parent === undefined,
      sampled: true
    })
    for (const [key, value] of wire.attributes) span.attribute(key, value)
    if (wire.parent === traced.span.spanId) span.attribute(ATTR.worker, workerId)
    for (const [name, time, attributes] of wire.events) span.event(name, at(time), Object.fromEntries(attributes))
    made.set(wire.id, span)
    making.delete(wire.id)
    return span
  }
  for (const wire of spans) makeSpan(wire)
  for (const wire of spans) {
    made.get(wire.id)!.end(at(Math.max(wire.end, wire.start)), exitOf(wire))
  }
}

/** A worker span's outcome as an `Exit` for the caller's tracer (which marks a failed span with its error). */
const exitOf = (wire: Protocol.WireSpan): Exit.Exit<unknown, unknown> => {
  if (wire.outcome === 0) return Exit.void
  if (wire.outcome === 2) return Exit.interrupt()
  const error = new Error(wire.error ?? "failed")
  error.name = "WorkerSpanError"
  error.stack = `${error.name}: ${error.message}`
  return Exit.die(error)
}
