/**
 * Loading task modules in a worker: importing a module the first time one of
 * its tasks runs there, building its setup layer, and the load timeout.
 *
 * Jobs wait per module: a job whose module is still loading waits for it, and
 * the worker goes on with the jobs of other modules. A module that has not
 * settled within `LOAD_TIMEOUT` (the pool's `startTimeout`) fails the jobs
 * waiting for it, and those that come while it still loads; if it loads after
 * all, later jobs run.
 *
 * @internal
 */
import type * as Context from "effect/Context"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Task from "../Task.ts"
import type * as Protocol from "./protocol.ts"
import type { Running } from "./workerRuntime.ts"
import { clearTimeoutOriginal, describe, fx, hasOwn, promiseThen, setTimeoutOriginal } from "./workerValues.ts"

/** A task function as the pool named it (`DEFINE`), bound to its module once that has loaded. */
export interface Definition {
  readonly url: string
  readonly name: string
  fn: Task.TaskFunction | undefined
  errors: Task.ErrorCodec | undefined
  /** The services of the module's setup layer, for its Effect tasks. */
  context: Context.Context<unknown> | undefined
  loadError: Protocol.RemoteError | undefined
}

/** A task module this worker loads (by URL), and the jobs waiting for it. */
export interface ModuleLoad {
  readonly url: string
  /** It has loaded, or failed to: `entry` or `error` says which. */
  settled: boolean
  entry: Task.ModuleEntry | undefined
  /** The services of its setup layer. */
  context: Context.Context<unknown> | undefined
  error: Protocol.RemoteError | undefined
  /** Set once it has taken longer than `LOAD_TIMEOUT`: the jobs that need it fail with this meanwhile. */
  timedOut: Protocol.RemoteError | undefined
  timer: ReturnType<typeof setTimeout> | undefined
  /** Jobs waiting for it (they count as started). */
  readonly waiting: Array<Waiting>
}

/** A job that waits for its task module to load. */
export interface Waiting {
  readonly task: Running
  readonly definition: Definition
  readonly mode: Protocol.Mode
  readonly payload: unknown
  /** When the worker took it from its queue. */
  readonly started: number
}

