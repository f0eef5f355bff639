/**
 * Tasks: plain functions that a `WorkerPool` runs in its workers.
 *
 * A task module is an ordinary `.ts` / `.js` file that declares its functions
 * once with `Task.module(import.meta.url, { ... })`. The caller imports the
 * module to get typed task handles; a worker loads the same module by its URL
 * the first time one of its tasks runs. There is no worker file to write:
 * Python pickles a function by its qualified name, this is the same idea.
 *
 * A task function may return
 * - a plain value,
 * - a `Promise` (it may watch `Task.signal()` to stop early when cancelled),
 * - an `Effect`, which runs in its own fiber in the worker and is interrupted
 *   when the caller is. Its declared errors (`errors: [...]`) reach the caller
 *   as themselves: same `_tag`, same fields, `instanceof` its class.
 *
 * @example
 * ```ts
 * // tasks.ts
 * import { Effect, Schema } from "effect"
 * import { Task } from "effect-multiprocessing"
 *
 * export class Odd extends Schema.TaggedError<Odd>()("Odd", { n: Schema.Number }) {}
 *
 * export const tasks = Task.module(import.meta.url, {
 *   square: (x: number) => x * x,
 *   howManyWithinRange: (row: ReadonlyArray<number>, min: number, max: number) =>
 *     row.filter((n) => min <= n && n <= max).length,
 *   half: (n: number) => n % 2 === 0 ? Effect.succeed(n / 2) : Effect.fail(new Odd({ n }))
 * }, { errors: [Odd] })
 * ```
 *
 * @since 0.1.0
 * @module
 */
import type * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Schema from "effect/Schema"
import { createRequire } from "node:module"
import type * as WorkerThreads from "node:worker_threads"

// This module loads no part of effect when it is imported: a worker imports it
// (through the task module) before its first task, and loading effect there is
// most of a worker's start-up. `effect/Schema` is loaded on first use, by a
// module that declares errors (which has loaded it already, for its classes).

/**
 * What can be moved rather than copied to or from a worker: an `ArrayBuffer`,
 * a `MessagePort`, …
 *
 * @since 0.1.0
 * @category transfer
 */
export type Transferable = WorkerThreads.Transferable

const TypeId = "~effect-multiprocessing/Task" as const

/**
 * A handle to one function of a task module: what `WorkerPool.apply`, `map`,
 * `starmap` and `imap` take. `Args` is the function's parameter tuple, `A` its
 * result (a Promise or an Effect unwrapped), `E` the declared errors it can
 * fail with.
 *
 * @since 0.1.0
 * @category models
 */
export interface Task<in out Args extends ReadonlyArray<unknown>, out A, out E = never> {
  /** Carries `Args`, `A` and `E` for the type checker (variance); nothing to read. @internal */
  readonly [TypeId]: {
    readonly _Args: (_: Args) => Args
    readonly _A: () => A
    readonly _E: () => E
  }
  /** `url#name`: the task's identity across threads and processes. */
  readonly id: string
  /** The URL of the task module that declares the function. */
  readonly url: string
  /** The function's name in its module. */
  readonly name: string
  /** Encodes and decodes the module's declared errors. @internal */
  readonly errors: ErrorCodec
}

/**
 * Any task, whatever its types.
 *
 * @since 0.1.0
 * @category models
 */
export type Any = Task<any, any, any>

/**
 * What a task function may be: sync, async, or returning an Effect.
 *
 * @since 0.1.0
 * @category models
 */
export type TaskFunction = (...args: Array<any>) => unknown

/**
 * A schema-backed error class a module can declare, e.g. a
 * `Schema.TaggedError` class.
 *
 * @since 0.1.0
 * @category models
 */
export type ErrorSchema = Schema.Top

/**
 * The result type of a task function: a Promise or an Effect is unwrapped, and
 * so is a `Task.transfer` marker.
 *
 * @since 0.1.0
 * @category type-level
 */
