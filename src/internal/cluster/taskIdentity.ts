/**
 * Task identity across machines. On one machine a task is its module's
 * `file://` URL and its name; on a cluster each machine has the code at its
 * own place, so a task crosses as its module's path relative to a declared
 * root (the same code deployed under the root on every runner) and its name:
 * `tasks/image.ts#resize`. The runner resolves the path under its own root,
 * loads the module (once) and finds the task's handle among its exports.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"
import * as Task from "../../Task.ts"

/** A root as a directory URL ending with `/`: a `URL`, a URL string, or a directory path; the working directory by default. */
export const normalizeRoot = (root: URL | string | undefined): string => {
  const href = root === undefined
    ? pathToFileURL(process.cwd()).href
    : root instanceof URL
    ? root.href
    : URL.canParse(root) && /^[a-z][a-z0-9+.-]+:/i.test(root) && !/^[a-z]:[\\/]/i.test(root)
    ? new URL(root).href
    : pathToFileURL(Path.resolve(root)).href
  return href.endsWith("/") ? href : `${href}/`
}

/** The portable id of a task: its module's path under `root`, `#`, its name; or why it has none. */
export const portableId = (task: Task.Any, root: string): string | Cause.IllegalArgumentError =>
  task.url.startsWith(root) && task.url.length > root.length
    ? `${task.url.slice(root.length)}#${task.name}`
    : new Cause.IllegalArgumentError(
      `ClusterPool: the task ${task.name} is declared in ${task.url}, outside the cluster's root ${root}: runners ` +
        `find a task by its module's path under the root (the same code deployed on every runner), so declare the ` +
        `root (root: new URL(".", import.meta.url) of a module at the top of your code) or move the module under it`
    )

/** Why a runner could not find a task: it crosses to the client as a `TaskError`. */
export class TaskNotFound extends Error {
  override readonly name = "TaskNotFound"
}

const loaded = new Map<string, Promise<Record<string, unknown>>>()

/**
 * Finds the task a portable id names, under the runner's `root`: loads its
 * module (once per runner) and looks its handle up among the module's exports
 * (an exported `Task.module(...)` result, or one of its handles).
 */
export const resolve = async (id: string, root: string, runner: string): Promise<Task.Any> => {
  const hash = id.lastIndexOf("#")
  const path = hash > 0 ? id.slice(0, hash) : ""
  const name = hash > 0 ? id.slice(hash + 1) : ""
  const url = path === "" ? undefined : new URL(path, root)
  if (url === undefined || name === "" || !url.href.startsWith(root) || url.href.length === root.length) {
    throw new TaskNotFound(`runner ${runner}: ${JSON.stringify(id)} does not name a task under its root ${root}`)
  }
  let module = loaded.get(url.href)
  if (module === undefined) {
    module = import(url.href) as Promise<Record<string, unknown>>
    loaded.set(url.href, module)
    module.catch(() => loaded.delete(url.href))
  }
  let exports: Record<string, unknown>
  try {
    exports = await module
  } catch (error) {
    throw new TaskNotFound(
      `runner ${runner} cannot load the task module ${path} (root ${root}): ${
        error instanceof Error ? error.message : String(error)
      }`
    )
  }
  const handle = findHandle(exports, url.href, name)
  if (handle === undefined) {
    throw new TaskNotFound(
      `runner ${runner}: the module ${path} (root ${root}) exports no task named ${name} (an older or newer ` +
        `version of the code than the client's?)`
    )
  }
  return handle
}

/** A handle for `url#name` among a module's exports, or one level inside them (`export const tasks = Task.module(...)`). */
const findHandle = (exports: Record<string, unknown>, url: string, name: string): Task.Any | undefined => {
  const matches = (u: unknown): u is Task.Any => Task.isTask(u) && u.url === url && u.name === name
  for (const value of Object.values(exports)) {
    if (matches(value)) return value
    if (typeof value === "object" && value !== null && !Task.isTask(value)) {
      const inner = Object.hasOwn(value, name) ? (value as Record<string, unknown>)[name] : undefined
      if (matches(inner)) return inner
    }
  }
  return undefined
}
