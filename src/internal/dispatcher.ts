/**
 * The dispatcher: where a task is chosen a worker, where a worker's replies
 * settle tasks (read in replies.ts), and where a worker's death fails exactly
 * the tasks it held.
 *
 * Plain synchronous code, no fibers: a submitted task is a `Job` record; the
 * caller's fiber waits on it through `Effect.callback` (see `awaitJob`). The
 * records (`Job`, and `Slot` for a worker) and the cost estimate are in
 * slot.ts.
 *
 * Dispatch keeps, for each worker, the jobs it holds (`Slot.inflight`: the
 * record that makes crash isolation and cancellation exact) and an estimate of
 * the work queued on it. Each job goes to the least-loaded ready worker, so an
 * idle worker always gets work before a busy one gets more. Several small jobs
 * may be in flight on one worker, sent as one message, until about
 * 2 ms of estimated work is queued there; a call whose cost is unknown or
 * large waits for an idle worker, so long calls never queue behind each other
 * while another worker idles. Chunks are the exception: a thread worker holds
 * two of them whatever their cost, so that the next one is copied to it while
 * it computes (each large one in a message of its own). A job that no worker
 * has room for goes to a worker whose thread is free, so that no call waits
 * without bound behind async tasks that end only after it. Those rules are in
 * pipelining.ts.
 *
 * A job may also be meant for one worker (`submitTo`: an initializer, a
 * broadcast): it waits in that worker's `direct` queue, goes out before any
 * shared work, and fails if that worker dies.
 *
 * A worker publishes how many of the jobs sent to it it has started
 * (`Slot.started`). When it dies, the jobs it had started fail with
 * `WorkerCrashed`; the ones it had not started go back to the front of the
 * queue (a job keeps its arguments until it is settled for that), unless
 * `MAX_UNSTARTED_DEATHS` workers have died holding it unstarted, having
 * started nothing: its argument is what kills them (one a worker cannot
 * deserialize), and it fails with `SerializationError`. A job that has seen a
 * worker die so is sent alone, to an idle worker, so that the next death
 * tells which job it was.
 *
 * @internal
 */
import * as Exit from "effect/Exit"
import type * as Task from "../Task.ts"
import * as Boundary from "./boundary.ts"
import * as Deaths from "./deaths.ts"
import * as Events from "./events.ts"
import * as Metrics from "./metrics.ts"
import type * as Progress from "./progress.ts"
import * as Protocol from "./protocol.ts"
import * as Pipelining from "./pipelining.ts"
import { Replies } from "./replies.ts"
import { costOf, type Job, makeJob, progressOf, type Slot, type TaskKind, writeRun } from "./slot.ts"

export const MAX_UNSTARTED_DEATHS = Deaths.MAX_UNSTARTED_DEATHS

