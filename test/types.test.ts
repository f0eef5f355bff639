/** Type-level tests of the public signatures: arguments and results are typed end to end. */
import { describe, expectTypeOf, it } from "@effect/vitest"
import { type Cause, Context, Effect, Layer, type Stream } from "effect"
import { type AsyncResult, type DispatchError, type PoolNotRunning, Task, type WorkerPool } from "../src/index.ts"
import { type Odd, tasks } from "./fixtures/tasks.ts"

// Only type-checked: the checks below never run a pool.
const pool = undefined as unknown as WorkerPool.Pool
const typeOnly = (_checks: () => void) => {}

describe("types", () => {
  it("task handles carry the function's arguments, result and declared errors", () => {
    expectTypeOf<Task.Args<typeof tasks.add>>().toEqualTypeOf<[a: number, b: number]>()
    expectTypeOf<Task.Result<typeof tasks.add>>().toEqualTypeOf<number>()
    expectTypeOf<Task.Result<typeof tasks.sleepThen>>().toEqualTypeOf<number>() // a Promise is unwrapped
    expectTypeOf<Task.Result<typeof tasks.half>>().toEqualTypeOf<number>() // so is an Effect
    expectTypeOf<Task.Error<typeof tasks.half>>().toEqualTypeOf<Odd>()
    expectTypeOf<Task.Error<typeof tasks.failUndeclared>>().toEqualTypeOf<never>() // undeclared: a TaskError
    expectTypeOf<Task.Result<typeof tasks.makeBytes>>().toEqualTypeOf<Uint8Array<ArrayBuffer>>() // transfer unwrapped
  })

  it("pool methods are typed end to end", () =>
    typeOnly(() => {
    expectTypeOf(pool.apply(tasks.half, [2])).toEqualTypeOf<
      Effect.Effect<number, Odd | DispatchError | Cause.IllegalArgumentError>
    >()
    expectTypeOf(pool.map(tasks.square, [1, 2])).toEqualTypeOf<
      Effect.Effect<Array<number>, DispatchError | Cause.IllegalArgumentError>
    >()
    expectTypeOf(pool.starmap(tasks.add, [[1, 2]])).toEqualTypeOf<
      Effect.Effect<Array<number>, DispatchError | Cause.IllegalArgumentError>
    >()
    expectTypeOf(pool.imap(tasks.half, [1, 2])).toEqualTypeOf<
      Stream.Stream<number, Odd | DispatchError | Cause.IllegalArgumentError>
    >()
    // map passes one argument: a task whose further parameters are optional takes it too
    expectTypeOf<Task.MapItem<typeof tasks.pid>>().toEqualTypeOf<unknown>()
    expectTypeOf<Task.MapItem<typeof tasks.add>>().toEqualTypeOf<never>()
    expectTypeOf(pool.map(tasks.pid, [0, 1])).toEqualTypeOf<
      Effect.Effect<Array<number>, DispatchError | Cause.IllegalArgumentError>
    >()
    expectTypeOf(pool.applyAsync(tasks.square, [3])).toEqualTypeOf<
      Effect.Effect<AsyncResult.AsyncResult<number, DispatchError>, PoolNotRunning | Cause.IllegalArgumentError>
    >()
  }))

  it("an Effect task that requires a service its module's layer does not provide does not compile", () =>
    typeOnly(() => {
      class Config extends Context.Service<Config, { readonly factor: number }>()("test/Config") {}
      Task.module("file:///virtual/requires.ts", {
        // @ts-expect-error: a worker has no Config to give it
        scaled: (x: number) => Config.use((config) => Effect.succeed(x * config.factor))
      })
      Task.module("file:///virtual/layer.ts", {
        scaled: (x: number) => Config.use((config) => Effect.succeed(x * config.factor))
      }, { layer: Layer.succeed(Config)({ factor: 3 }) })
      Task.module("file:///virtual/provides.ts", {
        scaled: (x: number) =>
          Config.use((config) => Effect.succeed(x * config.factor)).pipe(
            Effect.provideService(Config, { factor: 2 })
          )
      })
    }))

  it("wrong arguments do not compile", () =>
    typeOnly(() => {
    // @ts-expect-error: a string is not a number
    pool.apply(tasks.square, ["2"])
    // @ts-expect-error: add takes two arguments
    pool.apply(tasks.add, [1])
    // @ts-expect-error: map calls the task with one argument
    pool.map(tasks.add, [1, 2])
    // @ts-expect-error: starmap's tuples must match the parameters
    pool.starmap(tasks.add, [[1, "2"]])
  }))
})
