/**
 * The worker's half of `Shared.map`: the task function `Shared.task` makes.
 * It checks a range's job against the kinds the task declared, builds what
 * the body reads (`Shared.Range`), runs the body and wraps its result. It
 * loads no part of effect (a worker imports it with its task module, before
 * its first task): an Effect result is wrapped with the effect the task
 * module loaded already (`fx()`).
 *
 * Threads: a typed array over a `SharedArrayBuffer` crosses `postMessage` by
 * reference, so the job's views are the caller's memory, and a write into
 * the output is the caller's, at once. Processes: Node's advanced
 * serialization copies a view's bytes (the view's only, not its whole
 * buffer), so the job holds a copy of its range, and the output goes back
 * with the reply, for the caller to copy in place. The task tells the two
 * apart by the output's buffer: shared, or not.
 *
 * @internal
 */
import { constructors, isKind, type Kind } from "./sharedKinds.ts"
import { classify, EFFECT, fx, VALUE } from "./workerValues.ts"

/** What a `Shared.task` declares: its kinds. Kept on the task function, under `specKey`. */
export interface Spec {
  readonly input: Kind
  readonly output: Kind | undefined
}

/** The wire form of one range: what the task function receives (a `map` item). */
export interface WireJob {
  readonly start: number
  readonly end: number
  readonly columns: number
  readonly input: ArrayBufferView
  readonly outputColumns: number
  readonly output: ArrayBufferView | undefined
  readonly args: ReadonlyArray<unknown>
}

/** What the body receives for one range (`Shared.Range`). */
export interface OpenRange {
  readonly start: number
  readonly end: number
  readonly input: View
  readonly output: View | undefined
}

interface View {
  readonly kind: Kind
  readonly data: ArrayBufferView
  readonly rows: number
  readonly columns: number
}

/** Shared by every copy of this package in the thread, as the task registry is. */
export const specKey: unique symbol = Symbol.for("effect-multiprocessing/Shared/spec") as any

/** The spec of a function declared with `Shared.task`, or `undefined`. */
export const specOf = (fn: unknown): Spec | undefined =>
  typeof fn === "function" ? (fn as { readonly [specKey]?: Spec })[specKey] : undefined

/** Checks the kinds given to `Shared.task` (at declaration: a `TypeError`, as `Task.module` throws). */
const checkSpec = (kinds: unknown): Spec => {
  const spec = kinds as { readonly input?: unknown; readonly output?: unknown } | undefined
  if (typeof spec !== "object" || spec === null || !isKind(spec.input)) {
    throw new TypeError(`Shared.task: expected { input: kind, output?: kind } (a kind is "Int32", "Float64", …)`)
  }
  if (spec.output !== undefined && !isKind(spec.output)) {
    throw new TypeError(`Shared.task: output must be a kind ("Int32", "Float64", …), got ${String(spec.output)}`)
  }
  return { input: spec.input, output: spec.output }
}

const count = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 0

/** Checks a job against the task's kinds (a `TypeError` fails the range, as any throw does). */
const openRange = (job: WireJob, spec: Spec): OpenRange => {
  const ok = typeof job === "object" && job !== null && count(job.start) && count(job.end) && job.end >= job.start &&
    count(job.columns) && Array.isArray(job.args) && job.input instanceof constructors[spec.input] &&
    (job.input as Uint8Array).length === (job.end - job.start) * job.columns &&
    (spec.output === undefined
      ? job.output === undefined
      : job.output instanceof constructors[spec.output] && count(job.outputColumns) &&
        (job.output as Uint8Array).length === (job.end - job.start) * job.outputColumns)
  if (!ok) {
    throw new TypeError(
      `a Shared.task takes the ranges of Shared.map (${spec.input} input${
        spec.output === undefined ? "" : `, ${spec.output} output`
      }): call it with Shared.map, not with the pool's methods`
    )
  }
  const rows = job.end - job.start
  return {
    start: job.start,
    end: job.end,
    input: { kind: spec.input, data: job.input, rows, columns: job.columns },
    output: spec.output === undefined
      ? undefined
      : { kind: spec.output, data: job.output!, rows, columns: job.outputColumns }
  }
}

/**
 * The range's reply: `[value]`, or `[value, output]` when the output is a
 * copy (a process worker's) that the caller must copy back. An Effect or a
 * promise is wrapped, not waited for: the pool runs it as any task's.
 */
const settle = (result: unknown, copiedOutput: ArrayBufferView | undefined): unknown => {
  const done = copiedOutput === undefined ? (value: unknown) => [value] : (value: unknown) => [value, copiedOutput]
  const kind = classify(result)
  if (kind === VALUE) return done(result)
  if (kind === EFFECT) return fx().Effect.map(result as any, done)
  return Promise.resolve(result).then(done)
}

/** `Shared.task` (typed in Shared.ts). */
export const task = (
  kinds: unknown,
  body: (range: OpenRange, ...args: ReadonlyArray<unknown>) => unknown
): (job: WireJob) => unknown => {
  const spec = checkSpec(kinds)
  if (typeof body !== "function") throw new TypeError(`Shared.task: the body must be a function`)
  const run = (job: WireJob): unknown => {
    const range = openRange(job, spec)
    // a process worker's output is a copy: it goes back with the reply, to be copied in place
    const copied = range.output !== undefined && !(range.output.data.buffer instanceof SharedArrayBuffer)
      ? range.output.data
      : undefined
    return settle(body(range, ...job.args), copied)
  }
  Object.defineProperty(run, specKey, { value: spec })
  return run
}
