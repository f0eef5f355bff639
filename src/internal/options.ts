/**
 * Reads and checks a pool's options: every option a user can get wrong is
 * rejected here, with a clear `Cause.IllegalArgumentError`, before anything
 * starts.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Path from "node:path"
import * as Url from "node:url"
import type * as WorkerThreads from "node:worker_threads"
import type * as Backend from "../Backend.ts"
import type { Options } from "../PoolOptions.ts"
import * as Task from "../Task.ts"
import * as CallChecks from "./callChecks.ts"
import * as NodeThreads from "./nodeThreads.ts"
import type { Sizing } from "./sizing.ts"

export interface Parsed {
  /** The layer's backend with the pool's own options over it. */
  readonly backend: Backend.Backend
  readonly maxHeapPerWorkerMb: number | undefined
  readonly sizing: Sizing
  readonly maxTasksPerWorker: number | undefined
  readonly maxQueue: number | undefined
  readonly cancelGracePeriod: Duration.Duration
  readonly startTimeout: Duration.Duration
  /** `preload`: one task of each module to load in every worker before it is ready, each module once. */
  readonly preload: ReadonlyArray<Task.Any>
}

/** What the checks below throw; `parse` turns it into the error a user sees. */
class Invalid {
  readonly message: string
  constructor(message: string) {
    this.message = message
  }
}

const isCount = (n: unknown, least: number): n is number => Number.isSafeInteger(n) && (n as number) >= least

/** An optional positive integer. */
const positive = (name: string, value: number | undefined): number | undefined => {
  if (value !== undefined && !isCount(value, 1)) throw new Invalid(`${name} must be a positive integer, got ${String(value)}`)
  return value
}

/** A finite, non-negative duration. */
const duration = (name: string, input: Duration.Input | undefined, fallback: Duration.Input): Duration.Duration => {
  const parsed = Duration.fromInput(input ?? fallback)
  if (parsed._tag === "None" || !Duration.isFinite(parsed.value) || Duration.toMillis(parsed.value) < 0) {
    throw new Invalid(`${name} must be a finite, non-negative duration, got ${String(input)}`)
  }
  return parsed.value
}

/** An optional list of strings. */
const strings = (name: string, value: ReadonlyArray<string> | undefined): ReadonlyArray<string> | undefined => {
  if (value !== undefined && !(Array.isArray(value) && value.every((arg) => typeof arg === "string"))) {
    throw new Invalid(`${name} must be an array of strings, got ${JSON.stringify(value)}`)
  }
  return value
}

/** An optional record of strings (`undefined` values leave a variable out). */
const environment = (
  value: Readonly<Record<string, string | undefined>> | undefined
): Readonly<Record<string, string | undefined>> | undefined => {
  if (value === undefined) return value
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Invalid(`env must be a record of strings, got ${JSON.stringify(value)}`)
  }
  for (const [name, entry] of Object.entries(value)) {
    if (entry !== undefined && typeof entry !== "string") {
      throw new Invalid(`env.${name} must be a string, got ${CallChecks.describe(entry)}`)
    }
  }
  return value
}

/** An optional worker entry: a `file:` URL (a `URL` or its string) or an absolute path, as a `URL`. */
const workerEntry = (value: string | URL | undefined): URL | undefined => {
  if (value === undefined) return value
  const url = value instanceof URL
    ? value
    : typeof value !== "string"
    ? null
    : Path.isAbsolute(value)
    ? Url.pathToFileURL(value)
    : URL.parse(value)
  if (url === null || url.protocol !== "file:") {
    throw new Invalid(
      `workerEntry must be a file: URL or an absolute path, got ${
        value instanceof URL ? value.href : CallChecks.describe(value)
      }`
    )
  }
  return url
}