/** The task modules of one worker. */
export const make = (options: {
  readonly importModule: (url: string) => Promise<unknown>
  /** Whether the task modules loaded so far have imported effect. */
  readonly effectImported: () => boolean
  /** `LOAD_TIMEOUT` now. */
  readonly timeoutMillis: () => number
  /** A module has loaded, or failed to: these jobs were waiting for it. */
  readonly onSettled: (jobs: ReadonlyArray<Waiting>) => void
  /** A module has not loaded within the load timeout: these jobs were waiting for it, and fail with `error`. */
  readonly onTimeout: (jobs: ReadonlyArray<Waiting>, error: Protocol.RemoteError) => void
}) => {
  /** The task modules loaded or loading, by URL. */
  const modules = new Map<string, ModuleLoad>()
  /** The module each waiting job waits for, by job id. */
  const waitingOn = new Map<number, ModuleLoad>()
  /** Where the modules' setup layers live (made with the first): closed when the worker closes. */
  let layerScope: Scope.Closeable | undefined
  /** `warm` has run. */
  let warmed = false

  /** Builds a module's setup layer, in the worker's layer scope. */
  const buildLayer = async (layer: Layer.Layer<unknown, unknown>): Promise<Context.Context<unknown>> => {
    const { Cause, Effect, Layer, Scope } = fx()
    layerScope ??= Effect.runSync(Scope.make())
    const exit = await Effect.runPromiseExit(Layer.buildWithScope(layer, layerScope))
    if (exit._tag === "Success") return exit.value
    throw new Error(`its setup layer failed: ${Cause.pretty(exit.cause)}`)
  }

  const start = (url: string): ModuleLoad => {
    const load: ModuleLoad = {
      url,
      settled: false,
      entry: undefined,
      context: undefined,
      error: undefined,
      timedOut: undefined,
      timer: undefined,
      waiting: []
    }
    modules.set(url, load)
    const declared = Task.registry().get(url)
    if (declared !== undefined && declared.layer === undefined) {
      // declared already (another module imported it): nothing to wait for
      load.entry = declared
      load.settled = true
      return load
    }
    const millis = options.timeoutMillis()
    load.timer = setTimeoutOriginal(() => {
      load.timer = undefined
      const error: Protocol.RemoteError = {
        name: "LoadTimeout",
        message: `task module ${url} did not finish loading within ${formatMillis(millis)} (startTimeout)` +
          (Promise.prototype.then === promiseThen ? "" : thenReplaced),
        stack: undefined
      }
      load.timedOut = error
      options.onTimeout(release(load), error)
    }, millis)
    void settle(load)
    return load
  }

  /** Loads the module, then hands its waiting jobs on. Never rejects. */
  const settle = async (load: ModuleLoad): Promise<void> => {
    try {
      // the import starts once the drain that started the load has returned (as it always has); and this
      // never settles synchronously, inside that drain
      await undefined
      if (!Task.registry().has(load.url)) await options.importModule(load.url)
      const entry = Task.registry().get(load.url)
      if (entry === undefined) {
        throw new Error(`the module ${load.url} does not declare its tasks with Task.module(import.meta.url, ...)`)
      }
      if (entry.layer !== undefined) load.context = await buildLayer(entry.layer)
      load.entry = entry
    } catch (error) {
      load.error = describe(error, `could not load task module ${load.url}: `)
    }
    load.settled = true
    if (load.timer !== undefined) clearTimeoutOriginal(load.timer)
    load.timer = undefined
    const jobs = release(load)
    if (jobs.length > 0) options.onSettled(jobs)
  }

  /** Takes the jobs waiting for `load`. */
  const release = (load: ModuleLoad): Array<Waiting> => {
    const jobs = load.waiting.splice(0)
    for (const job of jobs) waitingOn.delete(job.task.id)
    return jobs
  }

  /** Binds `definition` to its loaded module: its function, or why it has none. */
  const bind = (definition: Definition, load: ModuleLoad): void => {
    if (load.error !== undefined) {
      definition.loadError = load.error
      return
    }
    const { errors, functions } = load.entry!
    const fn = hasOwn(functions, definition.name) ? functions[definition.name] : undefined
    if (typeof fn !== "function") {
      definition.loadError = describe(
        new Error(`the module ${definition.url} has no task named "${definition.name}"`),
        `could not load task module ${definition.url}: `
      )
      return
    }
    definition.errors = errors
    definition.context = load.context
    definition.fn = fn
  }

  return {
    /**
     * The module of `definition` while it loads (starting to load it the
     * first time); `undefined` once it has settled and `definition` is bound
     * to it (its `fn`, or its `loadError`, is set).
     */
    pending: (definition: Definition): ModuleLoad | undefined => {
      const load = modules.get(definition.url) ?? start(definition.url)
      if (!load.settled) return load
      bind(definition, load)
      return undefined
    },
    /** Makes `job` wait for `load` (see `onSettled`, `onTimeout`). */
    wait: (load: ModuleLoad, job: Waiting): void => {
      load.waiting.push(job)
      waitingOn.set(job.task.id, load)
    },
    /** Stops job `id` waiting for its module; `true` if it was waiting. */
    withdraw: (id: number): boolean => {
      const load = waitingOn.get(id)
      if (load === undefined) return false
      waitingOn.delete(id)
      load.waiting.splice(load.waiting.findIndex((job) => job.task.id === id), 1)
      return true
    },
    /**
     * After a preload (`MODE_LOAD`): if the task modules have imported
     * effect, their tasks may return Effects, so the runtime's own effect
     * modules are loaded now (`fx`: a `require` of each, about 2 ms even once
     * effect is loaded) and its fiber runtime run once, rather than in the
     * first Effect task. A worker whose modules do not use effect loads none.
     */
    warm: (): void => {
      if (warmed || !options.effectImported()) return
      warmed = true
      const { Effect } = fx()
      Effect.runFork(Effect.void)
    },
    /** Finalizes the modules' setup layers: called when the worker closes. */
    close: (): Promise<void> => {
      if (layerScope === undefined) return Promise.resolve()
      const { Effect, Exit, Scope } = fx()
      return Effect.runPromise(Scope.close(layerScope, Exit.void))
    }
  }
}

/** Why a module may never load in this worker: Node's `import()` calls `Promise.prototype.then`. */
const thenReplaced = "; a task replaced Promise.prototype.then in this worker, and Node's import() depends on it"

/** `1500` → `"1500ms"`, `30000` → `"30s"`. */
const formatMillis = (millis: number): string => millis % 1000 === 0 ? `${millis / 1000}s` : `${millis}ms`
