/**
 * The wire protocol between a pool and its workers.
 *
 * Both directions send flat arrays so that one `postMessage` carries many
 * tasks or many results: batching is what makes tiny tasks cheap.
 *
 * Pool → worker, a sequence of operations:
 * - `DEFINE key url name`: from now on `key` names function `name` of the
 *   task module at `url` (sent once per worker, before the key's first use).
 * - `RUN id key mode payload`: run a task; `mode` says how to read `payload`
 *   (or, `MODE_LOAD`, only load its module).
 * - `CANCEL id`: stop task `id` (abort its signal, interrupt its fiber, or
 *   skip it if it has not started).
 * - `LIMIT_HEAP bytes`: report (once) when, after a task, the worker's V8
 *   heap in use exceeds `bytes` (`maxHeapPerWorkerMb`).
 * - `LOAD_TIMEOUT millis`: a task module (with its setup layer) that has not
 *   loaded within `millis` fails the tasks that need it (`startTimeout`).
 * - `PING n`: are you listening? Answered at once, from the message handler
 *   and ahead of any work in the same message, with `PONG n` (see
 *   liveness.ts). It may come first in a message that carries a `RUN`.
 *
 * - `TRACE traceId spanId sampled`, `LOG_LEVEL level`: how the next `RUN`
 *   is traced and logs (see `OP_TRACE`, `OP_LOG_LEVEL`).
 *
 * - `RESEND seq`: the pool could not read the worker's message number `seq`
 *   (see "Lost messages" below).
 * - `WATCH_PROGRESS id interval`: the caller of the next `RUN id` wants the
 *   task's progress (`Task.progress`), at most one update per `interval`
 *   milliseconds (see progressWorker.ts). Sent just before that `RUN`, in the
 *   same message; a call that did not ask pays nothing.
 *
 * Worker → pool, a sequence of replies `id status payload micros`, where
 * `micros` is how long the task ran (the pool uses it to decide how many tasks
 * to keep in flight on each worker). Every message a worker sends is checked
 * where the pool decodes it (see boundary.ts): a worker that sends anything
 * else is faulty, and is replaced.
 *
 * Lost messages. A message can be well formed when the worker sends it and
 * still not be readable by the pool: a deeply nested result, serialized under
 * the worker's larger stack, overflows the pool's while it is deserialized
 * (threads: a `messageerror` event; processes: an exception in Node's IPC
 * channel, which the backend catches). The pool counts every message of a
 * worker from 0 (ready signal included) and answers a lost one with
 * `RESEND seq`:
 * - A thread worker keeps each batch it sent until the pool has read it: the
 *   pool publishes, in memory shared with it (`ThreadData.received`), how many
 *   of its messages it has read, up to its first lost one. On `RESEND` the
 *   worker sends that batch again, one reply per message, so that only the
 *   replies that cannot be read are lost.
 * - A process worker holds one job at a time, so a lost message holds one
 *   job's reply: nothing is kept or sent again.
 * Either way the worker then answers `STATUS_RESENT [seq, ids]`, `ids` being
 * the jobs it still holds (after sending every reply it had). Once the last
 * `RESEND` is answered, a job sent before it that the worker no longer holds
 * and the pool has not seen answered was answered in a message the pool could
 * not read: it fails with `SerializationError` (direction "result"), and the
 * other jobs are unaffected.
 *
 * Exits. A process worker that exits (a task calling `process.exit`, an
 * uncaught error) sends, from its `exit` handler, after its last replies,
 * `STATUS_STARTED` with how many of the jobs sent to it it had started: the
 * others, sent while it was already exiting, run on another worker (a thread
 * worker publishes the count in shared memory instead). The pool reads a
 * process's channel to its end before it handles the exit.
 *
 * Besides messages, a thread worker shares an `Int32Array` with the pool (see
 * `Progress`): `[0]` how many of its jobs it has started, `[1]` the id + 1 of
 * the job it is running synchronously right now (0 when none), `[2]` how many
 * `CANCEL`s it has read. Shared memory is seen at once, at no message cost.
 * With `fastWakeup`, a thread worker also shares a doorbell (see doorbell.ts):
 * `[DOORBELL_RINGS]` how many messages the pool has posted to it,
 * `[DOORBELL_PARKED]` 1 while it waits for the next one in `Atomics.wait`.
 *
 * @internal
 */