export type Success<R> = [R] extends [Effect.Effect<infer A, infer _E, infer _R>] ? Untransfer<A>
  : Untransfer<Awaited<R>>

/**
 * The declared errors a task function can fail with: the errors of its Effect
 * that the module declares. Anything else arrives as a `TaskError`.
 *
 * @since 0.1.0
 * @category type-level
 */
export type Failure<R, Declared> = [R] extends [Effect.Effect<infer _A, infer E, infer _R>] ? Extract<E, Declared>
  : never

/**
 * Rejects, at compile time, an Effect task that requires a service its
 * module's `layer` does not provide: the worker would have none to give it,
 * and it would fail with "Service not found" at run time.
 *
 * @since 0.1.0
 * @category type-level
 */
export type NoRequirements<Fns, Provided = never> = { readonly [K in keyof Fns]: NoRequirement<Fns[K], Provided> }

type NoRequirement<F, Provided> = F extends (...args: Array<any>) => infer Return
  ? [Return] extends [never] ? F
  : [Return] extends [Effect.Effect<infer _A, infer _E, infer R>] ? [Exclude<R, Provided>] extends [never] ? F
    : `an Effect task requires ${ServiceNames<
      Exclude<R, Provided>
    >}, which its module's layer does not provide: add it to the layer, or provide it inside the task`
  : F
  : F

type ServiceNames<R> = R extends { readonly key: infer Key extends string } ? Key : "a service"

type Untransfer<A> = A extends Transferred<infer B> ? B : A

/**
 * The task handle that `Task.module` makes for one function.
 *
 * @since 0.1.0
 * @category type-level
 */
export type TaskOf<F extends TaskFunction, Declared> = Task<Parameters<F>, Success<ReturnType<F>>, Failure<ReturnType<F>, Declared>>

/**
 * The parameter tuple of a task.
 *
 * @since 0.1.0
 * @category type-level
 */
export type Args<T> = T extends Task<infer Args, infer _A, infer _E> ? Args : never

/**
 * What `map` and `imap` pass to a task: its first parameter, if it can be
 * called with that alone (further parameters optional); `never` otherwise.
 *
 * @since 0.1.0
 * @category type-level
 */
export type MapItem<T> = T extends Task<infer Args, infer _A, infer _E> ? [Args[0]] extends Args ? Args[0] : never
  : never

/**
 * The result type of a task.
 *
 * @since 0.1.0
 * @category type-level
 */
export type Result<T> = T extends Task<infer _Args, infer A, infer _E> ? A : never

/**
 * The declared error type of a task.
 *
 * @since 0.1.0
 * @category type-level
 */
export type Error<T> = T extends Task<infer _Args, infer _A, infer E> ? E : never

/**
 * Declares the task functions of a module. Call it once per module, at top
 * level, with the module's own `import.meta.url`; export the result. A second
 * call for the same URL throws a `TypeError`. A task may be named after a
 * member of `Object.prototype` (`constructor`, `toString`), but not
 * `__proto__`. Declare tasks in a module of their own, not in the program's
 * entry module: a worker loads the module, and loading the entry module would
 * run the program again (the pool refuses such a task).
 *
 * - `errors`: schema-backed error classes (e.g. `Schema.TaggedError`) that the
 *   module's Effect tasks may fail with. A failure with one of them reaches the
 *   caller as the same error; any other failure arrives as a `TaskError`.
 * - `layer`: per-worker setup, the Effect way (Python's `initializer`). Each
 *   worker builds it once, the first time one of the module's tasks runs
 *   there, and finalizes it when the worker closes; the module's Effect tasks
 *   may use the services it provides. If it fails, the module's tasks fail on
 *   that worker with a `TaskError` carrying the cause. Declare the layer as a
 *   constant (`const ModelLive = Layer.effect(...)`): written inline,
 *   TypeScript cannot always infer the services it provides.
 *
 * @since 0.1.0
 * @category constructors
 */