/**
 * The ranges of `resourceLimits` a worker can start with (Node 24, x64), in
 * MiB; outside them Node aborts the whole process, not just the worker, or no
 * worker can start:
 * - `maxOldGenerationSizeMb`: 2.4 or less aborts the process (a fatal V8
 *   out-of-memory while the worker deserializes its snapshot); a thread needs
 *   about 11 to load the pool's worker runtime. A whole number: processes pass
 *   it as `--max-old-space-size`, which takes no fraction.
 * - `stackSizeMb`: below ~0.24 the thread segfaults the process; from ~1e14
 *   too; a stack the system cannot give (~32 GiB here) fails the start.
 * - `codeRangeSizeMb`: V8 reserves it up front, and a reservation the system
 *   refuses aborts the process (here from ~8e7; sooner under `ulimit -v`).
 * - `maxYoungGenerationSizeMb`: V8 bounds it itself; any finite positive value.
 */
const RESOURCE_LIMITS: Record<keyof WorkerThreads.ResourceLimits, {
  readonly min: number
  readonly max: number
  readonly integer: boolean
  readonly range: string
}> = {
  maxOldGenerationSizeMb: {
    min: 16,
    max: Number.MAX_SAFE_INTEGER,
    integer: true,
    range: "a whole number of MiB, at least 16"
  },
  maxYoungGenerationSizeMb: {
    min: Number.MIN_VALUE,
    max: Number.MAX_VALUE,
    integer: false,
    range: "a finite number above 0"
  },
  codeRangeSizeMb: { min: Number.MIN_VALUE, max: 1024, integer: false, range: "above 0, at most 1024" },
  stackSizeMb: { min: 0.5, max: 1024, integer: false, range: "between 0.5 and 1024" }
}

/** Optional `resourceLimits`, each field a number in the range a worker can start with. */
const resourceLimits = (value: WorkerThreads.ResourceLimits | undefined): WorkerThreads.ResourceLimits | undefined => {
  if (value === undefined) return value
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Invalid(`resourceLimits must be an object, got ${CallChecks.describe(value)}`)
  }
  for (const [field, limit] of Object.entries(value)) {
    const bounds = Object.hasOwn(RESOURCE_LIMITS, field)
      ? RESOURCE_LIMITS[field as keyof WorkerThreads.ResourceLimits]
      : undefined
    if (bounds === undefined) {
      throw new Invalid(
        `resourceLimits has no field ${JSON.stringify(field)}; it has ${Object.keys(RESOURCE_LIMITS).join(", ")}`
      )
    }
    if (limit === undefined) continue
    const name = `resourceLimits.${field}`
    if (typeof limit !== "number") {
      throw new Invalid(`${name} must be a number (${bounds.range}), got ${CallChecks.describe(limit)}`)
    }
    const inRange = Number.isFinite(limit) && limit >= bounds.min && limit <= bounds.max
    if (!inRange || (bounds.integer && !Number.isInteger(limit))) {
      throw new Invalid(
        `${name} must be ${bounds.range}, got ${limit} (outside that range Node aborts the whole process, ` +
          `or no worker can start)`
      )
    }
  }
  return value
}

/** The layer's backend, each option the pool sets replacing the layer's. */
const backend = (options: Options | undefined, layer: Backend.Backend): Backend.Backend => {
  const kind = options?.backend ?? layer.kind
  if (kind !== "threads" && kind !== "processes") {
    throw new Invalid(`backend must be "threads" or "processes", got ${String(kind)}`)
  }
  const name = options?.name ?? layer.name
  if (name !== undefined && (typeof name !== "string" || name.length === 0)) {
    throw new Invalid(`name must be a non-empty string, got ${JSON.stringify(name)}`)
  }
  const fastWakeup = options?.fastWakeup ?? layer.fastWakeup
  if (fastWakeup !== undefined && typeof fastWakeup !== "boolean") {
    throw new Invalid(`fastWakeup must be a boolean, got ${CallChecks.describe(fastWakeup)}`)
  }
  return {
    kind,
    name,
    fastWakeup,
    env: environment(options?.env ?? layer.env),
    resourceLimits: resourceLimits(options?.resourceLimits ?? layer.resourceLimits),
    execArgv: strings("execArgv", options?.execArgv ?? layer.execArgv),
    argv: strings("argv", options?.argv ?? layer.argv),
    workerEntry: workerEntry(options?.workerEntry ?? layer.workerEntry)
  }
}

