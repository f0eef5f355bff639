/**
 * The dispatcher's records: a `Job` (one task call or one chunk of a map, from
 * submission until it is settled) and a `Slot` (a worker as the dispatcher
 * sees it: the jobs it holds, what it has started and read, and the work
 * queued on it), with the little that is read off them: a worker's progress
 * (`progressOf`), and a job's estimated cost (`costOf`) with the rule that
 * learns it from complete runs (`learnCost`).
 *
 * What is done with them (dispatch, settling, a worker's death) is the
 * dispatcher's (dispatcher.ts).
 *
 * @internal
 */
import type * as Context from "effect/Context"
import type * as Exit from "effect/Exit"
import type * as Task from "../Task.ts"
import type * as Progress from "./progress.ts"
import * as Protocol from "./protocol.ts"
import * as Tracing from "./tracing.ts"
import type { Traced } from "./tracing.ts"

/** Most jobs in flight on one worker. */
const MAX_INFLIGHT = 512

/** One `RUN`: a single call or a chunk of a map. */
export interface Job {
  readonly id: number
  readonly task: Task.Any
  readonly kind: TaskKind
  readonly mode: Protocol.Mode
  payload: unknown
  readonly transfer: ReadonlyArray<Task.Transferable> | undefined
  readonly items: number
  cost: number
  slot: Slot | undefined
  /** Its position among the jobs posted to `slot`, to compare with `Slot.started`. */
  seq: number
  /** When it was submitted (`performance.now()`), for the wait-time statistics. */
  readonly submittedAt: number
  /** The one worker it must run on (an initializer, a broadcast), if any. */
  readonly target: Slot | undefined
  /**
   * The outcome, once settled; once handed to `waiter`, only a marker that it
   * is settled (the value is the caller's: a job must not keep it alive).
   */
  exit: Exit.Exit<unknown, unknown> | undefined
  /** Called once with the outcome, unless the job was cancelled first. */
  waiter: ((exit: Exit.Exit<unknown, unknown>) => void) | undefined
  cancelled: boolean
  /** Which `CANCEL` to its worker this job's was (1-based; 0: none sent), to compare with `Progress.cancelsRead`. */
  cancelOrdinal: number
  /** How many workers died holding it before it started (see `MAX_UNSTARTED_DEATHS` in dispatcher.ts). */
  deaths: number
  /** Its caller watches its task's progress (progress.ts); `undefined` for most jobs. */
  readonly watch: Progress.Watch | undefined
  /** Its caller's context, where what its task logs is logged again (see callerLogs.ts). */
  context: Context.Context<never> | undefined
  /** The traced call it belongs to, if its caller's tracer records (see tracing.ts). */
  traced: Traced | undefined
}

/** A new job, not yet sent (`slot` and `seq` are set when it is). */
export const makeJob = (
  id: number,
  task: Task.Any,
  kind: TaskKind,
  mode: Protocol.Mode,
  payload: unknown,
  items: number,
  transfer: ReadonlyArray<Task.Transferable> | undefined,
  target: Slot | undefined,
  watch: Progress.Watch | undefined
): Job => ({
  id,
  task,
  kind,
  mode,
  payload,
  transfer,
  items,
  cost: 0,
  slot: undefined,
  seq: -1,
  submittedAt: performance.now(),
  target,
  exit: undefined,
  waiter: undefined,
  cancelled: false,
  cancelOrdinal: 0,
  deaths: 0,
  watch,
  context: undefined,
  traced: undefined
})

/** What the dispatcher knows about a task function, by task id. */
export interface TaskKind {
  readonly key: number
  /** Estimated µs per item; negative while unknown. */
  microsPerItem: number
}

