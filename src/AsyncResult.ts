/**
 * The result of `applyAsync`, `mapAsync` and `starmapAsync`: Python's
 * `AsyncResult`, backed by a fiber that lives in the pool's scope.
 *
 * The task was submitted when the `*Async` call returned; the result can be
 * awaited (`get`, `wait`), polled (`ready`, `successful`), or handled as the
 * fiber it is (`fiber`, e.g. with `Fiber.join` or `Fiber.interrupt`, which
 * cancels the task).
 *
 * @example
 * ```ts
 * const result = yield* pool.applyAsync(tasks.square, [4])
 * const ready = yield* result.ready        // false, or true if it is done
 * const value = yield* result.get({ timeout: "1 second" }) // 16
 * ```
 *
 * @since 0.1.0
 * @module
 */
import * as Cause from "effect/Cause"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { ResultNotReady } from "./PoolError.ts"

/**
 * An asynchronous result.
 *
 * @since 0.1.0
 * @category models
 */
export interface AsyncResult<A, E> {
  /** The fiber that waits for the result; interrupting it cancels the task. */
  readonly fiber: Fiber.Fiber<A, E>
  /**
   * Waits for the result. With a `timeout`, fails with `Cause.TimeoutError`
   * if the result is not ready by then; the task keeps running and a later
   * `get` can still return its value.
   */
  readonly get: (options?: { readonly timeout?: Duration.Input | undefined }) => Effect.Effect<
    A,
    E | Cause.TimeoutError
  >
  /** Waits until the result is ready (or the timeout passes); never fails. */
  readonly wait: (options?: { readonly timeout?: Duration.Input | undefined }) => Effect.Effect<void>
  /** Whether the result is ready. Never fails. */
  readonly ready: Effect.Effect<boolean>
  /** Whether the task succeeded; fails with `ResultNotReady` before it is ready. */
  readonly successful: Effect.Effect<boolean, ResultNotReady>
}

/**
 * Wraps a fiber as an `AsyncResult`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromFiber = <A, E>(fiber: Fiber.Fiber<A, E>): AsyncResult<A, E> => ({
  fiber,
  get: (options) =>
    options?.timeout === undefined ? Fiber.join(fiber) : Effect.timeout(Fiber.join(fiber), options.timeout),
  wait: (options) =>
    options?.timeout === undefined
      ? Effect.asVoid(Fiber.await(fiber))
      : Effect.asVoid(Effect.timeoutOption(Fiber.await(fiber), options.timeout)),
  ready: Effect.sync(() => fiber.pollUnsafe() !== undefined),
  successful: Effect.suspend(() => {
    const exit = fiber.pollUnsafe()
    return exit === undefined
      ? Effect.fail(new ResultNotReady({ message: "the result is not ready yet: wait for it, or check ready first" }))
      : Effect.succeed(exit._tag === "Success")
  })
})