export const module = <
  const Fns extends Record<string, TaskFunction>,
  const Errors extends ReadonlyArray<ErrorSchema> = readonly [],
  L extends Layer.Any = Layer.Layer<never>
>(
  url: string,
  functions: Fns & NoRequirements<Fns, Layer.Success<L>>,
  options?: {
    readonly errors?: Errors | undefined
    readonly layer?: L | undefined
  }
): { readonly [K in keyof Fns & string]: TaskOf<Fns[K], Errors[number]["Type"]> } => {
  if (typeof url !== "string" || !URL.canParse(url)) {
    throw new TypeError(`Task.module: expected the module's URL (import.meta.url), got ${String(url)}`)
  }
  if (registry().has(url)) {
    throw new TypeError(
      `Task.module was called twice for ${url}: declare a module's tasks once, at its top level (a second ` +
        `declaration would replace the first in this thread, but not in the workers)`
    )
  }
  const prototype = typeof functions === "object" && functions !== null ? Object.getPrototypeOf(functions) : undefined
  if (prototype !== Object.prototype && prototype !== null) {
    throw new TypeError(
      `Task.module: the functions of ${url} must be a plain object (a \`__proto__\` key in an object literal sets ` +
        `its prototype: it declares no task)`
    )
  }
  // the worker looks a task up by name: only the module's own functions, never Object.prototype's
  const own: Record<string, TaskFunction> = Object.create(null)
  const errors = makeErrorCodec(options?.errors ?? [])
  const handles: Record<string, Any> = {}
  for (const name of Object.keys(functions)) {
    if (name === "__proto__") {
      throw new TypeError(`Task.module: "__proto__" in ${url} cannot be a task's name (it is every object's prototype)`)
    }
    if (typeof functions[name] !== "function") {
      throw new TypeError(`Task.module: "${name}" in ${url} is not a function`)
    }
    own[name] = functions[name]
    handles[name] = { [TypeId]: variance, id: `${url}#${name}`, url, name, errors } as Any
  }
  const layer = options?.layer as Layer.Layer<unknown, unknown> | undefined
  registry().set(url, { url, functions: own, errors, layer })
  return handles as any
}

const variance = { _Args: (_: any) => _, _A: () => undefined, _E: () => undefined } as Task<any, any, any>[typeof TypeId]

/**
 * Returns `true` for a task handle.
 *
 * @since 0.1.0
 * @category guards
 */
export const isTask = (u: unknown): u is Any => hasProperty(u, TypeId)

// ---------------------------------------------------------------------------
// Cancellation signal
// ---------------------------------------------------------------------------

const signalKey = Symbol.for("effect-multiprocessing/Task/currentSignal")
const neverAborted = new AbortController().signal

/**
 * The `AbortSignal` of the task that is running now. It fires when the caller
 * interrupts the task (or `Effect.timeout` fires, or the map it belongs to
 * fails): an async task should pass it on (`fetch(url, { signal })`) or check
 * it between steps. It follows the task across `await`s.
 *
 * Outside a pool task (a task function called directly in a test) it returns a
 * signal that never fires. Effect tasks do not need it: their fiber is
 * interrupted instead.
 *
 * @example
 * ```ts
 * export const tasks = Task.module(import.meta.url, {
 *   download: async (url: string) => {
 *     const response = await fetch(url, { signal: Task.signal() })
 *     return response.text()
 *   }
 * })
 * ```
 *
 * @since 0.1.0
 * @category cancellation
 */
export const signal = (): AbortSignal => {
  const current = (globalThis as any)[signalKey] as (() => AbortSignal | undefined) | undefined
  return current?.() ?? neverAborted
}

/** Installs the provider behind `Task.signal()`: used by the worker runtime. @internal */
export const setSignalProvider = (provider: () => AbortSignal | undefined): void => {
  ;(globalThis as any)[signalKey] = provider
}

