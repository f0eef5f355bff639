/**
 * Logs across the boundary, on the caller's side: what an Effect task logs
 * with `Effect.log*` in its worker (`STATUS_LOGS`, see workerLogs.ts) is
 * logged again in its caller's context, the one the call was made in
 * (`Job.context`): the caller's loggers, its log annotations, its current span
 * (the call's span, when traced: a recording tracer's logger attaches the log
 * to it) and its `References.MinimumLogLevel` apply, as if the caller had
 * logged it, with the worker's annotations added (`workerId`, `taskId`, then
 * the task's own).
 *
 * Logged as the message arrives (a worker sends a log within a microtask of
 * it being written, ahead of any reply), by one short synchronous run per job
 * and message: nothing is spent on a job that logs nothing, and no fiber is
 * kept per task. The caller's fiber itself waits on its result meanwhile; the
 * log's fiber id is that of the run.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as LogLevel from "effect/LogLevel"
import type * as Protocol from "./protocol.ts"
import type { Job } from "./slot.ts"

/** The annotation keys the pool adds to a worker's logs. */
export const ANNOTATION = { worker: "workerId", task: "taskId" } as const

/**
 * Logs the records of a worker's message (checked at the boundary) in the
 * context of each one's caller. Records of a job the worker no longer holds
 * (a fiber the task left running) are dropped. A logger that throws loses its
 * logs, nothing else.
 */
export const deliver = (inflight: ReadonlyMap<number, Job>, workerId: number, logs: ReadonlyArray<Protocol.WireLog>) => {
  const byJob = new Map<Job, Array<Protocol.WireLog>>()
  for (const log of logs) {
    const job = inflight.get(log.job)
    if (job?.context === undefined) continue
    const list = byJob.get(job)
    if (list === undefined) byJob.set(job, [log])
    else list.push(log)
  }
  for (const [job, list] of byJob) {
    try {
      Effect.runSyncWith(job.context!)(logAll(list, workerId, job.task.id))
    } catch {
      // a logger threw: these logs are lost, the pool is unaffected
    }
  }
}

const logAll = (logs: ReadonlyArray<Protocol.WireLog>, workerId: number, taskId: string): Effect.Effect<void> =>
  Effect.forEach(logs, (log) => {
    const annotations: Record<string, unknown> = { [ANNOTATION.worker]: workerId, [ANNOTATION.task]: taskId }
    for (const [key, value] of log.annotations) annotations[key] = value
    const message = log.cause === undefined ? log.message : [...log.message, log.cause]
    return Effect.annotateLogs(Effect.logWithLevel(log.level as LogLevel.Severity)(...message), annotations)
  }, { discard: true })