export class Dispatcher {
  readonly slots: Array<Slot> = []
  private readonly kinds = new Map<string, TaskKind>()
  private queue: Array<Job> = []
  private head = 0
  private nextJobId = 0
  private flushScheduled = false
  /** Cancelled jobs still in the queue: dropped when dispatch reaches them, or all at once when many pile up. */
  private cancelledQueued = 0
  /** Submitted jobs whose caller has not been answered yet. */
  outstanding = 0
  /** Called whenever `outstanding` rises from zero. */
  onBusy: () => void = () => {}
  /** Called whenever `outstanding` drops to zero. */
  onIdle: () => void = () => {}
  /** Called when a running job is cancelled: the pool checks later whether it stopped (`cancelVerdict`). */
  onCancelRunning: (job: Job) => void = () => {}
  /** Called when dispatch leaves jobs queued that no worker has room for (a dynamic pool may grow). */
  onBacklog: () => void = () => {}
  /** Called when a ready worker has nothing to do (a dynamic pool may retire it later). */
  onSlotIdle: (slot: Slot) => void = () => {}
  /** Called when a worker has used up its `budget` and answered all its jobs: the pool replaces it. */
  onExhausted: (slot: Slot) => void = () => {}
  /** What the pool has done so far (see `WorkerPool.Stats`). */
  readonly totals = {
    succeeded: 0,
    failed: 0,
    runs: 0,
    runMillis: 0,
    maxRunMillis: 0,
    waits: 0,
    waitMillis: 0,
    maxWaitMillis: 0
  }
  /** The most jobs that may wait in the queue (`maxQueue`); submitters wait for room beyond it (`whenRoom`). */
  maxQueue = Infinity
  /** How many workers the pool runs once complete (its size, or its maximum); 0: as many as it has. */
  poolSize = 0
  /** Every worker the pool runs is ready, as of the dispatch under way (`Pipelining.isComplete`). */
  private complete = false
  /** The workers given jobs in the dispatch under way (each one's share in `Slot.batch`), in order. */
  private given: Array<Slot> = []
  /** A large chunk is among them (see `Pipelining.messagesInOrder`). */
  private large = false
  /** When the dispatch under way began (`performance.now()`): the jobs it gives out waited until then. */
  private now = 0
  /** The jobs a batch of replies answered and their outcomes (`job, exit`, flat), until settled (`onReplies`). */
  private readonly answeredJobs: Array<unknown> = []
  /** The `RUN` operations of the message being posted (`send`): one array for every message. */
  private readonly runs: Array<unknown> = []
  /** Submitters waiting for room in the queue, first come first served. */
  private roomWaiters: Array<() => void> = []
  /** The reply side: settling jobs from replies, and recovering the messages the pool could not read. */
  private readonly replies = new Replies(this)
  /** Looks again while a queued job waits for a worker's thread to be free (pipelining.ts). */
  private readonly recheck = new Pipelining.Recheck(() => this.dispatch())
  /** Once set (the pool has stopped), every new job is settled with it at once. */
  rejectWith: Exit.Exit<never, unknown> | undefined = undefined
  /** The pool's events (`pool.events`): what happens to its workers and queue. */
  events: Events.Events = Events.none
  /** The per-task histograms and outcome counters (metrics.ts). */
  metrics: Metrics.Metrics = Metrics.none

  // -- submitting and waiting ---------------------------------------------------

  submit(
    task: Task.Any,
    mode: Protocol.Mode,
    payload: unknown,
    items: number,
    transfer?: ReadonlyArray<Task.Transferable>,
    watch?: Progress.Watch
  ): Job {
    const job = this.makeJob(task, mode, payload, items, transfer, undefined, watch)
    if (job.exit === undefined) this.queue.push(job)
    return job
  }

  /** Submits a job that must run on `slot` (before any shared work it gets). */
  submitTo(slot: Slot, task: Task.Any, mode: Protocol.Mode, payload: unknown, items: number): Job {
    const job = this.makeJob(task, mode, payload, items, undefined, slot)
    if (job.exit === undefined) slot.direct.push(job)
    return job
  }

  private makeJob(
    task: Task.Any,
    mode: Protocol.Mode,
    payload: unknown,
    items: number,
    transfer: ReadonlyArray<Task.Transferable> | undefined,
    target: Slot | undefined,
    watch?: Progress.Watch
  ): Job {
    let kind = this.kinds.get(task.id)
    if (kind === undefined) {
      kind = { key: this.kinds.size, microsPerItem: -1 }
      this.kinds.set(task.id, kind)
    }
    const job = makeJob(this.nextJobId++, task, kind, mode, payload, items, transfer, target, watch)
    if (this.rejectWith !== undefined) {
      job.exit = this.rejectWith
      return job
    }
    if (this.outstanding++ === 0) this.onBusy()
    if (!this.flushScheduled) {
      this.flushScheduled = true
      queueMicrotask(() => {
        this.flushScheduled = false
        this.dispatch()
      })
    }
    return job
  }

  /**
   * Cancels a job on behalf of its caller: a queued job is dropped; a running
   * one is asked to stop, and its worker stays counted busy until the worker
   * answers.
   */
  cancel(job: Job): void {
    if (job.cancelled || job.exit !== undefined) return
    job.cancelled = true
    job.waiter = undefined
    job.payload = undefined
    this.metrics.outcome(job.kind.key, job.task, "cancelled")
    this.answered()
    if (job.slot !== undefined) {
      try {
        job.slot.post([Protocol.OP_CANCEL, job.id], [])
        job.cancelOrdinal = ++job.slot.cancelsSent
      } catch {
        // the worker is gone; its exit settles the slot
      }
      this.onCancelRunning(job)
    } else if (job.target === undefined && ++this.cancelledQueued > 1024 && this.cancelledQueued * 2 > this.queue.length - this.head) {
      // many callers gave up while the queue was stuck behind busy workers: drop their jobs now
      this.queue = this.queue.slice(this.head).filter((queued) => !queued.cancelled)
      this.head = 0
      this.cancelledQueued = 0
    }
  }