/**
 * `preload`: an array of task modules, each the value `Task.module` returns
 * (a record of task handles of one module) or one of its task handles; one
 * handle per module, in order, each module once.
 */
const preload = (value: Options["preload"]): ReadonlyArray<Task.Any> => {
  if (value === undefined) return []
  if (!Array.isArray(value)) {
    throw new Invalid(`preload must be an array of task modules (values Task.module returns), got ${CallChecks.describe(value)}`)
  }
  const modules = new Map<string, Task.Any>()
  for (let i = 0; i < value.length; i++) {
    const entry: unknown = value[i]
    const handle = Task.isTask(entry) ? entry : moduleHandle(entry)
    if (handle === undefined) {
      throw new Invalid(
        `preload[${i}]: expected a task module (the value Task.module returns, such as tasks, or one of its tasks), ` +
          `got ${CallChecks.describe(entry)}`
      )
    }
    const refused = CallChecks.task(`preload[${i}]`, handle)
    if (refused !== undefined) throw new Invalid(refused.message)
    if (!modules.has(handle.url)) modules.set(handle.url, handle)
  }
  return Array.from(modules.values())
}

/** One task handle of a record `Task.module` returned: all its values are handles of one module, and it has one. */
const moduleHandle = (entry: unknown): Task.Any | undefined => {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) return undefined
  try {
    const handles = Object.values(entry)
    const first = handles[0]
    return Task.isTask(first) && handles.every((h) => Task.isTask(h) && h.url === first.url) ? first : undefined
  } catch {
    return undefined // a getter that throws, a Proxy: not what Task.module returns
  }
}

const sizing = (size: Options["size"]): Sizing => {
  if (size === undefined) {
    const n = NodeThreads.defaultSize()
    return { min: n, max: n, idleTimeout: undefined }
  }
  if (typeof size === "number") {
    if (!isCount(size, 1)) throw new Invalid(`WorkerPool size must be a positive integer, got ${String(size)}`)
    return { min: size, max: size, idleTimeout: undefined }
  }
  if (!isCount(size.min, 0) || !isCount(size.max, 1) || size.min > size.max) {
    throw new Invalid(
      `WorkerPool size must be a positive integer or { min, max } with 0 <= min <= max and max >= 1, got ${
        JSON.stringify(size)
      }`
    )
  }
  return { min: size.min, max: size.max, idleTimeout: duration("idleTimeout", size.idleTimeout, "30 seconds") }
}

/** Checks a pool's options (over the `Backend` layer's); the error says which one is wrong and why. */
export const parse = (options: Options | undefined, layer: Backend.Backend): Parsed | Cause.IllegalArgumentError => {
  try {
    if (options?.nested !== undefined && typeof options.nested !== "boolean") {
      throw new Invalid(`nested must be a boolean, got ${CallChecks.describe(options.nested)}`)
    }
    const refused = CallChecks.nesting(options?.nested) ??
      (options?.initializer === undefined ? undefined : CallChecks.task("initializer", options.initializer)) ??
      (options?.initargs === undefined ? undefined : CallChecks.args("initializer", options.initargs, "initargs"))
    if (refused !== undefined) return refused
    return {
      backend: backend(options, layer),
      maxHeapPerWorkerMb: positive("maxHeapPerWorkerMb", options?.maxHeapPerWorkerMb),
      sizing: sizing(options?.size),
      maxTasksPerWorker: positive("maxTasksPerWorker", options?.maxTasksPerWorker),
      maxQueue: positive("maxQueue", options?.maxQueue),
      cancelGracePeriod: duration("cancelGracePeriod", options?.cancelGracePeriod, "250 millis"),
      startTimeout: duration("startTimeout", options?.startTimeout, "30 seconds"),
      preload: preload(options?.preload)
    }
  } catch (error) {
    if (error instanceof Invalid) return new Cause.IllegalArgumentError(error.message)
    throw error
  }
}
