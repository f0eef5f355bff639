/**
 * What an Effect task runs with in its worker, so that its logs and spans
 * reach its caller (callerLogs.ts, tracing.ts):
 * - a logger in place of effect's default one: each `Effect.log*` of the task
 *   (of its fiber or the fibers it forks) is recorded with its level, its
 *   message and the task's log annotations, and goes out within a microtask,
 *   ahead of any reply (`STATUS_LOGS`). A log from a fiber that is no task's
 *   (a setup layer's) goes to the worker's console, as before;
 * - the caller's minimum log level (`OP_LOG_LEVEL`): lower levels are dropped
 *   here, before anything is sent;
 * - for a traced job, a tracer that records every span the task makes, under
 *   the job's own span, for `STATUS_SPANS` (see workerTracing.ts).
 *
 * Loaded, with the parts of effect it needs, the first time an Effect task runs.
 *
 * @internal
 */
import type * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import type * as Exit from "effect/Exit"
import type * as LogLevel from "effect/LogLevel"
import type * as Tracer from "effect/Tracer"
import type * as Protocol from "./protocol.ts"
import type { Definition } from "./workerModules.ts"
import type { Running } from "./workerRuntime.ts"
import { attributeValue, keep, MAX_SPANS_PER_JOB, MAX_WAITING, type Observe } from "./workerTracing.ts"
import { fx, now } from "./workerValues.ts"

// as CommonJS, as in workerValues.ts: an ESM import of `node:util` loads its lazy exports too
const { inspect } = process.getBuiltinModule("node:util")

/** Effect's modules, loaded on first need (`fx` in workerValues.ts: the one place a worker loads effect). */
const load = fx

/** Where the worker puts what goes out with its next message. */
export interface Outbox {
  readonly logs: Array<Protocol.WireLog>
  readonly spans: Array<Protocol.WireSpan>
  /** The jobs received and not answered yet. */
  readonly running: ReadonlyMap<number, Running>
}

/** The context an Effect task of one worker runs with. */
export type TaskContexts = ReturnType<typeof make>

/** Makes, for one worker, the contexts its Effect tasks run with (`scheduleFlush`: send soon; `flush`: now). */
export const make = (outbox: Outbox, scheduleFlush: () => void, flush: () => void) => {
  const { Context, Logger, References, Tracer } = load()
  /** The job a fiber works for: the task's fiber and every fiber it forks. */
  const CurrentJob = Context.Reference<Running | undefined>("effect-multiprocessing/worker/CurrentJob", {
    defaultValue: () => undefined
  })
  const capture = Logger.make((options) => {
    const job = options.fiber.getRef(CurrentJob)
    if (job === undefined || !outbox.running.has(job.id)) return Logger.defaultLogger.log(options)
    const annotations = options.fiber.getRef(References.CurrentLogAnnotations)
    const message = Array.isArray(options.message) ? options.message : [options.message]
    outbox.logs.push({
      job: job.id,
      level: options.logLevel,
      message: message.map(cloneable),
      annotations: Object.entries(annotations).map(([key, value]) => [key, cloneable(value)] as const),
      cause: options.cause.reasons.length === 0 ? undefined : rendering(options.cause)
    })
    if (outbox.logs.length + outbox.spans.length >= MAX_WAITING) flush()
    else scheduleFlush()
  })
  /** Per task module: its setup layer's services, and our logger in place of effect's default one. */
  const bases = new WeakMap<Definition, Context.Context<never>>()
  const base = (definition: Definition): Context.Context<never> => {
    let context = bases.get(definition)
    if (context === undefined) {
      const services = (definition.context ?? Context.empty()) as Context.Context<never>
      const loggers = new Set(Context.get(services, References.CurrentLoggers))
      loggers.delete(Logger.defaultLogger)
      loggers.add(capture)
      context = Context.add(services, References.CurrentLoggers, loggers)
      bases.set(definition, context)
    }
    return context
  }
  return (definition: Definition, task: Running): Context.Context<never> => {
    let context = Context.add(base(definition), CurrentJob, task)
    const observed = task.observe
    if (observed !== undefined) {
      if (observed.level !== undefined) {
        context = Context.add(context, References.MinimumLogLevel, observed.level as LogLevel.LogLevel)
      }
      if (observed.traceId !== undefined) {
        context = Context.add(context, Tracer.Tracer, recordingTracer(task.id, observed))
        context = Context.add(
          context,
          Tracer.ParentSpan,
          Tracer.externalSpan({ traceId: observed.traceId, spanId: observed.spanId, sampled: true })
        )
      }
    }
    return context
  }
}

