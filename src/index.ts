/**
 * effect-multiprocessing: Python's `multiprocessing.Pool` for Effect.
 *
 * - `Task`: declare the functions workers run, in a task module.
 * - `WorkerPool`: run them in parallel with `apply`, `map`, `starmap`, `imap`…
 * - `Backend`: worker threads or child processes, chosen by a layer.
 * - `AsyncResult`: what the `*Async` methods return.
 * - The error classes a pool call can fail with.
 *
 * @since 0.1.0
 * @module
 */

export * as AsyncResult from "./AsyncResult.ts"

export * as Backend from "./Backend.ts"

export * as Task from "./Task.ts"

export * as WorkerPool from "./WorkerPool.ts"

/** @since 0.1.0 */
export {
  type DispatchError,
  PoolNotRunning,
  PoolStillRunning,
  PoolTerminated,
  ResultNotReady,
  SerializationError,
  TaskError,
  WorkerCrashed,
  WorkerStartFailed
} from "./PoolError.ts"
