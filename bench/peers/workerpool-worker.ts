/** workerpool's worker file: `workerpool.worker` with one method per task (`exec(name, [data])`). */
import workerpool from "workerpool"
import * as Work from "../work.ts"

workerpool.worker({
  add: ([a, b]: [number, number]) => Work.add(a, b),
  howManyWithinRangeRows: (rows: Array<Array<number>>) => Work.howManyWithinRangeRows(rows),
  cpu: ([seed, iterations]: [number, number]) => Work.cpu(seed, iterations),
  scaleCopy: (values: Float64Array<ArrayBuffer>) => Work.scale(values),
  scaleTransfer: (values: Float64Array<ArrayBuffer>) => {
    const result = Work.scale(values)
    return new workerpool.Transfer(result, [result.buffer])
  }
})