// ---------------------------------------------------------------------------
// Progress
// ---------------------------------------------------------------------------

const progressKey = Symbol.for("effect-multiprocessing/Task/progress")

/**
 * Reports how far the task that is running now has got: `value` (any value a
 * worker can send: a number, `{ done, total }`, a string…) reaches its caller,
 * if the caller asked (`onProgress` on `apply` / `applyAsync`, or
 * `pool.applyWithProgress`); otherwise it costs one look-up and does nothing.
 * Call it as often as you like: updates are coalesced, at most one per
 * `progressInterval` (100 ms by default) reaches the caller, the latest value
 * winning, and the last one before the result is never dropped (the rule in
 * full: docs/observability.md, "Progress"). From an Effect task, call it in
 * `Effect.sync` or between `yield*`s.
 *
 * Outside a pool task (a task function called directly in a test) it does
 * nothing. It throws a `TypeError` if the value cannot be sent to the caller.
 *
 * @example
 * ```ts
 * export const tasks = Task.module(import.meta.url, {
 *   crunch: (rows: number) => {
 *     let sum = 0
 *     for (let i = 0; i < rows; i++) {
 *       sum += i % 7
 *       Task.progress({ done: i + 1, total: rows })
 *     }
 *     return sum
 *   }
 * })
 * ```
 *
 * @since 0.1.0
 * @category progress
 */
export const progress = (value: unknown): void => {
  const current = (globalThis as any)[progressKey] as ((value: unknown) => void) | undefined
  current?.(value)
}

/** Installs the provider behind `Task.progress()`: used by the worker runtime. @internal */
export const setProgressProvider = (provider: (value: unknown) => void): void => {
  ;(globalThis as any)[progressKey] = provider
}

// ---------------------------------------------------------------------------
// Transfer of results
// ---------------------------------------------------------------------------

const TransferTypeId = "~effect-multiprocessing/Task/Transferred" as const

/**
 * A result to move to the caller with a transfer list instead of copying it.
 *
 * @since 0.1.0
 * @category transfer
 */
export interface Transferred<A> {
  /** Brands the marker; a marker is recognized by identity, not by this key. @internal */
  readonly [TransferTypeId]: typeof TransferTypeId
  /** The result the caller receives. */
  readonly value: A
  /** What moves to the caller instead of being copied. */
  readonly transfer: ReadonlyArray<Transferable>
}

/**
 * Marks a task's result to be transferred rather than copied: the listed
 * `ArrayBuffer`s (or `MessagePort`s) move to the caller, which is much faster
 * for large binary results. The caller receives `value` itself. (For the
 * arguments, use the `transfer` option of `apply`.) Results of a `map` chunk
 * are unwrapped but copied.
 *
 * @example
 * ```ts
 * export const tasks = Task.module(import.meta.url, {
 *   invert: (pixels: Uint8Array<ArrayBuffer>) => {
 *     for (let i = 0; i < pixels.length; i++) pixels[i] = 255 - pixels[i]
 *     return Task.transfer(pixels, [pixels.buffer])
 *   }
 * })
 * ```
 *
 * @since 0.1.0
 * @category transfer
 */
export const transfer = <A>(value: A, transferList: ReadonlyArray<Transferable>): Transferred<A> => {
  const marked: Transferred<A> = { [TransferTypeId]: TransferTypeId, value, transfer: transferList }
  addTransferred(marked)
  return marked
}

/**
 * The markers `transfer` made, shared by every copy of this package in the
 * thread (on `globalThis`, as the registry): a marker is recognized by
 * identity, never by its shape, so a result that merely looks like one (data
 * with the same keys) is returned as it is.
 */
const transferredMarkers: WeakSet<object> = (globalThis as any)[
  Symbol.for("effect-multiprocessing/Task/transferred")
] ??= new WeakSet<object>()
// the original methods, bound: a task that patches `WeakSet.prototype` cannot forge or hide a marker
const addTransferred: (marked: object) => unknown = WeakSet.prototype.add.bind(transferredMarkers)
const hasTransferred: (u: object) => boolean = WeakSet.prototype.has.bind(transferredMarkers)