/** A logged value as it crosses the boundary: itself if it can be cloned, else its rendering. */
const cloneable = (value: unknown): unknown => {
  if (typeof value !== "object" && typeof value !== "function" && typeof value !== "symbol") return value
  if (value === null) return value
  try {
    return structuredClone(value)
  } catch {
    return safeInspect(value)
  }
}

const safeInspect = (value: unknown): string => {
  try {
    return inspect(value, { depth: 4 })
  } catch {
    return "(unprintable)"
  }
}

const rendering = (cause: Cause.Cause<unknown>): string => {
  try {
    return load().Cause.pretty(cause)
  } catch {
    return "(a cause that cannot be printed)"
  }
}

type SpanOptions = ConstructorParameters<typeof Tracer.NativeSpan>[0]

let spanClass: (new(options: SpanOptions, job: number, observed: Observe) => Tracer.Span) | undefined

/** A tracer whose spans, when they end, are kept for the job's `STATUS_SPANS`. */
const recordingTracer = (job: number, observed: Observe): Tracer.Tracer => {
  const { Tracer } = load()
  const Span = spanClass ??= makeSpanClass()
  return Tracer.make({ span: (options) => new Span(options, job, observed) })
}

const makeSpanClass = () => {
  const { Cause, Tracer } = load()
  return class WorkerSpan extends Tracer.NativeSpan {
    readonly job: number
    readonly observed: Observe
    /** Its start in the worker's clock (the one its message's `sentAt` is read from). */
    readonly startMillis: number
    constructor(options: SpanOptions, job: number, observed: Observe) {
      super(options)
      this.job = job
      this.observed = observed
      this.startMillis = now()
    }
    override end(endTime: bigint, exit: Exit.Exit<unknown, unknown>): void {
      if (this.status._tag === "Ended") return
      super.end(endTime, exit)
      if (this.observed.ended) return
      if (this.observed.spans.length >= MAX_SPANS_PER_JOB) {
        this.observed.dropped++
        return
      }
      const toMillis = (time: bigint) => this.startMillis + Number(time - this.startTime) / 1e6
      const failed = exit._tag === "Failure"
      const interrupted = failed && Cause.hasInterruptsOnly(exit.cause)
      keep(this.observed, {
        job: this.job,
        id: this.spanId,
        parent: this.parent._tag === "Some" ? this.parent.value.spanId : "",
        name: this.name,
        kind: this.kind,
        start: this.startMillis,
        end: now(),
        attributes: Array.from(this.attributes, ([key, value]) => [key, attributeValue(value)] as const),
        events: this._events === undefined ? [] : this._events.map(([name, time, attributes]) =>
          [
            name,
            toMillis(time),
            Object.entries(attributes).map(([key, value]) => [key, attributeValue(value)] as const)
          ] as const
        ),
        outcome: !failed ? 0 : interrupted ? 2 : 1,
        error: failed && !interrupted ? errorOf(exit.cause) : undefined
      })
    }
  }
}

const errorOf = (cause: Cause.Cause<unknown>): string => {
  try {
    const error = load().Cause.squash(cause)
    return error instanceof Error ? `${error.name}: ${error.message}` : safeInspect(error)
  } catch {
    return "(an error that cannot be printed)"
  }
}
