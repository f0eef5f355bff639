/**
 * The package index as a pool worker sees it.
 *
 * A task module imports the package (`import { Task } from
 * "effect-multiprocessing"`) for `Task.module`. The real index also loads
 * `WorkerPool`, the error classes and with them most of effect and
 * `@effect/platform-node`: several times what a bare worker costs to start, for
 * a worker whose tasks may be plain functions. So the worker entry resolves the
 * index (this copy's own, by URL) to this module instead: the same exports,
 * `Task` as itself, and everything else loaded on first use, synchronously
 * (`require` of the real module), behind a proxy that forwards every
 * operation: `WorkerPool.make(...)`, `new TaskError(...)`, `instanceof`,
 * `extends`, `Effect.catchTag` all behave as with the real index. Only
 * identity differs: `TaskError` here is not `===` the real class (an instance
 * of either is `instanceof` both).
 *
 * @internal
 */
import { createRequire } from "node:module"
import type * as AsyncResultModule from "../AsyncResult.ts"
import type * as BackendModule from "../Backend.ts"
import type * as Index from "../index.ts"
import type * as PoolError from "../PoolError.ts"
import type * as SharedModule from "../Shared.ts"
import type * as WorkerPoolModule from "../WorkerPool.ts"
import * as SharedTask from "./sharedTask.ts"
import type * as Self from "./workerIndex.ts"

export * as Task from "../Task.ts"
// types only: loads nothing
export * as PoolEvents from "../PoolEvents.ts"

const extension = import.meta.url.endsWith(".ts") ? ".ts" : ".js"
const require = createRequire(import.meta.url)
/** Loads a module of the package synchronously (from `src/`, `./x` names `src/x.ts`). */
const load = <M>(name: string): () => M => {
  let loaded: M | undefined
  return () => loaded ??= require(`../${name}${extension}`) as M
}

/** A stand-in for the namespace `load` returns, loading it on first use (but for its `eager` members, given here). */
const lazyNamespace = <M extends object>(module: () => M, eager: Partial<M> = {}): M =>
  new Proxy(Object.create(null) as M, {
    get: (_, key) => Object.hasOwn(eager, key) ? (eager as any)[key] : Reflect.get(module(), key),
    has: (_, key) => Reflect.has(module(), key),
    ownKeys: () => Reflect.ownKeys(module()),
    getOwnPropertyDescriptor: (_, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(module(), key)
      // the target holds none of them, so none can be reported non-configurable
      return descriptor === undefined ? undefined : { ...descriptor, configurable: true }
    },
    set: () => false,
    defineProperty: () => false,
    deleteProperty: () => false
  })

/** A stand-in for a class, loading its module on first use. */
const lazyClass = <C extends abstract new(...args: Array<any>) => unknown>(load: () => C): C => {
  const real = load as unknown as () => Function
  const proxy: C = new Proxy(function() {} as unknown as C, {
    get: (_, key) => Reflect.get(real(), key),
    has: (_, key) => Reflect.has(real(), key),
    ownKeys: (target) => [...new Set([...Reflect.ownKeys(real()), ...Reflect.ownKeys(target)])],
    getOwnPropertyDescriptor: (target, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(real(), key)
      const own = Reflect.getOwnPropertyDescriptor(target, key)
      if (descriptor === undefined) return own
      // the target's own `prototype` is non-configurable: report it so, with the real value
      if (own !== undefined && !own.configurable) return { ...own, value: descriptor.value }
      return { ...descriptor, configurable: true }
    },
    getPrototypeOf: () => Reflect.getPrototypeOf(real()),
    // `new TaskError(...)` constructs the real class; a subclass's `super(...)` keeps its own new.target
    construct: (_, args, newTarget) => Reflect.construct(real(), args, newTarget === proxy ? real() : newTarget),
    apply: (_, self, args) => Reflect.apply(real(), self, args),
    set: () => false,
    defineProperty: () => false,
    deleteProperty: () => false
  })
  return proxy
}

const lazyErrorClass = <K extends keyof typeof PoolError>(name: K): (typeof PoolError)[K] =>
  lazyClass(() => poolError()[name] as any) as (typeof PoolError)[K]

const poolError = load<typeof PoolError>("PoolError")

export const AsyncResult: typeof AsyncResultModule = lazyNamespace(load("AsyncResult"))
export const Backend: typeof BackendModule = lazyNamespace(load("Backend"))
export const WorkerPool: typeof WorkerPoolModule = lazyNamespace(load("WorkerPool"))
/** `Shared`: `task` as itself (it loads no effect: task modules call it as they load), the rest on first use. */
export const Shared: typeof SharedModule = lazyNamespace(load<typeof SharedModule>("Shared"), {
  task: SharedTask.task as typeof SharedModule.task
})
export const PoolNotRunning = lazyErrorClass("PoolNotRunning")
export const PoolStillRunning = lazyErrorClass("PoolStillRunning")
export const PoolTerminated = lazyErrorClass("PoolTerminated")
export const ResultNotReady = lazyErrorClass("ResultNotReady")
export const SerializationError = lazyErrorClass("SerializationError")
export const TaskError = lazyErrorClass("TaskError")
export const WorkerCrashed = lazyErrorClass("WorkerCrashed")
export const WorkerStartFailed = lazyErrorClass("WorkerStartFailed")
export type { DispatchError } from "../PoolError.ts"

// Compile-time check: exactly the values the package index exports.
type Missing = Exclude<keyof typeof Index, keyof typeof Self>
type Extra = Exclude<keyof typeof Self, keyof typeof Index>
const sameExports: [Missing, Extra] extends [never, never] ? true : { missing: Missing; extra: Extra } = true
void sameExports
