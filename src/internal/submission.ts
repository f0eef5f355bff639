/**
 * Submitting work to the dispatcher and waiting for it: one call (`apply`) or
 * a list split in chunks (`map`, `starmap`). Submission is synchronous, so a
 * task counts as submitted (for `join`) from the moment the pool method runs;
 * waiting is an `Effect.callback`, so no fiber is spent per task, and
 * interrupting the waiter cancels the work in the workers.
 *
 * @internal
 */
import type * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import type * as AsyncResult from "../AsyncResult.ts"
import { ResultNotReady } from "../PoolError.ts"
import type * as Task from "../Task.ts"
import type { Dispatcher } from "./dispatcher.ts"
import type { MapCounter } from "./progress.ts"
import type { Job } from "./slot.ts"
import type * as Protocol from "./protocol.ts"
import { mark, type Traced } from "./tracing.ts"

/**
 * Submits a job once the queue has room for it (`maxQueue`): the caller's
 * fiber waits meanwhile. The submission happens in the dispatcher's callback,
 * so each admitted job takes its place before the next submitter is let in.
 */
export const admitted = (dispatcher: Dispatcher, submit: () => Job): Effect.Effect<Job> =>
  dispatcher.maxQueue === Infinity ? Effect.sync(submit) : Effect.callback<Job>((resume) => {
    let job: Job | undefined
    const withdraw = dispatcher.whenRoom(() => {
      job = submit()
      resume(Effect.succeed(job))
    })
    return Effect.sync(() => {
      withdraw()
      if (job !== undefined) dispatcher.cancel(job) // admitted just as the caller gave up
    })
  })

/** Waits for one job. */
export const awaitJob = <A, E>(dispatcher: Dispatcher, job: Job): Effect.Effect<A, E> =>
  Effect.callback<A, E>((resume) => {
    if (job.exit !== undefined) return resume(job.exit as Exit.Exit<A, E>)
    job.waiter = resume as (exit: Exit.Exit<unknown, unknown>) => void
    return Effect.sync(() => dispatcher.cancel(job))
  })

/**
 * The `AsyncResult` of an `applyAsync` with no callback and no span: read off
 * its job, with no fiber per call. The fiber behind it (`fiber`) is started
 * only when asked for, in the pool's set of async results (`asyncResults`),
 * and interrupting it cancels the task as it always did; from then on the
 * result is the fiber's, if it ends first (interrupted: the job, cancelled,
 * is never settled). Waiting (`get`, `wait`) never cancels the task.
 */
export class JobResult<A, E> implements AsyncResult.AsyncResult<A, E> {
  private outcome: Exit.Exit<A, E> | undefined = undefined
  private waiters: Array<(exit: Exit.Exit<A, E>) => void> | undefined = undefined
  private forked: Fiber.Fiber<A, E> | undefined = undefined
  private readonly dispatcher: Dispatcher
  private readonly job: Job
  /** The caller's context: the fiber, if asked for, runs with it. */
  private readonly context: Context.Context<never>
  private readonly asyncResults: FiberSet.FiberSet<unknown, unknown>

  constructor(
    dispatcher: Dispatcher,
    job: Job,
    context: Context.Context<never>,
    asyncResults: FiberSet.FiberSet<unknown, unknown>
  ) {
    this.dispatcher = dispatcher
    this.job = job
    this.context = context
    this.asyncResults = asyncResults
    if (job.exit !== undefined) this.outcome = job.exit as Exit.Exit<A, E>
    else job.waiter = (exit) => this.settled(exit as Exit.Exit<A, E>)
  }

  private settled(exit: Exit.Exit<A, E>): void {
    if (this.outcome !== undefined) return
    this.outcome = exit
    const waiters = this.waiters
    this.waiters = undefined
    if (waiters !== undefined) for (const waiter of waiters) waiter(exit)
  }

  /** Waits for the outcome; an interrupted wait cancels the task only if it `cancels` (the fiber's). */
  private awaiting(cancels: boolean): Effect.Effect<A, E> {
    return Effect.callback<A, E>((resume) => {
      if (this.outcome !== undefined) return resume(this.outcome)
      const waiters = this.waiters ??= []
      waiters.push(resume)
      return Effect.sync(() => {
        const index = waiters.indexOf(resume)
        if (index >= 0) waiters.splice(index, 1)
        if (cancels) this.dispatcher.cancel(this.job)
      })
    })
  }

  get fiber(): Fiber.Fiber<A, E> {
    if (this.forked === undefined) {
      const fiber = Effect.runForkWith(this.context)(this.awaiting(true))
      this.forked = fiber
      FiberSet.addUnsafe(this.asyncResults, fiber)
      fiber.addObserver((exit) => this.settled(exit))
    }
    return this.forked
  }

  get(options?: { readonly timeout?: Duration.Input | undefined }): Effect.Effect<A, E | Cause.TimeoutError> {
    const wait = this.awaiting(false)
    return options?.timeout === undefined ? wait : Effect.timeout(wait, options.timeout)
  }

