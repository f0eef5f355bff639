/**
 * The task module of bench/call-gaps.ts: scenario 4's `cpu` computation, timed
 * in the worker, so that the tool can see how long each worker idles between
 * two calls. It only declares functions (a worker loads it by its URL).
 */
import { threadId } from "node:worker_threads"
import { Task } from "../../src/index.ts"
import * as Work from "../work.ts"

export const tasks = Task.module(import.meta.url, {
  /** `Work.cpu(seed, iterations)` with the worker's thread id and when it started and ended (ms since the epoch). */
  timedCpu: (seed: number, iterations: number) => {
    const started = performance.timeOrigin + performance.now()
    const result = Work.cpu(seed, iterations)
    return [threadId, started, performance.timeOrigin + performance.now(), result] as const
  }
})