export const OP_DEFINE = 0
export const OP_RUN = 1
export const OP_CANCEL = 2
export const OP_LIMIT_HEAP = 3
/** `PING n`: the liveness check (see liveness.ts); the worker answers `STATUS_PONG` at once. */
export const OP_PING = 4
export const OP_LOAD_TIMEOUT = 5
/** `RESEND seq`: the pool lost the worker's message number `seq` (see "Lost messages"). */
export const OP_RESEND = 6
/** `WATCH_PROGRESS id interval`: report the progress of job `id` (its `RUN` follows), at most once per `interval` ms. */
export const OP_WATCH_PROGRESS = 9
/**
 * `TRACE traceId spanId sampled`: the next `RUN` is traced: its spans are
 * children of the caller's span `spanId` of trace `traceId`, and come back with
 * `STATUS_SPANS` (see tracing.ts). Sent only when the caller's tracer records.
 */
export const OP_TRACE = 7
/**
 * `LOG_LEVEL level`: the next `RUN` logs at `level` and above (the caller's
 * `References.MinimumLogLevel`); sent only when that is not effect's default,
 * `"Info"` (see workerLogs.ts).
 */
export const OP_LOG_LEVEL = 8

/** `payload` is the argument tuple of one call: `f(...args)`. */
export const MODE_APPLY = 0
/**
 * `payload` is a chunk of single arguments, as the caller gave them: `map`'s
 * (and `imap`'s) `f(x)` for each, called directly (no argument array is made
 * per item). The reply's payload is the array of results, in order.
 */
export const MODE_MAP = 1
/**
 * `payload` is a chunk of argument tuples, the caller's own tuples (not
 * wrapped, not copied before the message's clone): `starmap`'s `f(...args)`
 * for each. The reply's payload is the array of results, in order.
 */
export const MODE_STARMAP = 2

/**
 * `payload` is ignored: load the task's module (and build its setup layer),
 * run nothing, and answer `STATUS_OK` with `undefined` once it has loaded (or
 * fail as a call of it would). The pool's `preload`, before a worker is ready.
 */
export const MODE_LOAD = 3

export type Mode = typeof MODE_APPLY | typeof MODE_MAP | typeof MODE_STARMAP | typeof MODE_LOAD

/** `payload` is the result (an array of results for a chunk). */
export const STATUS_OK = 0
/** `payload` is a `RemoteError`. */
export const STATUS_FAILED = 1
/** `payload` is `[index, encoded]`: a declared error, encoded by its schema. */
export const STATUS_DECLARED = 2
/** `payload` is the message of the error that stopped the result being sent. */
export const STATUS_UNCLONEABLE = 3
/** The task was cancelled by the pool; `payload` is undefined. */
export const STATUS_CANCELLED = 4

/**
 * Not about a task (its id is -1): a worker without shared memory (a child
 * process) reports `Progress.cancelsRead`; `payload` is the count.
 */
export const STATUS_PROGRESS = 5
/**
 * Not about a task (its id is -1): the worker's heap in use went past its
 * `LIMIT_HEAP`; `payload` is the heap in use, in bytes. The pool retires it.
 */
export const STATUS_OVER_HEAP = 6

/**
 * Not about a task (its id is -1): the answer to `PING`, sent at once, on its
 * own; `payload` is the ping's number.
 */
export const STATUS_PONG = 7

/**
 * Not about a task (its id is -1): sent by a process worker as it exits;
 * `payload` is how many of the jobs sent to it it had started.
 */
export const STATUS_STARTED = 8

/**
 * Not about a task (its id is -1): the answer to `RESEND seq`, after the
 * replies sent again; `payload` is `[seq, ids]`, `ids` the jobs the worker
 * still holds.
 */
export const STATUS_RESENT = 9

/**
 * About a task whose caller watches its progress (`OP_WATCH_PROGRESS`): the
 * latest value the task passed to `Task.progress`; `micros` is 0. Always a
 * message of its own, sent before the task's reply (see progressWorker.ts).
 */
export const STATUS_TASK_PROGRESS = 12