  /**
   * Counts as outstanding work until the returned function is called: a
   * running `imap` holds this while its input may still produce items, so a
   * closed pool waits for it as Python's does.
   */
  busy(): () => void {
    if (this.outstanding++ === 0) this.onBusy()
    let released = false
    return () => {
      if (released) return
      released = true
      this.answered()
    }
  }

  /**
   * Where a cancelled job stands, `cancelGracePeriod` (or longer) after its
   * `CANCEL` was sent:
   * - `"done"`: its worker has answered it (or is gone);
   * - `"stuck"`: its worker has not read the `CANCEL` (it is blocked in
   *   synchronous code), has started the job, and no other job is known to be
   *   the one blocking it: the worker must be replaced;
   * - `"ignored"`: its worker has read the `CANCEL` and had started the job,
   *   but the job has not answered (an async task that ignores its signal, an
   *   Effect that cannot be interrupted): the worker must be replaced;
   * - `"waiting"`: its worker has not started the job yet, or is blocked by
   *   another job: check again later.
   */
  cancelVerdict(job: Job): "done" | "stuck" | "ignored" | "waiting" {
    const slot = job.slot
    if (slot === undefined || job.cancelOrdinal === 0 || !slot.inflight.has(job.id)) return "done"
    const progress = progressOf(slot)
    if (job.seq < 0 || job.seq >= progress.started) return "waiting"
    if (progress.cancelsRead >= job.cancelOrdinal) return "ignored"
    if (progress.running !== undefined && progress.running !== Protocol.runningSlot(job.id)) return "waiting"
    return "stuck"
  }

  // -- dispatch -------------------------------------------------------------------

