/**
 * What a backend (worker threads, child processes, the test layer's
 * in-process workers) gives the supervisor (supervisor.ts): how to spawn a
 * worker, and the pool's handle on a spawned one.
 *
 * @internal
 */
import type * as Task from "../Task.ts"
import type * as Boundary from "./boundary.ts"
import type * as Protocol from "./protocol.ts"

/** The platform's handle on one spawned worker (a thread or a child process). */
export interface RawWorker {
  /**
   * Posts a request in effect's worker envelope (`[0, message]`, see
   * `WorkerRunner.PlatformMessage`). Posting directly rather than through
   * `Worker.send` keeps clone errors synchronous (effect's send buffers until
   * its port is set, then fails the whole worker on a bad message) and saves
   * an Effect run per batch.
   */
  readonly post: (message: Array<unknown>, transfers: ReadonlyArray<Task.Transferable>) => void
  /**
   * Hands every message of the worker, once its envelope is checked (see
   * `Boundary.receive`), to `listener`, synchronously as it arrives: a batch of
   * replies, a message that breaks the protocol, or one this process could not
   * deserialize. The ready signal goes to effect's platform. (Effect's
   * `Worker.run` handles a message in a forked fiber, which the worker's exit
   * can interrupt before it runs: replies a dying worker sent would be lost.)
   */
  readonly listen: (listener: Boundary.Listener) => void
  /**
   * What the worker is doing, read from memory it shares with the pool, or
   * `undefined` if it cannot tell.
   */
  readonly progress: () => Protocol.Progress | undefined
  /**
   * Resolves with how the worker exited, and what it said about it (a
   * process's last error line on stderr), once every message it sent has been
   * handed to `listen` (for a process: its channel's end, within a bound).
   */
  readonly exited: Promise<ExitStatus>
  /** Kills the worker now. */
  readonly kill: () => void
  /** Whether the worker may keep the program alive. */
  readonly ref: (ref: boolean) => void
  /**
   * How long (ms) the worker's event loop has been idle so far, or `undefined`
   * if the platform cannot tell (see `IDLE_EVIDENCE_MILLIS`).
   */
  readonly idleMillis: (() => number) | undefined
}

/** How a worker exited. */
export interface ExitStatus {
  readonly code: number | null
  readonly signal: string | null
  /** What it said about it, if anything: a process's last error line on stderr. */
  readonly detail?: string | undefined
}

/** How a pool's workers are made: worker threads or child processes. */
export interface Spawn {
  /** Creates the platform's worker for an id: what effect's `Spawner` returns, and our handle on it. */
  readonly spawn: (id: number) => { readonly worker: unknown; readonly raw: RawWorker }
  /** Most jobs in flight on one worker (see `Slot.maxInflight`); `undefined` for the dispatcher's default. */
  readonly maxInflight: number | undefined
  /**
   * Starts the workers of ids `1..count` now, ahead of the rest of the pool's
   * set-up, so that their start-up (tens of milliseconds each) overlaps with
   * it; `spawn` hands them out when asked for those ids. One whose start throws
   * is left out: `spawn` throws the same when asked for it. Returns what kills,
   * and waits for, those never handed out.
   */
  readonly startEarly?: (count: number) => () => Promise<void>
}