/**
 * Not about a task (its id is -1): finished spans of traced jobs (see
 * `OP_TRACE`); `payload` is `[sentAt, spans]`, `sentAt` the worker's clock
 * (`performance.now()`) as it sent them, `spans` an array of `WireSpan`. Sent
 * ahead of the replies of the same message.
 */
export const STATUS_SPANS = 10

/**
 * Not about a task (its id is -1): what Effect tasks logged; `payload` is an
 * array of `WireLog`. Sent ahead of the replies of the same message.
 */
export const STATUS_LOGS = 11

export type Status =
  | typeof STATUS_OK
  | typeof STATUS_FAILED
  | typeof STATUS_DECLARED
  | typeof STATUS_UNCLONEABLE
  | typeof STATUS_CANCELLED
  | typeof STATUS_PROGRESS
  | typeof STATUS_OVER_HEAP
  | typeof STATUS_PONG
  | typeof STATUS_STARTED
  | typeof STATUS_RESENT
  | typeof STATUS_TASK_PROGRESS
  | typeof STATUS_SPANS
  | typeof STATUS_LOGS

/** A span a traced job made in its worker, finished (`STATUS_SPANS`). */
export interface WireSpan {
  /** The job it belongs to. */
  readonly job: number
  /** Its id in the worker; the caller's tracer gives it its own. */
  readonly id: string
  /** Its parent: another span of the same job, or the caller's span (`OP_TRACE`); `""` for a root span. */
  readonly parent: string
  readonly name: string
  readonly kind: "internal" | "server" | "client" | "producer" | "consumer"
  /** Start and end, in the worker's clock (`performance.now()`, milliseconds). */
  readonly start: number
  readonly end: number
  /** Its attributes, reduced to strings, numbers and booleans. */
  readonly attributes: ReadonlyArray<readonly [string, string | number | boolean]>
  /** `[name, time, attributes]`, `time` in the worker's clock. */
  readonly events: ReadonlyArray<readonly [string, number, ReadonlyArray<readonly [string, string | number | boolean]>]>
  /** 0: success; 1: failed (`error` says how); 2: interrupted. */
  readonly outcome: 0 | 1 | 2
  readonly error: string | undefined
}

/** One `Effect.log*` of an Effect task (`STATUS_LOGS`). */
export interface WireLog {
  readonly job: number
  /** An effect `LogLevel` ("Info", "Debug", …). */
  readonly level: string
  /** The logged values, each one that cannot be cloned replaced by its rendering. */
  readonly message: ReadonlyArray<unknown>
  /** The task's log annotations, values as the messages. */
  readonly annotations: ReadonlyArray<readonly [string, unknown]>
  /** The rendering of the cause logged with it, if any. */
  readonly cause: string | undefined
}

/** An error thrown in a worker, reduced to what always survives a clone. */
export interface RemoteError {
  readonly name: string
  readonly message: string
  readonly stack: string | undefined
}

/** Words per operation or reply in the flat arrays. */
export const REPLY_WIDTH = 4

/** What a worker publishes in memory it shares with the pool. */
export interface Progress {
  /** How many of the jobs posted to the worker it has started. */
  readonly started: number
  /** `runningSlot(id)` of the job it is running synchronously right now, or `undefined`. */
  readonly running: number | undefined
  /** How many `CANCEL`s it has read: one it has not read means it is blocked in synchronous code. */
  readonly cancelsRead: number
}

/**
 * Set in a worker's environment, with `NODE_COMPILE_CACHE`, when the pool (not
 * the user) turned the worker's compile cache on: the worker entry removes
 * both. (See `workerEnv` in nodeThreads.ts.)
 */
export const COMPILE_CACHE_MARKER = "EFFECT_MULTIPROCESSING_COMPILE_CACHE"

/** The doorbell cell the pool increments once per message it posts (see doorbell.ts). */
export const DOORBELL_RINGS = 0
/** The doorbell cell a thread worker sets to 1 while it waits in `Atomics.wait` (see workerWait.ts). */
export const DOORBELL_PARKED = 1

/** Encodes a job id for `Progress.running` in an Int32 slot (0 means none). */
export const runningSlot = (id: number): number => (id % 0x7ffffffe) + 1
