/**
 * What the worker runtime needs to stand whatever a task does: the global
 * functions it calls, as they were before any task module ran; effect, loaded
 * on first need; and the inspection of what a task returns or throws, which
 * never throws itself (a revoked Proxy, a Proxy whose traps throw, a throwing
 * `then` getter are reduced to an error the caller receives).
 *
 * @internal
 */
import type * as Cause from "effect/Cause"
import type * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import type * as Layer from "effect/Layer"
import type * as Logger from "effect/Logger"
import type * as References from "effect/References"
import type * as Scope from "effect/Scope"
import type * as Tracer from "effect/Tracer"
import { createRequire } from "node:module"
import type * as Protocol from "./protocol.ts"

// `node:util` as CommonJS: an ESM import of it reads every export, which loads its lazy ones (`parseArgs`,
// `diff`, …): about half a millisecond of every worker's start-up for nothing
const { types } = process.getBuiltinModule("node:util")

// -- the global environment, as it was when the worker started ----------------------
// This module is loaded with the worker entry, before any task module: a task that patches these (fake timers,
// `Promise.prototype.then`, …) does not stop the runtime running the next tasks and answering the pool.
// (`await` of a native promise looks up no `then` either.)

/** `performance.now`. */
export const now: () => number = performance.now.bind(performance)
/** `setImmediate`. */
export const setImmediateOriginal = setImmediate
/** `setTimeout`. */
export const setTimeoutOriginal = setTimeout
/** `clearTimeout`. */
export const clearTimeoutOriginal = clearTimeout
/** `queueMicrotask`. */
export const queueMicrotaskOriginal = queueMicrotask
/** `Promise.prototype.then`, for the promises tasks return. */
export const promiseThen = Promise.prototype.then
/** `Reflect.apply`. */
export const apply = Reflect.apply
/** `Object.hasOwn`. */
export const hasOwn = Object.hasOwn
const objectToString = Object.prototype.toString
const { isPromise, isProxy } = types

// -- effect, loaded on first need ---------------------------------------------------

/** The parts of effect the runtime uses, loaded on first need by `fx`. */
export interface EffectModules {
  readonly Cause: typeof Cause
  readonly Context: typeof Context
  readonly Effect: typeof Effect
  readonly Exit: typeof Exit
  readonly Layer: typeof Layer
  readonly Logger: typeof Logger
  readonly References: typeof References
  readonly Scope: typeof Scope
  readonly Tracer: typeof Tracer
}

let effectModules: EffectModules | undefined

/**
 * Loads effect's modules synchronously (`require` of an ES module), the first
 * time a task returns an Effect or a module declares a layer. They are the
 * instances the task module imported already, so this costs about a
 * millisecond then, and nothing in a worker that never runs an Effect.
 */
export const fx = (): EffectModules => {
  if (effectModules === undefined) {
    if (bundled) {
      // the bundler's require, written out for it to see: the copy of effect in the bundle, never another
      effectModules = {
        Cause: require("effect/Cause"),
        Context: require("effect/Context"),
        Effect: require("effect/Effect"),
        Exit: require("effect/Exit"),
        Layer: require("effect/Layer"),
        Logger: require("effect/Logger"),
        References: require("effect/References"),
        Scope: require("effect/Scope"),
        Tracer: require("effect/Tracer")
      }
    } else {
      const load = createRequire(import.meta.url)
      effectModules = {
        Cause: load("effect/Cause"),
        Context: load("effect/Context"),
        Effect: load("effect/Effect"),
        Exit: load("effect/Exit"),
        Layer: load("effect/Layer"),
        Logger: load("effect/Logger"),
        References: load("effect/References"),
        Scope: load("effect/Scope"),
        Tracer: load("effect/Tracer")
      }
    }
  }
  return effectModules
}

/**
 * Whether this code runs from a bundle rather than from the package's files.
 * An ES module has no `require` of its own; a bundler (esbuild) gives it one,
 * which loads the modules it bundled. (A global `require`, as under
 * `node -e`, is not one: it resolves from the working directory.)
 */
export const bundled: boolean = typeof require === "function" &&
  require !== (globalThis as { readonly require?: unknown }).require

// -- what a task returned --------------------------------------------------------------

/** A plain value: the result itself. */
export const VALUE = 0
/** An Effect: run in a fiber. */
export const EFFECT = 1
/** A native promise: waited for with the original `then`. */
export const PROMISE = 2
/** Another thenable: waited for with its own `then` (`thenFound`). */
export const THENABLE = 3
/** What `classify` finds a task returned. */
export type Kind = typeof VALUE | typeof EFFECT | typeof PROMISE | typeof THENABLE

let found: Function | undefined

/** The `then` of the value `classify` last found to be a `THENABLE` (read once: a getter may change its mind). */
export const thenFound = (): Function => found!

/**
 * What a task returned, without loading effect. Effect marks its values with
 * `"~effect/Effect"` on their prototype: an object with it as an own property
 * is data. Reads nothing but that and `then`, and may throw (a revoked Proxy,
 * a throwing `then` getter): the task then fails with what it threw.
 */
export const classify = (u: unknown): Kind => {
  if (typeof u !== "object" && typeof u !== "function") return VALUE
  if (u === null) return VALUE
  if ("~effect/Effect" in u && !hasOwn(u, "~effect/Effect")) return EFFECT
  const then = (u as { readonly then?: unknown }).then
  if (typeof then !== "function") return VALUE
  if (isPromise(u)) return PROMISE
  found = then
  return THENABLE
}

// -- what a task threw -------------------------------------------------------------------

/** Reduces anything thrown to a name, a message and a stack, which always clone. Never throws. */
export const describe = (error: unknown, prefix = ""): Protocol.RemoteError => {
  try {
    return describeUnsafe(error, prefix)
  } catch {
    return { name: "NonErrorThrown", message: prefix + unprintable(error), stack: undefined }
  }
}

/** `Object.prototype.toString` of a value, or what it is when even that throws (a revoked Proxy, a throwing trap). */
const unprintable = (value: unknown): string => {
  try {
    return String(apply(objectToString, value, []))
  } catch {
    return isProxy(value)
      ? "a Proxy that cannot be inspected (revoked, or one of its traps throws)"
      : "a value that cannot be inspected"
  }
}

const describeUnsafe = (error: unknown, prefix: string): Protocol.RemoteError => {
  if (error instanceof Error) {
    return {
      name: String(error.name),
      // an error with no message (e.g. an undeclared tagged error) is described by its fields
      message: prefix + (error.message !== "" ? String(error.message) : json(error)),
      stack: typeof error.stack === "string" ? error.stack : undefined
    }
  }
  return { name: "NonErrorThrown", message: prefix + (typeof error === "string" ? error : json(error)), stack: undefined }
}

const json = (value: unknown): string => {
  try {
    return JSON.stringify(value) ?? String(value)
  } catch {
    return String(value)
  }
}

/** The error an Effect task died with (its cause squashed), for `describe`. May throw on a hostile defect. */
export const causeError = (cause: Cause.Cause<unknown>): Error => {
  const { Cause } = fx()
  const squashed = Cause.squash(cause)
  if (squashed instanceof Error) return squashed
  const error = new Error(Cause.pretty(cause))
  error.name = "Defect"
  return error
}

/** Why a result could not be sent (the clone error's message), saying so when it is a Proxy, which never clones. */
export const uncloneable = (error: unknown, value: unknown): string => {
  const message = describe(error).message
  return isProxy(value) ? `a Proxy cannot be sent (${message})` : message
}
