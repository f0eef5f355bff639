/**
 * Data-parallel maps over shared typed memory: Python's
 * `multiprocessing.shared_memory` with a NumPy array over it, for numeric
 * data.
 *
 * A `SharedArray` is `rows × columns` numbers of one kind (`"Int32"`,
 * `"Float64"`, …) in a typed array over a `SharedArrayBuffer`, row after row.
 * `Shared.map` runs a task over ranges of its rows on the pool's workers: each
 * range's task reads its rows as typed views and writes its results into a
 * shared output, with no copy of the data on worker threads. Each range is one
 * task of a `pool.map`, so it keeps every guarantee of the pool: interrupting
 * the map cancels its ranges (the queued ones never run, the running one sees
 * `Task.signal()` fire), a worker that crashes fails the map with
 * `WorkerCrashed` and is replaced, a declared error arrives as itself, and
 * `stats` counts each range as a task.
 *
 * Child processes share no memory with the pool: there each range's rows are
 * copied to its worker and its output copied back (same results, the cost of
 * a copy). When data starts as plain arrays, `fromRows` packs them, checked,
 * in about one pass over the data: it pays when the map runs more than once
 * over the same data, or when its work per value is more than a copy's.
 *
 * | Python | here |
 * |---|---|
 * | `shm = SharedMemory(create=True, size=n)` + `np.ndarray((rows, cols), np.int32, shm.buf)` | `Shared.make("Int32", rows, cols)` |
 * | `arr[:] = rows` (`np.array(rows, dtype=np.int32)`) | `Shared.fromRows(rows, "Int32")` (checked) |
 * | a worker's `SharedMemory(name)` + `arr[start:end]` | the `Range` a `Shared.task` receives |
 * | `pool.map(f, [(name, start, end), …])` | `Shared.map(pool, task, { input, output })` |
 * | `shm.close(); shm.unlink()` | nothing: the memory is freed when no thread holds it |
 *
 * @example
 * ```ts
 * // tasks.ts: how many numbers of each row lie in [minimum, maximum]
 * export const tasks = Task.module(import.meta.url, {
 *   countWithinRange: Shared.task(
 *     { input: "Int32", output: "Int32" },
 *     ({ input, output }, minimum: number, maximum: number) => {
 *       const { data, rows, columns } = input
 *       for (let r = 0; r < rows; r++) {
 *         let count = 0
 *         for (let c = r * columns; c < (r + 1) * columns; c++) if (minimum <= data[c] && data[c] <= maximum) count++
 *         output.data[r] = count
 *       }
 *     }
 *   )
 * })
 *
 * // main.ts
 * const input = yield* Shared.fromRows(rows, "Int32")
 * const output = yield* Shared.make("Int32", input.rows)
 * yield* Shared.map(pool, tasks.countWithinRange, { input, output, args: [4, 8] })
 * // output.data[i] is the count of row i
 * ```
 *
 * @since 0.1.0
 * @module
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type { DispatchError } from "./PoolError.ts"
import * as TaskModule from "./Task.ts"
import type { Task } from "./Task.ts"
import type { Pool } from "./WorkerPool.ts"
import * as SharedKinds from "./internal/sharedKinds.ts"
import * as SharedPack from "./internal/sharedPack.ts"
import * as SharedRanges from "./internal/sharedRanges.ts"
import * as SharedTask from "./internal/sharedTask.ts"

/**
 * The kind of number a shared array holds, named after its typed array:
 * `"Int32"` is an `Int32Array` (NumPy's `int32`), `"Float64"` a
 * `Float64Array` (`float64`), and so on.
 *
 * @since 0.1.0
 * @category models
 */
export type Kind = "Int8" | "Uint8" | "Int16" | "Uint16" | "Int32" | "Uint32" | "Float32" | "Float64"

/**
 * The typed array of each kind, over memory of type `B`.
 *
 * @since 0.1.0
 * @category models
 */
