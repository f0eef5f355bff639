/** piscina's worker file: one named export per task (`run(args, { name })`). */
import { move } from "piscina"
import * as Work from "../work.ts"

export const add = ([a, b]: [number, number]) => Work.add(a, b)
export const howManyWithinRangeRows = (rows: Array<Array<number>>) => Work.howManyWithinRangeRows(rows)
export const cpu = ([seed, iterations]: [number, number]) => Work.cpu(seed, iterations)
export const scaleCopy = (values: Float64Array<ArrayBuffer>) => Work.scale(values)
export const scaleTransfer = (values: Float64Array<ArrayBuffer>) => move(Work.scale(values))
export default add
