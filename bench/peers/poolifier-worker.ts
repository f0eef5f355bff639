/**
 * poolifier's worker file: a `ThreadWorker` with one task function per task
 * (`execute(data, name)`). poolifier cannot transfer a result back, so
 * `scaleTransfer` returns a copy.
 */
import { ThreadWorker } from "poolifier"
import * as Work from "../work.ts"

export default new ThreadWorker<any, any>({
  add: ([a, b]: [number, number]) => Work.add(a, b),
  howManyWithinRangeRows: (rows: Array<Array<number>>) => Work.howManyWithinRangeRows(rows),
  cpu: ([seed, iterations]: [number, number]) => Work.cpu(seed, iterations),
  scaleCopy: (values: Float64Array<ArrayBuffer>) => Work.scale(values),
  scaleTransfer: (values: Float64Array<ArrayBuffer>) => Work.scale(values)
})