export interface TypedArrays<B extends ArrayBufferLike> {
  /** `Int8Array`. */
  readonly Int8: Int8Array<B>
  /** `Uint8Array`. */
  readonly Uint8: Uint8Array<B>
  /** `Int16Array`. */
  readonly Int16: Int16Array<B>
  /** `Uint16Array`. */
  readonly Uint16: Uint16Array<B>
  /** `Int32Array`. */
  readonly Int32: Int32Array<B>
  /** `Uint32Array`. */
  readonly Uint32: Uint32Array<B>
  /** `Float32Array`. */
  readonly Float32: Float32Array<B>
  /** `Float64Array`. */
  readonly Float64: Float64Array<B>
}

/**
 * `rows × columns` numbers of kind `K` in shared memory, row after row (NumPy's
 * C order): the value at row `r`, column `c` is `data[r * columns + c]`. A
 * plain object: it can be passed to a task as it is (a worker thread sees the
 * same memory). Make one with `make` or `fromRows`.
 *
 * @since 0.1.0
 * @category models
 */
export interface SharedArray<K extends Kind = Kind> {
  /** The kind of its numbers. */
  readonly kind: K
  /** How many rows. */
  readonly rows: number
  /** How many numbers a row holds (1 for a flat array: its rows are its indices). */
  readonly columns: number
  /** The numbers, over a `SharedArrayBuffer`: read and write them directly. */
  readonly data: TypedArrays<SharedArrayBuffer>[K]
}

/**
 * The rows of one range as a task sees them: `rows × columns` numbers, row
 * after row, starting with the range's first row (`data[0]` is row `start`,
 * column 0). On worker threads `data` is a view of the caller's very memory;
 * in a child process, a copy.
 *
 * @since 0.1.0
 * @category models
 */
export interface Slice<K extends Kind> {
  /** The kind of its numbers. */
  readonly kind: K
  /** The range's numbers: row `start + r`, column `c` is `data[r * columns + c]`. */
  readonly data: TypedArrays<ArrayBufferLike>[K]
  /** How many rows the range holds (`end - start`). */
  readonly rows: number
  /** How many numbers a row holds. */
  readonly columns: number
}

/**
 * What the body of a `Shared.task` receives for one range of rows: the rows
 * `start` (inclusive) to `end` (exclusive) of the input, and the same rows of
 * the output, if the task declares one.
 *
 * @since 0.1.0
 * @category models
 */
export interface Range<I extends Kind, O extends Kind | undefined> {
  /** The range's first row, in the whole array. */
  readonly start: number
  /** One past its last row. */
  readonly end: number
  /** The range's rows of the input. */
  readonly input: Slice<I>
  /** The range's rows of the output: write the results here (`undefined` when the task declares no output). */
  readonly output: O extends Kind ? Slice<O> : undefined
}

declare const JobTypeId: unique symbol

/**
 * What a `Shared.task` takes from `Shared.map` for one range (its rows as
 * views, the extra arguments): built by `Shared.map`, never by hand.
 *
 * @since 0.1.0
 * @category models
 */
export interface Job<I extends Kind, O extends Kind | undefined, Args extends ReadonlyArray<unknown>> {
  /** Carries the kinds and the extra arguments for the type checker; nothing to read. @internal */
  readonly [JobTypeId]?: { readonly input: I; readonly output: O; readonly args: Args }
  /** The range's first row. */
  readonly start: number
  /** One past its last row. */
  readonly end: number
  /** Numbers per input row. */
  readonly columns: number
  /** The range's input rows. */
  readonly input: TypedArrays<ArrayBufferLike>[I]
  /** Numbers per output row (0 without an output). */
  readonly outputColumns: number
  /** The range's output rows, if the task declares an output. */
  readonly output: O extends Kind ? TypedArrays<ArrayBufferLike>[O] : undefined
  /** The task's extra arguments. */
  readonly args: Args
}

