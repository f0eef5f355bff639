/**
 * Progress, the worker's side: what `Task.progress(value)` does in a task
 * whose caller watches its progress (`OP_WATCH_PROGRESS`), and nothing in
 * any other (one look at the running task's record).
 *
 * The coalescing rule, per task, with `interval` the caller's
 * `progressInterval` (100 ms by default):
 * - an update at least `interval` after the last one sent is sent at once
 *   (the first one always is), as a message of its own, even from a task
 *   busy in synchronous code;
 * - an update sooner than that is kept as the task's latest value, replacing
 *   the one kept before (the latest wins), and sent when the interval is up
 *   (a timer, if the task lets the event loop run), or by the next update
 *   after it, or just before the task's reply, whichever comes first;
 * - so the last update before the reply is never dropped, and updates arrive
 *   in the order the task made them, all before its result;
 * - with `interval` 0 every update is sent, in order: nothing is dropped.
 *
 * An update of a cancelled task, or made after its reply (a callback left
 * behind), goes nowhere. A value that cannot be sent makes `Task.progress`
 * throw when it is sent at once; a kept one that cannot be sent is dropped.
 *
 * @internal
 */
import * as Protocol from "./protocol.ts"
import type { Running, Shared, TaskContextStore } from "./workerRuntime.ts"
import { clearTimeoutOriginal, now, setTimeoutOriginal } from "./workerValues.ts"

/** What a watched task's record keeps about its progress. */
export interface Watch {
  /** The worker's runtime that runs the task (in the test layer, several share this thread's `Task.progress`). */
  readonly shared: Shared
  /** Fewest milliseconds between two updates sent. */
  readonly interval: number
  /** When the last update was sent (`-Infinity`: none yet). */
  last: number
  /** An update is kept, to be sent (`value`). */
  pending: boolean
  value: unknown
  timer: ReturnType<typeof setTimeout> | undefined
}

/** A new watch, from `OP_WATCH_PROGRESS`'s interval (anything that is not a non-negative number counts as 0). */
export const watch = (shared: Shared, interval: unknown): Watch => ({
  shared,
  interval: typeof interval === "number" && interval > 0 ? interval : 0,
  last: -Infinity,
  pending: false,
  value: undefined,
  timer: undefined
})

/** Posts one progress update of `task`, alone (see `Protocol.STATUS_TASK_PROGRESS`). */
const post = (shared: Shared, task: Running, watch: Watch, value: unknown): void => {
  watch.last = now()
  shared.send([task.id, Protocol.STATUS_TASK_PROGRESS, value, 0], [])
}

/** The task still runs and is not cancelled: an update of it may go out. */
const live = (shared: Shared, task: Running): boolean => !task.cancelled && shared.running.get(task.id) === task

/** Sends the update `task` keeps, if any (a kept value that cannot be sent is dropped). */
const sendKept = (shared: Shared, task: Running, watch: Watch): void => {
  if (watch.timer !== undefined) {
    clearTimeoutOriginal(watch.timer)
    watch.timer = undefined
  }
  if (!watch.pending) return
  const value = watch.value
  watch.pending = false
  watch.value = undefined
  if (!live(shared, task)) return
  try {
    post(shared, task, watch, value)
  } catch {
    // it cannot be cloned: dropped (an update sent at once throws to the task instead)
  }
}

/** What `Task.progress(value)` does in this worker. */
export const provider = (store: TaskContextStore) => (value: unknown): void => {
  const task = store.get()
  const watch = task?.watch
  if (watch === undefined) return
  const shared = watch.shared
  if (!live(shared, task!)) return
  const since = now() - watch.last
  if (since >= watch.interval) {
    // anything kept is older: replaced by this one
    if (watch.timer !== undefined) {
      clearTimeoutOriginal(watch.timer)
      watch.timer = undefined
    }
    watch.pending = false
    watch.value = undefined
    try {
      post(shared, task!, watch, value)
    } catch (error) {
      throw new TypeError(
        `Task.progress: the value cannot be sent to the caller: ${error instanceof Error ? error.message : String(error)}`
      )
    }
    return
  }
  watch.pending = true
  watch.value = value
  if (watch.timer === undefined) {
    const timer = setTimeoutOriginal(() => {
      watch.timer = undefined
      sendKept(shared, task!, watch)
    }, watch.interval - since)
    timer.unref?.()
    watch.timer = timer
  }
}

/** Just before a watched task's reply goes into the batch: its kept update goes out first. */
export const beforeReply = (task: Running): void => {
  if (task.watch !== undefined) sendKept(task.watch.shared, task, task.watch)
}
