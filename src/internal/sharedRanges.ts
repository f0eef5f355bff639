/**
 * The caller's half of `Shared.map` (the worker's is sharedTask.ts): the
 * checks of a call, `plan`, which cuts the rows in ranges, one job each
 * (views of the range's rows: no copy), and `gather`, which copies back the
 * outputs that came back as copies (from process workers) and returns each
 * range's value.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import { TaskError } from "../PoolError.ts"
import { constructors, isKind, isSharedView, type Kind, kindOf } from "./sharedKinds.ts"
import type { Spec, WireJob } from "./sharedTask.ts"

/** The fewest values a range holds by default: below it, a message to a worker costs more than the range's work. */
export const MIN_VALUES_PER_RANGE = 32_768

/** Python's rule (about four ranges per worker), with ranges of at least `MIN_VALUES_PER_RANGE` values. */
export const defaultChunksize = (rows: number, columns: number, size: number): number =>
  Math.max(1, Math.ceil(rows / (4 * size)), Math.ceil(MIN_VALUES_PER_RANGE / Math.max(1, columns)))

/** A `Shared.SharedArray` as `Shared.map` reads it. */
export interface Array2D {
  readonly kind: Kind
  readonly rows: number
  readonly columns: number
  readonly data: ArrayBufferView & { readonly length: number; readonly subarray: (a: number, b: number) => any }
}

const count = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 0

/** Whether `u` is a well-formed shared array of any kind (it may have crossed a worker boundary: no brand). */
export const isArray2D = (u: unknown): u is Array2D => {
  if (typeof u !== "object" || u === null) return false
  const a = u as Partial<Array2D>
  return isKind(a.kind) && count(a.rows) && count(a.columns) && isSharedView(a.data, a.kind) &&
    a.data!.length === a.rows! * a.columns!
}

const illegal = (message: string) => new Cause.IllegalArgumentError(`Shared.map: ${message}`)

const what = (u: unknown): string => {
  if (typeof u !== "object" || u === null) return String(u)
  const kind = kindOf(u)
  if (kind !== undefined) return `a bare ${kind}Array (pass the Shared.SharedArray that holds it)`
  const a = u as Partial<Array2D>
  if (!isKind(a.kind)) return "not a Shared.SharedArray (make one with Shared.make or Shared.fromRows)"
  if (!isSharedView(a.data, a.kind)) return `an array whose data is not an ${a.kind}Array over a SharedArrayBuffer`
  return `an array whose data does not hold rows × columns values`
}

/** Checks a `Shared.map` call (the task's spec comes from this thread's registry, when known). */
export const check = (
  spec: Spec | undefined,
  input: unknown,
  output: unknown,
  args: unknown,
  chunksize: unknown
): Cause.IllegalArgumentError | undefined => {
  if (!isArray2D(input)) return illegal(`input is ${what(input)}`)
  if (output !== undefined) {
    if (!isArray2D(output)) return illegal(`output is ${what(output)}`)
    if (output.rows !== input.rows) {
      return illegal(`output has ${output.rows} rows, input has ${input.rows}: a range writes the same rows`)
    }
  }
  if (spec !== undefined) {
    if (input.kind !== spec.input) return illegal(`the task reads ${spec.input} input, got ${input.kind}`)
    if (spec.output === undefined && output !== undefined) return illegal(`the task declares no output`)
    if (spec.output !== undefined) {
      if (output === undefined) return illegal(`the task writes ${spec.output} output: pass an output`)
      if ((output as Array2D).kind !== spec.output) {
        return illegal(`the task writes ${spec.output} output, got ${(output as Array2D).kind}`)
      }
    }
  }
  if (args !== undefined && !Array.isArray(args)) return illegal(`args must be an array (the task's extra arguments)`)
  if (
    chunksize !== undefined && !(typeof chunksize === "number" && Number.isSafeInteger(chunksize) && chunksize >= 1)
  ) {
    return illegal(`chunksize must be a positive integer (rows per range), got ${String(chunksize)}`)
  }
  return undefined
}

/** The ranges of a map, in order: `chunksize` rows each (the last may hold fewer). */
export const plan = (
  input: Array2D,
  output: Array2D | undefined,
  args: ReadonlyArray<unknown>,
  chunksize: number
): Array<WireJob> => {
  const jobs: Array<WireJob> = []
  const columns = input.columns
  const outputColumns = output?.columns ?? 0
  for (let start = 0; start < input.rows; start += chunksize) {
    const end = Math.min(input.rows, start + chunksize)
    jobs.push({
      start,
      end,
      columns,
      input: input.data.subarray(start * columns, end * columns),
      outputColumns,
      output: output?.data.subarray(start * outputColumns, end * outputColumns),
      args
    })
  }
  return jobs
}

/**
 * The ranges' values, in order, once each copied output is back in place
 * (processes). A reply that is not what `Shared.task` sends (the task was not
 * declared with it) fails the call with a `TaskError`.
 */
export const gather = (
  taskId: string,
  jobs: ReadonlyArray<WireJob>,
  replies: ReadonlyArray<unknown>,
  output: Array2D | undefined
): Effect.Effect<Array<unknown>, TaskError> => {
  const values = new Array<unknown>(replies.length)
  for (let i = 0; i < replies.length; i++) {
    const reply = replies[i]
    const job = jobs[i]
    const copied = Array.isArray(reply) ? reply[1] : undefined
    if (!Array.isArray(reply) || reply.length > 2 || (copied !== undefined && !fits(copied, job, output))) {
      return Effect.fail(
        new TaskError({
          task: taskId,
          remoteName: "TypeError",
          message:
            `the reply for rows ${job.start} to ${job.end} is not a Shared.task's: declare the task with Shared.task`
        })
      )
    }
    if (copied !== undefined) {
      ;(output!.data as unknown as Uint8Array).set(copied as Uint8Array, job.start * job.outputColumns)
    }
    values[i] = reply[0]
  }
  return Effect.succeed(values)
}

const fits = (copied: unknown, job: WireJob, output: Array2D | undefined): boolean =>
  output !== undefined && copied instanceof constructors[output.kind] &&
  (copied as Uint8Array).length === (job.end - job.start) * job.outputColumns
