/**
 * The checks of what a caller passes to a pool method: a task handle (not a
 * lambda, a plain function or an object), arguments of the right shape (from
 * JavaScript, where the types do not hold), no task of the program's entry
 * module, and no pool started by a task module as a worker loads it. Each
 * check returns the `Cause.IllegalArgumentError` the call fails with, or
 * `undefined`; they are cheap (no copy, no schema), so `apply` runs them on
 * every call.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Fs from "node:fs"
import { pathToFileURL } from "node:url"
import * as Task from "../Task.ts"
import { loadingNow } from "./loadingModule.ts"

/** How a value that should have been something else reads in an error message. */
export const describe = (value: unknown): string => {
  switch (typeof value) {
    case "function":
      return value.name === "" ? "a function" : `a function named ${JSON.stringify(value.name)}`
    case "string":
      return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)
    case "symbol":
      return value.toString()
    case "object": {
      if (value === null) return "null"
      if (Array.isArray(value)) return `an array of length ${value.length}`
      const keys = Object.keys(value)
      return keys.length === 0
        ? "an object with no keys"
        : `an object with keys ${keys.slice(0, 5).join(", ")}${keys.length > 5 ? ", …" : ""}`
    }
    default:
      return String(value)
  }
}

const illegal = (message: string) => new Cause.IllegalArgumentError(message)

let mainModule: ReadonlyArray<string> | undefined

/**
 * The URLs this program's entry module can have: `process.argv[1]` as Node
 * resolves it (a file, or with `.js`, `.mjs`, `.cjs`, `.ts`, `.mts`, `.cts`
 * added), with its symlinks resolved (as Node loads it) and as given
 * (`--preserve-symlinks-main`). None under `node -e` or a REPL.
 */
const mainModuleUrls = (): ReadonlyArray<string> => {
  if (mainModule !== undefined) return mainModule
  const urls: Array<string> = []
  const entry = process.argv[1]
  if (entry !== undefined && entry !== "") {
    for (const candidate of ["", ".js", ".mjs", ".cjs", ".ts", ".mts", ".cts"].map((extension) => entry + extension)) {
      try {
        if (!Fs.statSync(candidate).isFile()) continue
        urls.push(pathToFileURL(candidate).href, pathToFileURL(Fs.realpathSync(candidate)).href)
        break
      } catch {
        // no such file: try the next extension
      }
    }
  }
  return mainModule = urls
}

/** A task handle as `Task.module` makes it (a forged object must at least have its shape). */
const isHandle = (u: unknown): u is Task.Any =>
  Task.isTask(u) && typeof u.url === "string" && typeof u.name === "string" && typeof u.id === "string" &&
  typeof u.errors?.decode === "function"

/** `task` is a task handle, of a module a worker may load. */
export const task = (method: string, task: unknown): Cause.IllegalArgumentError | undefined => {
  if (!isHandle(task)) {
    return illegal(
      `${method}: expected a task handle (one of the values Task.module returns, such as tasks.square), got ${
        describe(task)
      }`
    )
  }
  const main = mainModuleUrls()
  if (main.length > 0 && (task.url === main[0] || task.url === main[1])) {
    return illegal(
      `${method}: the task ${task.name} is declared in the program's entry module (${task.url}), and a worker that ` +
        `loaded it would run the program again: move the tasks to their own module, and import them here ` +
        `(Python refuses the same without its if __name__ == "__main__" guard)`
    )
  }
  return undefined
}

/** `args` is an argument list (`apply`, `applyAsync`, `broadcast`, `initargs`). */
export const args = (method: string, args: unknown, what = "args"): Cause.IllegalArgumentError | undefined =>
  Array.isArray(args)
    ? undefined
    : illegal(`${method}: ${what} must be an array of the task's arguments, got ${describe(args)}`)

/** A call of `apply`, `applyAsync` or `broadcast`. */
export const applyCall = (method: string, t: unknown, a: unknown): Cause.IllegalArgumentError | undefined =>
  task(method, t) ?? args(method, a)

const isIterable = (u: unknown): u is Iterable<unknown> =>
  u !== null && u !== undefined && typeof (u as any)[Symbol.iterator] === "function"

/** A call of `map`, `starmap`, `mapAsync` or `starmapAsync`: a task and an iterable. */
export const mapCall = (method: string, t: unknown, items: unknown): Cause.IllegalArgumentError | undefined =>
  task(method, t) ??
    (isIterable(items)
      ? undefined
      : illegal(`${method}: items must be iterable (an array, a Set, a generator…), got ${describe(items)}`))

/** A call of `imap` or `imapUnordered`: a task and an iterable or a `Stream`. */
export const imapCall = (
  method: string,
  t: unknown,
  items: unknown,
  isStream: (u: unknown) => boolean
): Cause.IllegalArgumentError | undefined =>
  task(method, t) ??
    (isIterable(items) || isStream(items)
      ? undefined
      : illegal(`${method}: items must be an iterable or a Stream, got ${describe(items)}`))

/** Every item of a `starmap` is an argument tuple. */
export const tuples = (method: string, items: ReadonlyArray<unknown>): Cause.IllegalArgumentError | undefined => {
  for (let i = 0; i < items.length; i++) {
    if (!Array.isArray(items[i])) {
      return illegal(
        `${method}: each item must be an array of the task's arguments; item ${i} is not an array: ${
          describe(items[i])
        }`
      )
    }
  }
  return undefined
}

/**
 * A pool may start here: not within the loading of a task module by a worker
 * (see `loadingModule.ts`), unless the caller asked for a nested pool.
 */
export const nesting = (nested: boolean | undefined): Cause.IllegalArgumentError | undefined => {
  if (nested === true) return undefined
  const loading = loadingNow()
  if (loading === undefined) return undefined
  return illegal(
    `WorkerPool.make was called while a worker was loading the task module ${loading} (at its top level, or in a ` +
      `module it imports): every worker would start a pool of its own, and so on. Start pools in the program, ` +
      `not in a task module: move the tasks to their own module, or pass nested: true to start a pool inside a ` +
      `worker on purpose`
  )
}