  wait(options?: { readonly timeout?: Duration.Input | undefined }): Effect.Effect<void> {
    const wait = Effect.exit(this.awaiting(false))
    return options?.timeout === undefined ? Effect.asVoid(wait) : Effect.asVoid(Effect.timeoutOption(wait, options.timeout))
  }

  get ready(): Effect.Effect<boolean> {
    return Effect.sync(() => this.outcome !== undefined)
  }

  get successful(): Effect.Effect<boolean, ResultNotReady> {
    return Effect.suspend(() =>
      this.outcome === undefined
        ? Effect.fail(new ResultNotReady({ message: "the result is not ready yet: wait for it, or check ready first" }))
        : Effect.succeed(this.outcome._tag === "Success")
    )
  }
}

/** The chunks of one `map` / `starmap`, gathered into one ordered result. */
export interface Chunked {
  readonly jobs: ReadonlyArray<Job>
  readonly results: Array<unknown>
  remaining: number
  /** More chunks are still to be submitted (they wait for room in the queue). */
  submitting: boolean
  exit: Exit.Exit<Array<unknown>, unknown> | undefined
  waiter: ((exit: Exit.Exit<Array<unknown>, unknown>) => void) | undefined
}

/**
 * Splits `items` in chunks of `chunksize` and submits them, in order: all at
 * once, or, with a bounded queue, each when there is room (the caller's fiber
 * waits until the last is submitted).
 */
export const submitChunks = (
  dispatcher: Dispatcher,
  task: Task.Any,
  mode: typeof Protocol.MODE_MAP | typeof Protocol.MODE_STARMAP,
  items: ReadonlyArray<unknown>,
  chunksize: number,
  /** Counts the items done as chunks finish, for the call's `onProgress`. */
  counter?: MapCounter,
  context?: Context.Context<never>,
  traced?: Traced
): Effect.Effect<Chunked> => {
  const jobs: Array<Job> = []
  const group: Chunked = {
    jobs,
    results: new Array(items.length),
    remaining: 0,
    submitting: true,
    exit: undefined,
    waiter: undefined
  }
  const finish = (exit: Exit.Exit<Array<unknown>, unknown>) => {
    if (group.exit !== undefined) return
    group.exit = exit
    if (exit._tag === "Failure") {
      // fail fast: the rest of the map's work is cancelled in the workers
      for (const job of jobs) dispatcher.cancel(job)
    }
    const waiter = group.waiter
    group.waiter = undefined
    waiter?.(exit)
  }
  const submitChunk = (offset: number): Job => {
    const chunk = items.slice(offset, offset + chunksize)
    const job = dispatcher.submit(task, mode, chunk, chunk.length)
    if (context !== undefined) mark(job, context, traced)
    jobs.push(job)
    group.remaining++
    const onExit = (exit: Exit.Exit<unknown, unknown>) => {
      if (exit._tag === "Failure") return finish(exit as Exit.Exit<never, unknown>)
      const values = exit.value as ReadonlyArray<unknown>
      for (let i = 0; i < values.length; i++) group.results[offset + i] = values[i]
      if (counter !== undefined && group.exit === undefined) counter.add(values.length)
      if (--group.remaining === 0 && !group.submitting) finish(Exit.succeed(group.results))
    }
    if (job.exit !== undefined) onExit(job.exit)
    else job.waiter = onExit
    return job
  }
  const submitted = () => {
    group.submitting = false
    if (group.remaining === 0 && group.exit === undefined) finish(Exit.succeed(group.results))
    return group
  }
  const offsets: Array<number> = []
  for (let offset = 0; offset < items.length; offset += chunksize) offsets.push(offset)
  if (dispatcher.maxQueue === Infinity) {
    for (const offset of offsets) submitChunk(offset)
    return Effect.sync(submitted)
  }
  return Effect.forEach(
    offsets,
    (offset) => group.exit !== undefined ? Effect.void : admitted(dispatcher, () => submitChunk(offset)),
    { discard: true }
  ).pipe(
    Effect.onInterrupt(() => Effect.sync(() => finish(Exit.interrupt()))),
    Effect.map(submitted)
  )
}

/** Waits for a chunked submission; interrupting cancels every chunk still out. */
export const awaitChunks = <A, E>(dispatcher: Dispatcher, group: Chunked): Effect.Effect<Array<A>, E> =>
  Effect.callback<Array<A>, E>((resume) => {
    if (group.exit !== undefined) return resume(group.exit as Exit.Exit<Array<A>, E>)
    group.waiter = resume as (exit: Exit.Exit<Array<unknown>, unknown>) => void
    return Effect.sync(() => {
      group.waiter = undefined
      for (const job of group.jobs) dispatcher.cancel(job)
    })
  })

/**
 * Yields each result of a chunk (an `imap`'s), clearing its place first: the
 * chunk keeps no result its caller has taken (CPython's test_free_reference).
 * The chunk is the pool's own (its worker's reply), so it may be cleared.
 */
export function* handOver(results: ReadonlyArray<unknown>): Generator<unknown> {
  const owned = results as Array<unknown>
  for (let i = 0; i < owned.length; i++) {
    const result = owned[i]
    owned[i] = undefined
    yield result
  }
}
