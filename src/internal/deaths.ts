/**
 * What a worker's death means for each job it held (the dispatcher's
 * `removeSlot` applies it): a job it had started fails with `WorkerCrashed`;
 * one it had not started runs elsewhere, unless workers keep dying receiving
 * it (see `MAX_UNSTARTED_DEATHS`), when it fails with `SerializationError`.
 *
 * @internal
 */
import * as Exit from "effect/Exit"
import { SerializationError, WorkerCrashed } from "../PoolError.ts"
import type { Job, Slot } from "./slot.ts"

/**
 * How many workers may die holding a job they had not started before the job
 * fails with `SerializationError` (its argument kills the workers that receive
 * it, e.g. one that exceeds their `resourceLimits`), instead of being requeued
 * for ever.
 */
export const MAX_UNSTARTED_DEATHS = 2

/**
 * The verdict on every job `slot` held when it died, `started` being how many
 * of the jobs sent to it it had started (jobs numbered by `job.seq`): fails
 * with `settle` those that fail, in order (settling one may cancel its
 * batch-mates: a cancelled job is left out, its waiter has gone), and returns
 * those to run again.
 */
export const verdicts = (
  slot: Slot,
  jobs: ReadonlyArray<Job>,
  started: number,
  exitCode: number | null,
  signal: string | null,
  detail: string,
  settle: (job: Job, exit: Exit.Exit<never, WorkerCrashed | SerializationError>) => void
): Array<Job> => {
  const requeued: Array<Job> = []
  const how = signal !== null ? `was killed by signal ${signal}` : `exited with code ${exitCode}`
  // the death counts against the jobs it had not started only if nothing else explains it: the pool did not kill
  // it, it did not exit cleanly (a task's process.exit(0) after it returned: a worker that cannot receive a
  // message exits with 1, or crashes), and it had started none of the jobs it held (it died receiving them)
  const unexplained = !slot.killed && exitCode !== 0 && !jobs.some((job) => job.seq >= 0 && job.seq < started)
  for (const job of jobs) {
    job.slot = undefined
    if (job.cancelled) continue
    if (job.seq >= started && job.target === undefined) {
      job.seq = -1
      if (!unexplained || ++job.deaths < MAX_UNSTARTED_DEATHS) {
        requeued.push(job)
        continue
      }
      settle(job, argumentError(
        job,
        `cannot be received by a worker: ${job.deaths} workers died receiving it, before it started; the last ` +
          `one, worker ${slot.workerId}, ${how} (${detail})`
      ))
      continue
    }
    settle(job, Exit.fail(
      new WorkerCrashed({
        workerId: slot.workerId,
        exitCode,
        signal,
        message: `worker ${slot.workerId} ${how} while running ${job.task.name} (${detail})`
      })
    ))
  }
  return requeued
}

/** A call whose arguments cannot reach a worker: the message says why, after "the arguments of <task>". */
export const argumentError = (job: Job, why: string): Exit.Exit<never, SerializationError> =>
  Exit.fail(
    new SerializationError({ task: job.task.id, direction: "argument", message: `the arguments of ${job.task.name} ${why}` })
  )
