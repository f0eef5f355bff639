/**
 * Our pool's task module for the benchmark: the shared workloads of `work.ts`,
 * declared once with `Task.module`. Workers load this file by its URL.
 */
import { Task } from "../src/index.ts"
import * as Work from "./work.ts"

export const tasks = Task.module(import.meta.url, {
  add: Work.add,
  howManyWithinRange: Work.howManyWithinRange,
  howManyWithinRangeRow: Work.howManyWithinRangeRow,
  cpu: Work.cpu,
  /** Scenario 5, copy path: the result is cloned back. */
  scaleCopy: Work.scale,
  /** Scenario 5, transfer path: the result's buffer moves back. */
  scaleTransfer: (values: Float64Array<ArrayBuffer>) => {
    const result = Work.scale(values)
    return Task.transfer(result, [result.buffer])
  }
})
