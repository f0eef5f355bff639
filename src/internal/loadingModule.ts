/**
 * Which task module this worker is loading right now, if any: the worker
 * entry imports a task module through `whileLoading`, and `WorkerPool.make`
 * asks `loadingNow` to refuse a pool that a task module starts at its top
 * level (each worker would start a pool of its own, whose workers load the
 * same module, and so on). What the module's top level starts (directly, after
 * an `await`, in a timer it set) runs within the load; a task that starts a
 * pool when it runs does not.
 *
 * It loads nothing of effect (the worker entry imports it), and keeps its
 * state on `globalThis`, so that every copy of the package sees the same.
 *
 * @internal
 */
import { AsyncLocalStorage } from "node:async_hooks"

const key = Symbol.for("effect-multiprocessing/loadingTaskModule")

/** Runs `load` (the import of the task module at `url`) as the loading of that module. */
export const whileLoading = <A>(url: string, load: () => A): A =>
  (((globalThis as any)[key] ??= new AsyncLocalStorage<string>()) as AsyncLocalStorage<string>).run(url, load)

/** The URL of the task module whose loading the current code is part of, or `undefined`. */
export const loadingNow = (): string | undefined =>
  ((globalThis as any)[key] as AsyncLocalStorage<string> | undefined)?.getStore()