/** A worker, as the dispatcher sees it. */
export interface Slot {
  readonly workerId: number
  /** Posts a message to the worker, a copy made before it returns (the array may be reused); throws if it cannot be cloned. */
  readonly post: (message: Array<unknown>, transfers: ReadonlyArray<Task.Transferable>) => void
  /**
   * What the worker is doing, from memory it shares with the pool; `undefined`
   * for a worker that reports by message instead (see `progressOf`).
   */
  readonly progress: () => Protocol.Progress | undefined
  /** Most jobs in flight on it: one for a worker that cannot say which jobs it started. */
  readonly maxInflight: number
  /** `Progress.cancelsRead` as last reported by message. */
  cancelsReported: number
  /** `Progress.started` as reported by message by a worker that exits (`STATUS_STARTED`), if it did. */
  startedReported: number | undefined
  /** The number of the last liveness `PING` it answered (-1: none), from its checked `PONG`s. */
  pong: number
  /** It has answered the handshake: it may run the jobs meant for it. */
  online: boolean
  /** How many more shared jobs it may take before it is retired (`maxTasksPerWorker`). */
  budget: number
  /** Jobs meant for this worker only, not sent yet. */
  readonly direct: Array<Job>
  /** Jobs it has answered. */
  completed: number
  /** Jobs it has been given: a worker idle since a given count has had nothing since. */
  given: number
  /** How many jobs have been posted to it. */
  sent: number
  /** How many `CANCEL`s have been posted to it. */
  cancelsSent: number
  /** The jobs this worker holds, by job id. */
  readonly inflight: Map<number, Job>
  queuedMicros: number
  /**
   * It may be given more work besides what it holds in the dispatch under way: it held at most half of
   * `maxInflight` and of the window of estimated work (pipelining.ts) when the dispatch began.
   */
  refill: boolean
  /** The jobs given to it in the dispatch under way, to be sent as its share (dispatcher.ts). */
  batch: Array<Job>
  /** Task keys already defined on this worker. */
  readonly defined: Set<number>
  /** It may take shared jobs. */
  ready: boolean
  /** The highest `Progress.started` read so far: a worker's count never goes back. */
  startedSeen: number
  /** The highest `Progress.cancelsRead` read so far. */
  cancelsReadSeen: number
  /** The last check of its progress found it running a job it does not hold (see `progressFault` in liveness.ts). */
  runningUnheld: boolean
  /** It holds a job that has seen a worker die before it started: it takes nothing more until that one is answered. */
  isolating: boolean
  /** The task modules (by URL) this worker has answered a job of: loaded, or failed to load. */
  readonly answered: Set<string>
  /**
   * The task modules whose first job on this worker is in flight: it may be loading the module, and no other job of
   * that module is sent until it is answered (a job waiting for its module counts as started, so a worker killed
   * while it loads would take it along).
   */
  readonly loading: Set<string>
  /** The pool killed it (a stuck cancel, a failed liveness check): its death says nothing about the jobs it held. */
  killed: boolean
}

export const makeSlot = (
  workerId: number,
  post: Slot["post"],
  progress: Slot["progress"],
  maxInflight = MAX_INFLIGHT,
  budget = Infinity
): Slot => ({
  workerId,
  post,
  progress,
  maxInflight,
  cancelsReported: 0,
  startedReported: undefined,
  pong: -1,
  online: false,
  budget,
  direct: [],
  completed: 0,
  given: 0,
  sent: 0,
  cancelsSent: 0,
  ready: false,
  inflight: new Map(),
  queuedMicros: 0,
  refill: true,
  batch: [],
  defined: new Set(),
  startedSeen: 0,
  cancelsReadSeen: 0,
  runningUnheld: false,
  isolating: false,
  answered: new Set(),
  loading: new Set(),
  killed: false
})

/**
 * A worker's progress: read from shared memory, or, for a worker that reports
 * by message, every job sent counts as started (it holds one at a time) and the
 * `CANCEL`s read are the last count it reported.
 */
export const progressOf = (slot: Slot): Protocol.Progress =>
  slot.progress() ?? { started: slot.sent, running: undefined, cancelsRead: slot.cancelsReported }

/** A job's estimated cost (µs): unknown (-1) for one that has seen a worker die before it started, so it goes alone. */
export const costOf = (job: Job): number =>
  job.kind.microsPerItem < 0 || job.deaths > 0 ? -1 : job.kind.microsPerItem * job.items

/** Updates the estimate of what `job`'s task costs per item from a complete run of it (`micros`). */
export const learnCost = (job: Job, micros: number): void => {
  const kind = job.kind
  const perItem = micros / job.items
  kind.microsPerItem = kind.microsPerItem < 0 ? perItem : 0.7 * kind.microsPerItem + 0.3 * perItem
}

/**
 * Writes the operations that run `job` into `ops` from index `at` on, and returns where they end: its
 * `WATCH_PROGRESS` (if watched), `TRACE` / `LOG_LEVEL` (if any), `RUN`. Written by index, not pushed, so that one
 * array serves every message (the dispatcher cuts it to its length before posting): an array grown by `push` for
 * each message was a good part of what a burst allocates.
 */
export const writeRun = (job: Job, ops: Array<unknown>, at: number): number => {
  if (job.watch !== undefined || (job.context !== undefined && Tracing.hasRunOps(job))) {
    ops.length = at
    if (job.watch !== undefined) ops.push(Protocol.OP_WATCH_PROGRESS, job.id, job.watch.intervalMillis)
    if (job.context !== undefined) Tracing.beforeRun(job, ops)
    at = ops.length
  }
  ops[at] = Protocol.OP_RUN
  ops[at + 1] = job.id
  ops[at + 2] = job.kind.key
  ops[at + 3] = job.mode
  ops[at + 4] = job.payload
  return at + 5
}