/**
 * What a `Shared.task` answers for one range: the body's value, and, from a
 * child process, the range's output, which `Shared.map` copies back.
 *
 * @since 0.1.0
 * @category models
 */
export type Done<A> = readonly [value: A, copiedOutput?: ArrayBufferView]

/**
 * The task function `Shared.task` makes from a body returning `R`: a value,
 * a promise or an Effect, as the body's (its errors and requirements kept).
 *
 * @since 0.1.0
 * @category type-level
 */
export type RangeReturn<R> = [R] extends [Effect.Effect<infer A, infer E, infer Q>] ? Effect.Effect<Done<A>, E, Q>
  : [R] extends [PromiseLike<infer A>] ? Promise<Done<A>>
  : Done<R>

/**
 * A task declared with `Shared.task`, as `Task.module` makes its handle.
 *
 * @since 0.1.0
 * @category models
 */
export type RangeTask<I extends Kind, O extends Kind | undefined, Args extends ReadonlyArray<unknown>, A, E> = Task<
  [job: Job<I, O, Args>],
  Done<A>,
  E
>

/**
 * The input, output, extra arguments and range size of `Shared.map`. The
 * output is required exactly when the task declares one, `args` when the task
 * takes extra arguments.
 *
 * @since 0.1.0
 * @category models
 */
export type MapOptions<I extends Kind, O extends Kind | undefined, Args extends ReadonlyArray<unknown>> =
  & {
    /** The array whose rows the ranges read. */
    readonly input: SharedArray<I>
    /**
     * Rows per range (each range runs as one task): a positive integer.
     * Defaults to Python's rule, `ceil(rows / (4 × size))`, but at least
     * 32,768 numbers a range (below it, sending a range costs more than
     * reading it). Smaller ranges balance uneven work better and are cancelled
     * sooner; each one costs a message to a worker and back.
     */
    readonly chunksize?: number | undefined
  }
  & (O extends Kind ? {
      /** The array the ranges write, with as many rows as the input. */
      readonly output: SharedArray<O>
    }
    : {
      /** The task declares no output. */
      readonly output?: undefined
    })
  & (Args extends readonly [] ? {
      /** The task takes no extra arguments. */
      readonly args?: Args | undefined
    }
    : {
      /** The task's extra arguments, the same for every range (copied to each). */
      readonly args: Args
    })

// -- memory ---------------------------------------------------------------------------------

const illegal = (message: string) => new Cause.IllegalArgumentError(message)

const isCount = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 0

