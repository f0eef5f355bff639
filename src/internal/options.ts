/**
 * Reads and checks a pool's options: every option a user can get wrong is
 * rejected here, with a clear `Cause.IllegalArgumentError`, before anything
 * starts.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import type * as Backend from "../Backend.ts"
import * as Task from "../Task.ts"
import type { Options } from "../WorkerPool.ts"
import * as NodeThreads from "./nodeThreads.ts"
import type { Sizing } from "./supervisor.ts"

export interface Parsed {
  /** The layer's backend with the pool's own options over it. */
  readonly backend: Backend.Backend
  readonly maxHeapPerWorkerMb: number | undefined
  readonly sizing: Sizing
  readonly maxTasksPerWorker: number | undefined
  readonly maxQueue: number | undefined
  readonly cancelGracePeriod: Duration.Duration
  readonly startTimeout: Duration.Duration
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
  const env = options?.env ?? layer.env
  if (env !== undefined && (typeof env !== "object" || env === null || Array.isArray(env))) {
    throw new Invalid(`env must be a record of strings, got ${JSON.stringify(env)}`)
  }
  return {
    kind,
    name,
    env,
    resourceLimits: options?.resourceLimits ?? layer.resourceLimits,
    execArgv: strings("execArgv", options?.execArgv ?? layer.execArgv),
    argv: strings("argv", options?.argv ?? layer.argv)
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
    if (options?.initializer !== undefined && !Task.isTask(options.initializer)) {
      throw new Invalid("initializer must be a task: a function of a module declared with Task.module")
    }
    return {
      backend: backend(options, layer),
      maxHeapPerWorkerMb: positive("maxHeapPerWorkerMb", options?.maxHeapPerWorkerMb),
      sizing: sizing(options?.size),
      maxTasksPerWorker: positive("maxTasksPerWorker", options?.maxTasksPerWorker),
      maxQueue: positive("maxQueue", options?.maxQueue),
      cancelGracePeriod: duration("cancelGracePeriod", options?.cancelGracePeriod, "250 millis"),
      startTimeout: duration("startTimeout", options?.startTimeout, "30 seconds")
    }
  } catch (error) {
    if (error instanceof Invalid) return new Cause.IllegalArgumentError(error.message)
    throw error
  }
}
