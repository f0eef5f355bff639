/**
 * The errors a pool call can fail with, besides the errors a task declares.
 *
 * Every class here is a schema-backed tagged error (`Schema.TaggedError`), so it
 * can be matched with `Effect.catchTag`, checked with `instanceof`, and carried
 * across a worker boundary by encode / decode.
 *
 * | error | when |
 * |---|---|
 * | `TaskError` | the task threw, its promise rejected, its Effect died or failed with an undeclared error |
 * | `SerializationError` | an argument could not be sent to a worker, or a result could not be sent back |
 * | `WorkerCrashed` | the worker running the task exited (exit code or signal) before answering |
 * | `WorkerStartFailed` | workers cannot start: the pool stopped respawning them and is broken |
 * | `PoolNotRunning` | a task was submitted after `close` or `terminate` |
 * | `PoolStillRunning` | `join` was called before `close` or `terminate` |
 * | `PoolTerminated` | the task was queued or running when the pool was terminated |
 * | `ResultNotReady` | `AsyncResult.successful` was asked before the result was ready |
 *
 * Invalid options (a pool size or chunksize that is not a positive integer) fail
 * with effect's own `Cause.IllegalArgumentError`; `AsyncResult.get` with a
 * timeout fails with effect's `Cause.TimeoutError`.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * A task failed inside its worker: it threw, its promise rejected, its Effect
 * died, or it failed with an error its module does not declare.
 *
 * Carries the remote error's name, message and stack (Python's
 * `RemoteTraceback`), and the task that failed as `module#name`. Printed, it
 * shows where it was thrown: its message names the remote error and the task
 * (`RangeError: out of range (in task file:///app/tasks.ts#parse)`), its
 * `stack` is the remote stack, and its `cause` is the remote error rebuilt
 * (name, message, stack), so `Cause.pretty`, `NodeRuntime.runMain`'s report
 * and `console.error` show the remote frames, as Python's "The above exception
 * was the direct cause" does. The remote message alone is `remoteMessage`.
 *
 * @example
 * ```ts
 * pool.apply(tasks.parse, ["{"]).pipe(
 *   Effect.catchTag("TaskError", (e) => Effect.logError(e.remoteName, e.remoteMessage, e.remoteStack))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class TaskError extends Schema.TaggedError<TaskError>("effect-multiprocessing/TaskError")("TaskError", {
  /** The task that failed, as `module#name`. */
  task: Schema.String,
  /** The remote error's `name` (`RangeError`, `Error`, …). */
  remoteName: Schema.String,
  /** The remote error's name and message, and the task: `RangeError: out of range (in task …#parse)`. */
  message: Schema.String,
  /** The remote error's stack, as the worker saw it. */
  remoteStack: Schema.optional(Schema.String),
  /** The remote error's own message. */
  remoteMessage: Schema.optional(Schema.String)
}) {
  /**
   * Given the remote error's `message` (and no `remoteMessage`), keeps it as
   * `remoteMessage` and makes `message` name the remote error and the task;
   * given both (a decoded `TaskError`), keeps them as they are.
   */
  constructor(props: {
    readonly task: string
    readonly remoteName: string
    readonly message: string
    readonly remoteStack?: string | undefined
    readonly remoteMessage?: string | undefined
  }) {
    const remoteMessage = props.remoteMessage ?? props.message
    const message = props.remoteMessage !== undefined
      ? props.message
      : `${remoteMessage === "" ? props.remoteName : `${props.remoteName}: ${remoteMessage}`} (in task ${props.task})`
    super({ ...props, message, remoteMessage })
    const remote = new Error(remoteMessage)
    remote.name = props.remoteName
    remote.stack = props.remoteStack ?? `${props.remoteName}: ${remoteMessage}`
    Object.defineProperty(this, "cause", { value: remote, configurable: true, writable: true, enumerable: false })
    // where it was thrown: the remote frames (where it was rebuilt, in the pool's reply handler, says nothing)
    this.stack = `${this.name}: ${message}${remoteFrames(remote.stack)}`
  }

  /** For `console.error` and `util.inspect`: the stack, then the remote error it was caused by. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    const cause = (this.cause as Error).stack!.split("\n").map((line) => `  ${line}`).join("\n")
    return `${this.stack} {\n  [cause]: ${cause.trimStart()}\n}`
  }
}

/** The frames of a stack (its `at` lines), after its first line(s), the error's name and message. */
const remoteFrames = (stack: string): string => {
  const lines = stack.split("\n")
  const first = lines.findIndex((line) => /^\s+at /.test(line))
  return first < 0 ? "" : `\n${lines.slice(first).join("\n")}`
}

/**
 * A value could not cross the worker boundary: an argument that cannot be
 * structured-cloned (a function, a symbol, an object holding one) or a result
 * that cannot be sent back. Only the call concerned fails; the pool and the
 * worker keep serving.
 *
 * @since 0.1.0
 * @category errors
 */
export class SerializationError extends Schema.TaggedError<SerializationError>(
  "effect-multiprocessing/SerializationError"
)("SerializationError", {
  /** The task whose value could not cross, as `module#name`. */
  task: Schema.String,
  /** Which way the value was going: an argument to the worker, or a result back. */
  direction: Schema.Literals(["argument", "result"]),
  /** Which value could not cross, and why (e.g. `the arguments of parse …`). */
  message: Schema.String
}) {}

/**
 * The worker that held the task exited before answering. Only the tasks that
 * worker held fail with this error; the worker is replaced.
 *
 * @since 0.1.0
 * @category errors
 */
export class WorkerCrashed extends Schema.TaggedError<WorkerCrashed>("effect-multiprocessing/WorkerCrashed")(
  "WorkerCrashed",
  {
    /** The worker that exited (as in `Stats.tasksPerWorker`). */
    workerId: Schema.Number,
    /** Its exit code, or `null` if it was killed by a signal. */
    exitCode: Schema.NullOr(Schema.Number),
    /** The signal that killed it (`"SIGKILL"`, …), or `null`. */
    signal: Schema.NullOr(Schema.String),
    /** Which worker exited, how, and while running which task. */
    message: Schema.String
  }
) {}

/**
 * Workers exited before they were ready several times in a row (a worker
 * file that cannot start, a setup that fails), so the pool stopped respawning
 * them: CPython would respawn forever. The pool is broken: the tasks it held
 * and every later submit fail with this error, carrying the last cause.
 *
 * @since 0.1.0
 * @category errors
 */
export class WorkerStartFailed extends Schema.TaggedError<WorkerStartFailed>(
  "effect-multiprocessing/WorkerStartFailed"
)("WorkerStartFailed", {
  /** How many worker starts failed (or timed out). */
  attempts: Schema.Number,
  /** What went wrong with the last one. */
  message: Schema.String
}) {}

/**
 * A task was submitted to a pool that was closed or terminated. Python raises
 * `ValueError("Pool not running")` in the same place.
 *
 * @since 0.1.0
 * @category errors
 */
export class PoolNotRunning extends Schema.TaggedError<PoolNotRunning>("effect-multiprocessing/PoolNotRunning")(
  "PoolNotRunning",
  {
    /** Whether the pool was closed or terminated. */
    state: Schema.Literals(["closed", "terminated"]),
    /** Says the pool accepts no more tasks, and why. */
    message: Schema.String
  }
) {}

/**
 * `join` was called while the pool still accepts work: call `close` or
 * `terminate` first, as in Python.
 *
 * @since 0.1.0
 * @category errors
 */
export class PoolStillRunning extends Schema.TaggedError<PoolStillRunning>("effect-multiprocessing/PoolStillRunning")(
  "PoolStillRunning",
  {
    /** Says `join` needs the pool closed or terminated first. */
    message: Schema.String
  }
) {}

/**
 * The task was queued or running when the pool was terminated (by
 * `terminate` or by closing the pool's scope).
 *
 * @since 0.1.0
 * @category errors
 */
export class PoolTerminated extends Schema.TaggedError<PoolTerminated>("effect-multiprocessing/PoolTerminated")(
  "PoolTerminated",
  {
    /** Says the pool was terminated before the task finished. */
    message: Schema.String
  }
) {}

/**
 * `AsyncResult.successful` was asked before the result was ready (Python
 * raises `ValueError` there). Use `ready` to poll without failing.
 *
 * @since 0.1.0
 * @category errors
 */
export class ResultNotReady extends Schema.TaggedError<ResultNotReady>("effect-multiprocessing/ResultNotReady")(
  "ResultNotReady",
  {
    /** Says the result is not ready yet. */
    message: Schema.String
  }
) {}

/**
 * Everything that can go wrong between submitting a task and receiving its
 * result, apart from the task's own declared errors.
 *
 * @since 0.1.0
 * @category errors
 */
export type DispatchError =
  | TaskError
  | SerializationError
  | WorkerCrashed
  | WorkerStartFailed
  | PoolNotRunning
  | PoolTerminated