/**
 * Allocates `rows × columns` numbers of `kind`, all 0, in shared memory
 * (Python's `SharedMemory(create=True)` with an ndarray over it). `columns`
 * defaults to 1: a flat array, whose rows are its indices.
 *
 * Fails with `IllegalArgumentError` for an unknown kind, sizes that are not
 * non-negative integers, or memory that cannot be allocated.
 *
 * @example
 * ```ts
 * const counts = yield* Shared.make("Int32", 20_000) // one count per row
 * const grid = yield* Shared.make("Float64", 1000, 1000)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <const K extends Kind>(
  kind: K,
  rows: number,
  columns = 1
): Effect.Effect<SharedArray<K>, Cause.IllegalArgumentError> =>
  Effect.suspend(() => {
    if (!SharedKinds.isKind(kind)) return Effect.fail(illegal(`Shared.make: unknown kind ${String(kind)}`))
    if (!isCount(rows) || !isCount(columns)) {
      return Effect.fail(
        illegal(
          `Shared.make: rows and columns must be non-negative integers, got ${String(rows)} × ${String(columns)}`
        )
      )
    }
    try {
      const data = SharedKinds.allocate(kind, rows * columns)
      return Effect.succeed({ kind, rows, columns, data } as unknown as SharedArray<K>)
    } catch (error) {
      const why = `cannot allocate ${rows} × ${columns} ${kind} values (${String(error)})`
      return Effect.fail(illegal(`Shared.make: ${why}`))
    }
  })

/**
 * Packs equal-length rows of numbers into a new shared array of `kind`
 * (NumPy's `np.array(rows, dtype=...)`), in one pass over the data. Every
 * value is checked, so that none is silently changed on the way in: it fails
 * with an `IllegalArgumentError` that names the row and the column of the
 * first value that is a hole (an empty slot), not a number, or, for an
 * integer kind, -0, NaN, not an integer or out of the kind's range; and for
 * rows of different lengths. (A float kind takes any number; `"Float32"`
 * rounds to single precision.) Rows may be arrays or typed arrays.
 *
 * The pack costs about one pass over the data, about what the sequential loop
 * over it costs for light work: it pays when the data is mapped more than
 * once, or when the work per value is heavier than reading it.
 *
 * @example
 * ```ts
 * const input = yield* Shared.fromRows([[1, 2, 3], [4, 5, 6]], "Int32") // 2 × 3
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromRows = <const K extends Kind>(
  rows: ReadonlyArray<ArrayLike<number>>,
  kind: K
): Effect.Effect<SharedArray<K>, Cause.IllegalArgumentError> =>
  Effect.suspend(() => {
    if (!SharedKinds.isKind(kind)) return Effect.fail(illegal(`Shared.fromRows: unknown kind ${String(kind)}`))
    const packed = SharedPack.pack(rows, kind)
    if (Cause.isIllegalArgumentError(packed)) return Effect.fail(packed)
    const count = (rows as ReadonlyArray<unknown>).length
    return Effect.succeed({ kind, rows: count, columns: packed.columns, data: packed.data } as unknown as SharedArray<K>)
  })

/**
 * Fills an array with `value`, or with `value(row, column)` for each of its
 * numbers, row after row, and returns it. (A function that throws is a
 * defect.) The typed array itself is at hand too: `array.data.set(...)`.
 *
 * @example
 * ```ts
 * const identity = yield* Shared.make("Float64", 3, 3).pipe(
 *   Effect.flatMap((m) => Shared.fill(m, (r, c) => r === c ? 1 : 0))
 * )
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const fill = <K extends Kind>(
  array: SharedArray<K>,
  value: number | ((row: number, column: number) => number)
): Effect.Effect<SharedArray<K>> =>
  Effect.sync(() => {
    const { columns, data, rows } = array
    if (typeof value === "number") {
      data.fill(value)
      return array
    }
    for (let r = 0, i = 0; r < rows; r++) {
      for (let c = 0; c < columns; c++, i++) data[i] = value(r, c)
    }
    return array
  })

/**
 * The array's rows as plain arrays of numbers (a copy): for printing or
 * comparing a result.
 *
 * @since 0.1.0
 * @category getters
 */
export const toRows = (array: SharedArray): Array<Array<number>> => {
  const out = new Array<Array<number>>(array.rows)
  for (let r = 0; r < array.rows; r++) {
    out[r] = Array.from(array.data.subarray(r * array.columns, (r + 1) * array.columns) as ArrayLike<number>)
  }
  return out
}

/**
 * Whether `u` is a well-formed `SharedArray`: a known kind, and `data` a typed
 * array of that kind over a `SharedArrayBuffer`, holding `rows × columns`
 * numbers. (One passed through a worker and back is one too.)
 *
 * @since 0.1.0
 * @category guards
 */
export const isSharedArray = (u: unknown): u is SharedArray => SharedRanges.isArray2D(u)

// -- tasks over ranges --------------------------------------------------------------------------

