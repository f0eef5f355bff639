/**
 * The test layer's injected faults (`TestOptions.fail`, `TestOptions.crash`):
 * each call of a task function on an in-process worker is offered to the
 * options' predicates (or drawn at their rate, on a generator seeded by the
 * pool's seed) before it runs. A failure throws an `InjectedFailure` error in
 * place of the call, which reaches the caller as a `TaskError`, as any throw
 * does; a crash kills the worker in the middle of the call, as a
 * `process.exit` there would.
 *
 * The functions are wrapped without touching the task module: the pool's
 * `DEFINE`s name, instead of the module's URL, a URL of this pool's own
 * (`?effect-multiprocessing-test=<n>`) under which the worker runtime finds
 * the wrapped functions in the task registry, with the module's declared
 * errors and setup layer. The entries are removed when the pool closes.
 *
 * @internal
 */
import type { TestCall, TestOptions } from "../PoolOptions.ts"
import * as Task from "../Task.ts"
import { generator } from "./inProcessScheduler.ts"

/** What the wrapped functions need of the worker that runs them. */
export interface Host {
  readonly workerId: number
  /** The worker has died: nothing of it runs any more. */
  readonly dead: () => boolean
  /** Kills the worker now, as a crash in the middle of `call`. */
  readonly crash: (call: TestCall) => void
}

export interface Faults {
  /** The URL the workers are told in place of a task module's. */
  readonly rename: (url: string) => string
  /** Loads a renamed module (the worker runtime's `importModule`), or `undefined` for any other URL. */
  readonly load: (url: string) => Promise<unknown> | undefined
  /** Removes this pool's entries from the task registry. */
  readonly dispose: () => void
}

const PARAM = "effect-multiprocessing-test"

let nextPool = 1

/** The error an injected failure throws in place of the call. */
export class InjectedFailure extends Error {
  constructor(call: TestCall) {
    super(`the test layer failed this call of ${call.name} (call ${call.index} on worker ${call.workerId})`)
    this.name = "InjectedFailure"
  }
}

/** A fault's decision for one call: its predicate, or a draw at its rate. */
const decide = (
  option: TestOptions["fail"],
  seed: string | number,
  which: string
): ((call: TestCall) => boolean) | undefined => {
  if (option === undefined) return undefined
  if (typeof option === "function") return option
  const random = generator(`${seed}/${which}`)
  return () => random.nextDoubleUnsafe() < option
}

/**
 * The faults of one test pool, or `undefined` if it injects none. `host`
 * says which in-process worker runs the current call.
 */
export const make = (
  options: Pick<TestOptions, "fail" | "crash">,
  seed: string | number,
  host: () => Host | undefined
): Faults | undefined => {
  const fail = decide(options.fail, seed, "fail")
  const crash = decide(options.crash, seed, "crash")
  if (fail === undefined && crash === undefined) return undefined
  const pool = nextPool++
  const renamed = new Set<string>()
  let calls = 0

  const wrap = (url: string, name: string, fn: Task.TaskFunction): Task.TaskFunction => (...args) => {
    const worker = host()
    // a call that the runtime of a dead worker still makes (the rest of a chunk) runs nothing
    if (worker === undefined || worker.dead()) throw new Error("effect-multiprocessing: this in-process worker is dead")
    const call: TestCall = { task: `${url}#${name}`, name, args, workerId: worker.workerId, index: calls++ }
    if (crash?.(call)) {
      worker.crash(call)
      throw new Error("effect-multiprocessing: this in-process worker crashed")
    }
    if (fail?.(call)) throw new InjectedFailure(call)
    return fn(...args)
  }

  /** Registers the wrapped module under `renamedUrl`, if the original is declared in this thread. */
  const register = (renamedUrl: string): boolean => {
    const original = new URL(renamedUrl)
    original.searchParams.delete(PARAM)
    const entry = Task.registry().get(original.href)
    if (entry === undefined) return false
    const functions: Record<string, Task.TaskFunction> = Object.create(null)
    for (const name of Object.keys(entry.functions)) functions[name] = wrap(entry.url, name, entry.functions[name])
    Task.registry().set(renamedUrl, { ...entry, url: renamedUrl, functions })
    renamed.add(renamedUrl)
    return true
  }

  return {
    rename: (url) => {
      const renamedUrl = new URL(url)
      renamedUrl.searchParams.set(PARAM, String(pool))
      const href = renamedUrl.href
      if (!renamed.has(href)) register(href)
      return href
    },
    load: (url) => {
      if (!URL.canParse(url) || new URL(url).searchParams.get(PARAM) !== String(pool)) return undefined
      const original = new URL(url)
      original.searchParams.delete(PARAM)
      return import(original.href).then((module) => {
        if (!renamed.has(url)) register(url)
        return module
      })
    },
    dispose: () => {
      for (const url of renamed) Task.registry().delete(url)
      renamed.clear()
    }
  }
}
