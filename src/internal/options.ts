/**
 * Reads and checks a pool's options: every option a user can get wrong is
 * rejected here, with a clear `Cause.IllegalArgumentError`, before anything
 * starts.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Task from "../Task.ts"
import type { Options } from "../WorkerPool.ts"
import * as NodeThreads from "./nodeThreads.ts"
import type { Sizing } from "./supervisor.ts"

export interface Parsed {
  readonly sizing: Sizing
  readonly maxTasksPerWorker: number | undefined
  readonly maxQueue: number | undefined
  readonly cancelGracePeriod: Duration.Duration
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

/** Checks a pool's options; the error says which one is wrong and why. */
export const parse = (options: Options | undefined): Parsed | Cause.IllegalArgumentError => {
  try {
    if (options?.initializer !== undefined && !Task.isTask(options.initializer)) {
      throw new Invalid("initializer must be a task: a function of a module declared with Task.module")
    }
    if (options?.backend !== undefined && options.backend !== "threads" && options.backend !== "processes") {
      throw new Invalid(`backend must be "threads" or "processes", got ${String(options.backend)}`)
    }
    return {
      sizing: sizing(options?.size),
      maxTasksPerWorker: positive("maxTasksPerWorker", options?.maxTasksPerWorker),
      maxQueue: positive("maxQueue", options?.maxQueue),
      cancelGracePeriod: duration("cancelGracePeriod", options?.cancelGracePeriod, "250 millis")
    }
  } catch (error) {
    if (error instanceof Invalid) return new Cause.IllegalArgumentError(error.message)
    throw error
  }
}