  /**
   * Gives each queued job, in order, to the least-loaded worker with room for
   * it, then sends each worker its share as one message.
   */
  dispatch(): void {
    this.large = false
    this.now = performance.now()
    this.complete = Pipelining.isComplete(this.slots, this.poolSize)
    // jobs meant for one worker first: its initializer must run before any shared work
    for (const slot of this.slots) {
      slot.refill = slot.inflight.size <= slot.maxInflight / 2 &&
        slot.queuedMicros <= Pipelining.TARGET_QUEUED_MICROS / 2
      if (!slot.online) continue
      while (slot.direct.length > 0) {
        const job = slot.direct[0]
        job.cost = costOf(job)
        if (!job.cancelled && !this.hasRoom(slot, job)) break
        slot.direct.shift()
        if (!job.cancelled) this.add(slot, job)
      }
    }
    while (this.head < this.queue.length) {
      const job = this.queue[this.head]
      if (job.cancelled) {
        this.head++
        this.cancelledQueued--
        continue
      }
      job.cost = costOf(job)
      // no worker has room: one whose thread is free (so that no call waits for ever behind async tasks)
      const slot = this.pick(job) ?? Pipelining.freeThread(this.slots, job, this.recheck)
      if (slot === undefined) break
      this.head++
      this.add(slot, job)
    }
    if (this.head === this.queue.length) {
      this.queue = []
      this.head = 0
      this.cancelledQueued = 0
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
    if (this.given.length > 0) this.sendAll()
    if (this.roomWaiters.length > 0) this.admit()
    this.recheck.settle()
    if (this.head < this.queue.length) this.onBacklog()
  }

  /**
   * Whether `slot` may take `job` now: an idle worker takes anything; a busy
   * one takes what fits the window, if it was at most half full when this
   * dispatch began (`Slot.refill`: a worker is topped up in few large
   * messages, not one per reply it sends), or, once the pool is complete, a
   * chunk when all it holds is one chunk (see pipelining.ts).
   */
  private hasRoom(slot: Slot, job: Job): boolean {
    if (job.target === undefined && slot.budget <= 0) return false
    if (slot.inflight.size === 0) return true
    if (slot.isolating || slot.loading.has(job.task.url) || slot.inflight.size >= slot.maxInflight) return false
    return (slot.refill && Pipelining.fitsWindow(slot, job)) || (this.complete && Pipelining.chunkMayWait(slot, job))
  }

  /** The least-loaded ready worker with room for `job`. */
  private pick(job: Job): Slot | undefined {
    let best: Slot | undefined
    for (const slot of this.slots) {
      if (!slot.ready || slot.direct.length > 0 || !this.hasRoom(slot, job)) continue
      if (best === undefined || slot.queuedMicros < best.queuedMicros ||
        (slot.queuedMicros === best.queuedMicros && slot.inflight.size < best.inflight.size)) {
        best = slot
      }
    }
    return best
  }

  /** Gives `job` to `slot` in the dispatch under way: it goes out with the slot's share (`sendAll`). */
  private add(slot: Slot, job: Job): void {
    this.hold(slot, job)
    this.large ||= Pipelining.isLarge(job)
    if (slot.batch.length === 0) this.given.push(slot)
    slot.batch.push(job)
  }

  private hold(slot: Slot, job: Job): void {
    if (job.target === undefined) slot.budget--
    slot.given++
    const waited = this.now - job.submittedAt
    this.totals.waits++
    this.totals.waitMillis += waited
    if (waited > this.totals.maxWaitMillis) this.totals.maxWaitMillis = waited
    this.metrics.wait(job.kind.key, job.task, waited)
    job.slot = slot
    slot.inflight.set(job.id, job)
    slot.queuedMicros += Math.max(job.cost, 0)
    if (job.deaths > 0) slot.isolating = true
    if (!slot.answered.has(job.task.url)) slot.loading.add(job.task.url)
  }

  /** Takes `job` off `slot` (also for replies.ts). */
  release(slot: Slot, job: Job): void {
    slot.inflight.delete(job.id)
    slot.queuedMicros = slot.inflight.size === 0 ? 0 : Math.max(0, slot.queuedMicros - Math.max(job.cost, 0))
    if (job.deaths > 0) slot.isolating = false
    if (!slot.answered.has(job.task.url)) slot.loading.delete(job.task.url)
    job.slot = undefined
  }

  /**
   * Posts each worker its share (`given`), in one message; with `large` chunks among them, in several, every
   * worker's first message first (see `Pipelining.messagesInOrder`).
   */
  private sendAll(): void {
    const given = this.given
    this.given = []
    const shares = this.large ? new Map<Slot, Array<Job>>() : undefined
    for (const slot of given) {
      const batch = slot.batch
      slot.batch = []
      if (shares === undefined) this.send(slot, batch)
      else shares.set(slot, batch)
    }
    if (shares !== undefined) for (const [slot, message] of Pipelining.messagesInOrder(shares)) this.send(slot, message)
  }

  /**
   * Posts a batch as one message (defining on the worker the task functions it
   * has not seen yet). If the batch cannot be cloned, posts the definitions,
   * then the jobs one by one, so that only the jobs whose arguments cannot be
   * sent fail.
   *
   * A job whose caller gave up after it was given this worker (a map failed by
   * another of its chunks that could not be sent, on this worker or another)
   * is not sent at all: its arguments are gone.
   */
  private send(slot: Slot, given: ReadonlyArray<Job>) {
    const batch = given.some((job) => job.cancelled) ? given.filter((job) => !this.unsent(slot, job)) : given
    if (batch.length === 0) return
    const defines: Array<unknown> = []
    const runs = this.runs // reused: written from 0, cut to its length, cleared once posted (see `writeRun`)
    let length = 0
    let transfers: Array<Task.Transferable> | undefined
    for (const job of batch) {
      if (!slot.defined.has(job.kind.key)) {
        slot.defined.add(job.kind.key)
        defines.push(Protocol.OP_DEFINE, job.kind.key, job.task.url, job.task.name)
      }
      length = writeRun(job, runs, length)
      if (job.transfer !== undefined) (transfers ??= []).push(...job.transfer)
    }
    runs.length = length
    try {
      slot.post(defines.length === 0 ? runs : defines.concat(runs), transfers ?? [])
      for (const job of batch) job.seq = slot.sent++
      return
    } catch {
      // find the culprits below
    } finally {
      runs.fill(undefined) // it keeps no argument alive
    }
    try {
      if (defines.length > 0) slot.post(defines, [])
    } catch {
      // the worker is gone; its exit settles the slot
      return
    }
    for (const job of batch) {
      // settling a culprit may fail its map, which cancels the batch-mates not sent yet
      if (this.unsent(slot, job)) continue
      try {
        const run: Array<unknown> = []
        writeRun(job, run, 0)
        slot.post(run, job.transfer ?? [])
        job.seq = slot.sent++
      } catch (error) {
        this.unsent(slot, job, true)
        this.settle(job, Deaths.argumentError(job, `cannot be sent to a worker: ${Boundary.errorMessage(error)}`))
      }
    }
  }

  /** Takes back from `slot` a job given to it but not posted, if it is cancelled (or `always`); says whether it did. */
  private unsent(slot: Slot, job: Job, always = false): boolean {
    if (!always && !job.cancelled) return false
    this.release(slot, job)
    if (job.target === undefined) slot.budget++
    return true
  }

  // -- replies ------------------------------------------------------------------------

  /**
   * Handles a batch of replies from a worker (replies.ts), refills it, then settles the jobs the batch answered:
   * the worker has its next work before their callers are resumed. Each reply is checked at the boundary before it
   * is used (see boundary.ts): at the first one that breaks the protocol the worker gets no more work, the rest is
   * ignored, and what is wrong is returned (the supervisor then replaces the worker); the replies before it count.
   */
  onReplies(slot: Slot, replies: ReadonlyArray<unknown>): string | undefined {
    // one list for every batch (a batch read while the callers of another are resumed would take a fresh one)
    const answered = this.answeredJobs.length === 0 ? this.answeredJobs : []
    const wrong = this.replies.read(slot, replies, answered)
    if (wrong !== undefined) {
      // faulty: it takes nothing more (what it held fails when the supervisor has replaced it)
      slot.ready = false
      slot.online = false
    }
    if (slot.budget <= 0 && slot.inflight.size === 0 && slot.direct.length === 0 && slot.ready) {
      slot.ready = false
      this.events.recycled(slot)
      this.onExhausted(slot)
    }
    this.dispatch()
    for (let i = 0; i < answered.length; i += 2) this.settle(answered[i] as Job, answered[i + 1] as Exit.Exit<unknown, unknown>)
    answered.length = 0
    if (slot.ready && slot.inflight.size === 0 && slot.direct.length === 0) this.onSlotIdle(slot)
    return wrong
  }

  /**
   * The pool could not read a worker's message number `seq`: the worker is
   * asked to send its replies again (see `Replies.onUnreadable`).
   */
  onUnreadable(slot: Slot, seq: number, error: unknown): void {
    this.replies.onUnreadable(slot, seq, error)
  }

  // -- workers coming and going -----------------------------------------------------

  addSlot(slot: Slot): void {
    this.slots.push(slot)
  }

  /** The worker answered the handshake: it may run jobs meant for it (its initializer). */
  markOnline(slot: Slot): void {
    slot.online = true
    this.dispatch()
  }

  /**
   * Calls `f` once the queue has room for another job (at once if it has),
   * in the order callers asked; returns a function that withdraws the request.
   */
  whenRoom(f: () => void): () => void {
    if (this.roomWaiters.length === 0 && this.hasQueueRoom()) {
      f()
      return () => {}
    }
    this.roomWaiters.push(f)
    this.events.queueFull(this.maxQueue)
    return () => {
      const index = this.roomWaiters.indexOf(f)
      if (index >= 0) this.roomWaiters.splice(index, 1)
    }
  }

  private hasQueueRoom(): boolean {
    return this.rejectWith !== undefined || this.queue.length - this.head - this.cancelledQueued < this.maxQueue
  }

  /** Lets waiting submitters in while there is room (or the pool has stopped: they then fail at once). */
  private admit(): void {
    while (this.roomWaiters.length > 0 && this.hasQueueRoom()) {
      // each admitted submitter submits at once, taking its place before the next is let in
      this.roomWaiters.shift()!()
    }
    if (this.roomWaiters.length === 0) this.events.roomAgain()
  }

  /** Jobs waiting to be sent to a worker. */
  queued(): number {
    let direct = 0
    for (const slot of this.slots) direct += slot.direct.length
    return this.queue.length - this.head - this.cancelledQueued + direct
  }

  /** The workers in the pool, starting or running, but not those being replaced (`maxTasksPerWorker`). */
  members(): Array<Slot> {
    return this.slots.filter((slot) => slot.budget > 0 || slot.ready)
  }

  /** The worker may take shared jobs. */
  markReady(slot: Slot): void {
    slot.online = true
    slot.ready = true
    this.dispatch()
    if (slot.inflight.size === 0 && slot.direct.length === 0) this.onSlotIdle(slot)
  }

  /**
   * A worker died: fail exactly the jobs it had started, put the ones it had
   * not started back at the front of the queue (or fail those that have now
   * seen `MAX_UNSTARTED_DEATHS` workers die holding them), and hand the queue
   * to the other workers.
   */
  removeSlot(slot: Slot, exitCode: number | null, signal: string | null, detail: string): void {
    const index = this.slots.indexOf(slot)
    if (index >= 0) this.slots.splice(index, 1)
    slot.ready = false
    this.replies.forget(slot)
    // what it published may be garbage: it never started fewer than we saw, nor more than it was sent; a process
    // worker that exited on its own said how many jobs it had started (the others were sent too late)
    const started = Math.min(slot.startedReported ?? Math.max(progressOf(slot).started, slot.startedSeen), slot.sent)
    const jobs = Array.from(slot.inflight.values())
    slot.inflight.clear()
    slot.queuedMicros = 0
    slot.isolating = false
    jobs.push(...slot.direct.splice(0))
    const requeued = Deaths.verdicts(slot, jobs, started, exitCode, signal, detail, (job, exit) => this.settle(job, exit))
    if (requeued.length > 0) {
      requeued.sort((a, b) => a.id - b.id)
      this.queue.splice(this.head, 0, ...requeued)
    }
    this.dispatch()
  }

  /** Fails every queued and running job (terminate, or a broken pool). */
  failAll(reason: unknown): void {
    queueMicrotask(() => this.admit()) // waiting submitters now fail at once (or find room)
    const error = Exit.fail(reason)
    const queued = this.queue.slice(this.head)
    this.queue = []
    this.head = 0
    this.cancelledQueued = 0
    for (const job of queued) {
      if (!job.cancelled && job.exit === undefined) this.settle(job, error)
    }
    for (const slot of this.slots) {
      for (const job of [...slot.inflight.values(), ...slot.direct.splice(0)]) {
        if (!job.cancelled && job.exit === undefined) this.settle(job, error)
      }
    }
  }

  /** Settles `job` with its outcome, once, unless it was cancelled (also for replies.ts). */
  settle(job: Job, exit: Exit.Exit<unknown, unknown>): void {
    if (job.exit !== undefined || job.cancelled) return
    job.exit = exit
    if (exit._tag === "Success") this.totals.succeeded++
    else this.totals.failed++
    if (exit._tag === "Failure") this.metrics.outcome(job.kind.key, job.task, Metrics.outcomeOf(exit)) // successes: replies.ts
    job.payload = undefined
    const waiter = job.waiter
    job.waiter = undefined
    this.answered()
    if (waiter === undefined) return // kept in `exit` for the caller who has yet to wait (see `awaitJob`)
    // handed over: the job (still in the queue's array, say) must not keep a result its caller has consumed
    job.exit = DELIVERED
    waiter(exit)
  }

  private answered(): void {
    if (--this.outstanding === 0) this.onIdle()
  }
}

/**
 * What a job's `exit` becomes once its outcome is handed to its waiter: it
 * still says "settled", without keeping the value alive. Nobody reads it for
 * the value: a waiter is only set on a job not yet settled.
 */
const DELIVERED: Exit.Exit<never, never> = Exit.die(new Error("effect-multiprocessing: this outcome was handed over"))

