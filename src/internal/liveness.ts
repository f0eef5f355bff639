/**
 * The liveness check of a worker holding work (SEMANTICS.md 30): a worker
 * that stopped listening, whose answers no longer arrive, or that publishes
 * impossible progress in the memory it shares with the pool, is found out
 * within a bound and killed (the supervisor replaces it; its jobs fail with
 * `WorkerCrashed` saying why, or run elsewhere if it never started them).
 *
 * A worker that has sent nothing for a while is sent `PING n`, which it
 * answers at once from its message handler with `PONG n`. A worker that
 * cannot answer because a job it holds runs synchronous code is busy, not
 * dead, and is left alone (a cancel deals with it: `Dispatcher.cancelVerdict`).
 * Telling the two apart:
 * - a thread: its event loop can be seen from the pool. One that sat idle
 *   with the ping in its queue does not listen;
 * - either backend: a worker holding no job that it had started before the
 *   ping (so nothing we gave it can be blocking it) does not listen;
 * - a process shares no memory with the pool, so the pool cannot see which
 *   jobs it started: a job that may run long carries a ping in its own
 *   message, answered before the job starts (`PING_WITH_JOB_MICROS`); a
 *   process that does not answer that one never read the job.
 *
 * The hot path pays one counter increment per message received; a process
 * is sent at most one extra ping a second with its tiny jobs.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type * as Task from "../Task.ts"
import type { Dispatcher } from "./dispatcher.ts"
import type { Slot } from "./slot.ts"
import * as Protocol from "./protocol.ts"

/**
 * A worker holding work that has sent nothing for a tick of this length
 * (checked every tick while the pool is busy) is sent a `PING`.
 */
export const PING_AFTER = Duration.seconds(1)
/**
 * A `PING` unanswered this long is a verdict, not yet a death (see the module
 * doc): a worker found not listening is killed; a busy one is left alone. So a
 * worker that holds work and stops answering is replaced about
 * `2 × PING_AFTER + ANSWER_WITHIN` (4 s) after it last sent anything.
 */
export const ANSWER_WITHIN = Duration.seconds(2)
/**
 * Threads: how long a worker's event loop must have been idle since an
 * unanswered `PING` was sent to prove that it does not listen (a listening
 * worker answers within microseconds of being idle). Real time as the worker
 * measures it (`eventLoopUtilization`), not the pool's `Clock`: what it
 * proves is that the worker had time to answer.
 */
export const IDLE_EVIDENCE_MILLIS = 100
/**
 * Processes: a job the pool has no estimate for, or expects to run longer
 * than this (µs), carries a `PING` in its own message; so does any job when
 * the worker has not answered a ping for `PING_AFTER`. A stream of tiny jobs
 * costs no extra message.
 */
export const PING_WITH_JOB_MICROS = 1000

/** What the check needs of a worker. */
export interface Watched {
  readonly slot: Slot
  /** `undefined` until spawned. */
  readonly raw: {
    readonly post: (message: Array<unknown>, transfers: ReadonlyArray<Task.Transferable>) => void
    readonly idleMillis: (() => number) | undefined
  } | undefined
  /** Being replaced (`maxTasksPerWorker`): not checked. */
  readonly retiring: boolean
  readonly live: State
}

/** The check's record of one worker. */
export interface State {
  /** How many messages it has sent: a count that moves is a sign of life. */
  heard: number
  /** `heard` at the last tick. */
  heardAtTick: number
  /** The `PING` it has not answered yet. */
  ping: Ping | undefined
  /** When (Clock millis) it last answered a `PING`; -Infinity: never. */
  lastPong: number
}

/** A `PING` sent to a worker and not answered yet. */
interface Ping {
  readonly n: number
  /** When it was sent (Clock millis). */
  readonly sentAt: number
  /** `Slot.sent` when it was sent: jobs from this seq on went with it or after it. */
  readonly sentJobs: number
  /** The worker's `idleMillis` then. */
  readonly idle: number | undefined
}

/**
 * Why what a worker publishes in shared memory cannot be true, or
 * `undefined` if it can: it cannot have started more jobs than it was sent,
 * nor read more `CANCEL`s than it was sent, nor count back; and the job it
 * says it is running must be one it holds (checked twice in a row: a worker
 * may still name, for an instant, a job it has just answered). A worker that
 * reports by message is not checked here.
 */
export const progressFault = (slot: Slot): string | undefined => {
  const progress = slot.progress()
  if (progress === undefined) return undefined
  const { cancelsRead, running, started } = progress
  if (started < slot.startedSeen || started > slot.sent) {
    return `started ${started} jobs, but it was sent ${slot.sent} and had started ${slot.startedSeen}`
  }
  if (cancelsRead < slot.cancelsReadSeen || cancelsRead > slot.cancelsSent) {
    return `cancels read ${cancelsRead}, but it was sent ${slot.cancelsSent} and had read ${slot.cancelsReadSeen}`
  }
  slot.startedSeen = started
  slot.cancelsReadSeen = cancelsRead
  const unheld = running !== undefined && !holdsRunning(slot, running)
  if (unheld && slot.runningUnheld) return `running job slot ${running}, which is not a job it holds`
  slot.runningUnheld = unheld
  return undefined
}

/** Whether `running` (a `Progress.running` slot) names a job the worker holds. */
const holdsRunning = (slot: Slot, running: number): boolean => {
  if (slot.inflight.has(running - 1)) return true
  for (const id of slot.inflight.keys()) {
    if (Protocol.runningSlot(id) === running) return true
  }
  return false
}

export const initialState = (): State => ({ heard: 0, heardAtTick: 0, ping: undefined, lastPong: -Infinity })

