/**
 * An Effect-using task module for the first-call scenario (7): it imports
 * effect as a user's module would (the `effect` barrel, a schema-backed error)
 * and its task returns an Effect. Workers load this file by its URL.
 */
import { Effect, Schema } from "effect"
import { Task } from "../src/index.ts"

export class Negative extends Schema.TaggedError<Negative>()("Negative", { n: Schema.Number }) {}

export const tasks = Task.module(import.meta.url, {
  add: (a: number, b: number) => a + b < 0 ? Effect.fail(new Negative({ n: a + b })) : Effect.succeed(a + b)
}, { errors: [Negative] })