/** Whether `u` is a marker made by `transfer` (by identity: data with the same keys is not). @internal */
export const isTransferred = (u: unknown): u is Transferred<unknown> =>
  typeof u === "object" && u !== null && hasTransferred(u)

/** `Predicate.hasProperty`, without loading effect. */
const hasProperty = <P extends PropertyKey>(u: unknown, property: P): u is { readonly [K in P]: unknown } =>
  ((typeof u === "object" && u !== null) || typeof u === "function") && property in u

// ---------------------------------------------------------------------------
// The registry of loaded task modules (shared by every copy of this package)
// ---------------------------------------------------------------------------

/** @internal */
export interface ModuleEntry {
  readonly url: string
  readonly functions: Record<string, TaskFunction>
  readonly errors: ErrorCodec
  /** Built once per worker; its services are provided to the module's Effect tasks. */
  readonly layer: Layer.Layer<unknown, unknown> | undefined
}

const registryKey = Symbol.for("effect-multiprocessing/Task/registry")

/**
 * The modules declared in this thread, by URL. Kept on `globalThis` so that a
 * task module that resolves another copy of this package still registers where
 * the worker runtime looks.
 *
 * @internal
 */
export const registry = (): Map<string, ModuleEntry> =>
  ((globalThis as any)[registryKey] ??= new Map<string, ModuleEntry>())

// ---------------------------------------------------------------------------
// Declared errors across the boundary
// ---------------------------------------------------------------------------

/**
 * Encodes a declared error in the worker as `[index, encoded]` and decodes it
 * back on the caller's side with the same schema.
 *
 * @internal
 */
export interface ErrorCodec {
  /** How many errors are declared: a declared error's index is below. */
  readonly declared: number
  readonly encode: (error: unknown) => readonly [index: number, encoded: unknown] | undefined
  readonly decode: (index: number, encoded: unknown) => unknown
}

const makeErrorCodec = (schemas: ReadonlyArray<ErrorSchema>): ErrorCodec => {
  if (schemas.length === 0) return noErrors
  let guards: Array<(u: unknown) => boolean> | undefined
  return {
    declared: schemas.length,
    encode(error) {
      const Schema = schemaModule()
      guards ??= schemas.map((schema) => Schema.is(schema as Schema.Codec<unknown>))
      for (let i = 0; i < schemas.length; i++) {
        if (guards[i](error)) {
          return [i, Schema.encodeUnknownSync(schemas[i] as Schema.Codec<unknown, unknown>)(error)]
        }
      }
      return undefined
    },
    decode(index, encoded) {
      const schema = schemas[index]
      if (schema === undefined) throw new RangeError(`no declared error at index ${index}`)
      return schemaModule().decodeUnknownSync(schema as Schema.Codec<unknown, unknown>)(encoded)
    }
  }
}

/** The codec of a module that declares no errors: nothing to encode, nothing to decode. */
const noErrors: ErrorCodec = {
  declared: 0,
  encode: () => undefined,
  decode: (index) => {
    throw new RangeError(`no declared error at index ${index}`)
  }
}

let loadedSchema: typeof Schema | undefined

/**
 * `effect/Schema`, loaded synchronously the first time a declared error is
 * encoded or decoded (`require` of an ES module: the same instance as an
 * `import` of it, which the module declaring the errors has done already). In
 * a bundle, by the bundler's `require`, written out for it to see: the copy in
 * the bundle (see `bundled` in workerValues.ts).
 */
const schemaModule = (): typeof Schema =>
  loadedSchema ??= (
    typeof require === "function" && require !== (globalThis as { readonly require?: unknown }).require
      ? require("effect/Schema")
      : createRequire(import.meta.url)("effect/Schema")
  ) as typeof Schema