export const make = Effect.fnUntraced(function*(options: {
  readonly dispatcher: Dispatcher
  /** The workers now. */
  readonly workers: () => Iterable<Watched>
  /** Kills a worker, for the reason given. */
  readonly kill: (worker: Watched, because: string) => void
  /** The pool is stopping: no more checks. */
  readonly stopping: () => boolean
  /** Runs an effect in the pool's background (with its `Clock`). */
  readonly fork: (effect: Effect.Effect<void>) => Fiber.Fiber<void>
}) {
  const { dispatcher } = options
  const clock = yield* Clock.Clock
  let nextPing = 1
  let watching = false

  const pingWithJob = (worker: Watched): boolean => {
    if (clock.currentTimeMillisUnsafe() - worker.live.lastPong >= Duration.toMillis(PING_AFTER)) return true
    for (const job of worker.slot.inflight.values()) {
      // the jobs of this message (not sent yet)
      if (job.seq < 0 && (job.cost < 0 || job.cost >= PING_WITH_JOB_MICROS)) return true
    }
    return false
  }

  /**
   * One tick for a worker holding work: checks its shared progress, pings it
   * if it has been silent since the last tick, and returns why it is dead if
   * its ping has gone unanswered past `ANSWER_WITHIN`.
   */
  const check = (worker: Watched, now: number): string | undefined => {
    const { live, slot } = worker
    const raw = worker.raw!
    const fault = progressFault(slot)
    if (fault !== undefined) return `killed: its progress in shared memory is impossible: ${fault}`
    const heard = live.heard !== live.heardAtTick
    live.heardAtTick = live.heard
    const ping = live.ping
    if (ping === undefined) {
      if (heard) return undefined
      const n = nextPing++
      try {
        raw.post([Protocol.OP_PING, n], [])
      } catch {
        return undefined // it is gone: its exit settles it
      }
      live.ping = { n, sentAt: now, sentJobs: slot.sent, idle: raw.idleMillis?.() }
      return undefined
    }
    if (now - ping.sentAt < Duration.toMillis(ANSWER_WITHIN)) return undefined
    const silence = `killed: it did not answer a liveness check for ${Duration.format(ANSWER_WITHIN)}`
    if (ping.idle !== undefined && raw.idleMillis!() - ping.idle >= IDLE_EVIDENCE_MILLIS) {
      return `${silence} while its event loop was idle: it no longer listens, or its answers no longer arrive`
    }
    // a job it had started before the ping may be running synchronous code: then it is busy, not dead
    const started = Math.min(slot.progress()?.started ?? slot.sent, ping.sentJobs)
    for (const job of slot.inflight.values()) {
      if (job.seq >= 0 && job.seq < started) return undefined
    }
    return `${silence}, and no job it holds can be keeping it busy: it no longer listens, or its answers no longer arrive`
  }

  /** Lets this thread's event loop turn (its poll phase reads what workers sent), so an answer on its way counts. */
  const turn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve))))

  /** Checks every ready worker holding work, once per `PING_AFTER`, while the pool is busy. */
  const loop: Effect.Effect<void> = Effect.sleep(PING_AFTER).pipe(Effect.andThen(Effect.suspend(() => {
    if (options.stopping()) return Effect.void
    const now = clock.currentTimeMillisUnsafe()
    const dead: Array<readonly [Watched, Ping | undefined, string]> = []
    let holding = false
    for (const worker of options.workers()) {
      if (!worker.slot.ready || worker.retiring || worker.raw === undefined || worker.slot.inflight.size === 0) continue
      holding = true
      const because = check(worker, now)
      if (because !== undefined) dead.push([worker, worker.live.ping, because])
    }
    const next = Effect.suspend(() => holding || dispatcher.outstanding > 0 ? loop : Effect.void)
    if (dead.length === 0) return next
    return turn.pipe(
      Effect.andThen(Effect.sync(() => {
        for (const [worker, ping, because] of dead) {
          // answered meanwhile (impossible progress has no ping to answer)
          if (ping === undefined || worker.live.ping === ping) options.kill(worker, because)
        }
      })),
      Effect.andThen(next)
    )
  })))

  return {
    /** Posts to a worker; a process's job goes with a `PING` when it may run long (see `PING_WITH_JOB_MICROS`). */
    post: (worker: Watched, message: Array<unknown>, transfers: ReadonlyArray<Task.Transferable>): void => {
      const raw = worker.raw!
      if (raw.idleMillis !== undefined || message[0] === Protocol.OP_CANCEL || worker.live.ping !== undefined ||
        !pingWithJob(worker)) {
        return raw.post(message, transfers)
      }
      const n = nextPing++
      const sentJobs = worker.slot.sent
      raw.post([Protocol.OP_PING, n, ...message], transfers)
      worker.live.ping = { n, sentAt: clock.currentTimeMillisUnsafe(), sentJobs, idle: undefined }
    },
    /** Counts a checked batch from a worker, and notes whether it has answered its `PING` (`Slot.pong`). */
    onMessage: (worker: Watched): void => {
      const live = worker.live
      live.heard++
      // the PONGs of the batch were read by the dispatcher's reply side, once the boundary had checked them
      if (live.ping !== undefined && worker.slot.pong >= live.ping.n) {
        live.ping = undefined
        live.lastPong = clock.currentTimeMillisUnsafe()
      }
    },
    /** The pool got work: checks the workers holding it while the pool stays busy. */
    watch: (): void => {
      if (watching || options.stopping()) return
      watching = true
      options.fork(Effect.ensuring(loop, Effect.sync(() => void (watching = false))))
    }
  }
})