/**
 * Declares a task over ranges of rows, inside `Task.module`: `kinds` says
 * what the task reads (`input`) and writes (`output`, optional), and `body`
 * runs once per range with the range's rows (`Range`) and the map's extra
 * arguments. Read `range.input.data`, write `range.output.data`: on worker
 * threads both are the caller's memory. The body may return a value (each
 * range's value is in the array `Shared.map` returns: a partial sum, a
 * count), a promise (watch `Task.signal()` to stop early when the map is
 * cancelled) or an Effect (its declared errors reach the caller as
 * themselves, as any task's).
 *
 * Call it with `Shared.map`: the pool's own methods cannot build its ranges.
 * A range must write only its own rows of the output: ranges run at the same
 * time.
 *
 * @example
 * ```ts
 * export const tasks = Task.module(import.meta.url, {
 *   // a reduction: each range returns its sum, no output
 *   sum: Shared.task({ input: "Float64" }, ({ input }) => input.data.reduce((a, b) => a + b, 0)),
 *   // an elementwise map with an extra argument
 *   scale: Shared.task({ input: "Float64", output: "Float64" }, ({ input, output }, factor: number) => {
 *     for (let i = 0; i < input.data.length; i++) output.data[i] = input.data[i] * factor
 *   })
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const task: <
  const I extends Kind,
  const O extends Kind | undefined = undefined,
  Args extends ReadonlyArray<unknown> = [],
  R = void
>(
  kinds: { readonly input: I; readonly output?: O },
  body: (range: Range<I, O>, ...args: Args) => R
) => (job: Job<I, O, Args>) => RangeReturn<R> = SharedTask.task as any

/**
 * Runs a `Shared.task` over the input's rows on the pool's workers, in
 * ranges of `chunksize` rows, each range one task of a `pool.map`, and
 * returns each range's value, in order. On worker threads nothing is copied:
 * the ranges read the input and write the output in place. On child
 * processes each range's rows are copied to its worker and its output rows
 * copied back once every range has succeeded.
 *
 * It fails as `pool.map` does, and the first failure cancels the other
 * ranges. After a failure or an interruption the output holds what the
 * ranges that ran wrote (nothing, on processes), and a range still running
 * may write until it stops (a synchronous one within `cancelGracePeriod`,
 * when its worker is killed): do not read the output of a failed map.
 * `IllegalArgumentError` for an input or output that is not a `SharedArray`
 * (or not of the task's kinds), an output with other rows than the input, or
 * a `chunksize` that is not a positive integer.
 *
 * @example
 * ```ts
 * const output = yield* Shared.make("Int32", input.rows)
 * yield* Shared.map(pool, tasks.countWithinRange, { input, output, args: [4, 8] })
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const map = <I extends Kind, O extends Kind | undefined, Args extends ReadonlyArray<unknown>, A, E>(
  pool: Pool,
  task: RangeTask<I, O, Args, A, E>,
  options: NoInfer<MapOptions<I, O, Args>>
): Effect.Effect<Array<A>, E | DispatchError | Cause.IllegalArgumentError> =>
  Effect.suspend(() => {
    if (!TaskModule.isTask(task)) {
      return Effect.fail(illegal(`Shared.map: expected a task declared with Shared.task inside Task.module`))
    }
    const fn = TaskModule.registry().get(task.url)?.functions[task.name]
    const spec = SharedTask.specOf(fn)
    if (fn !== undefined && spec === undefined) {
      return Effect.fail(illegal(`Shared.map: ${task.id} is not declared with Shared.task`))
    }
    const { args, chunksize, input, output } = (options ?? {}) as unknown as MapOptions<Kind, Kind, Array<unknown>>
    const invalid = SharedRanges.check(spec, input, output, args, chunksize)
    if (invalid) return Effect.fail(invalid)
    const jobs = SharedRanges.plan(
      input,
      output,
      args ?? [],
      chunksize ?? SharedRanges.defaultChunksize(input.rows, input.columns, pool.size)
    )
    return pool.map(task as TaskModule.Any, jobs, { chunksize: 1 }).pipe(
      Effect.flatMap((replies) => SharedRanges.gather(task.id, jobs, replies, output)),
      Effect.map((values) => values as Array<A>)
    ) as Effect.Effect<Array<A>, E | DispatchError | Cause.IllegalArgumentError>
  })
