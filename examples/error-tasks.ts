/**
 * The task module of `typed-errors.ts`.
 *
 * `average` is an Effect task that fails with a declared error; `parseJson`
 * just throws. Declaring `InvalidRow` in `errors` is what lets it cross the
 * worker boundary as itself.
 */
import { Effect, Schema } from "effect"
import { Task } from "../src/index.ts"

/** A schema-backed error, so it can be encoded in the worker and decoded by the caller. */
export class InvalidRow extends Schema.TaggedError<InvalidRow>()("InvalidRow", {
  row: Schema.Array(Schema.Number),
  reason: Schema.String
}) {}

/** An error the module does not declare: it reaches the caller as a `TaskError`. */
export class Undeclared extends Schema.TaggedError<Undeclared>()("Undeclared", {}) {}

export const tasks = Task.module(import.meta.url, {
  /** The mean of a row; fails with `InvalidRow` for an empty row or one holding a NaN. */
  average: (row: ReadonlyArray<number>) =>
    row.length === 0
      ? Effect.fail(new InvalidRow({ row, reason: "empty row" }))
      : row.some(Number.isNaN)
      ? Effect.fail(new InvalidRow({ row, reason: "row holds a NaN" }))
      : Effect.succeed(row.reduce((a, b) => a + b, 0) / row.length),

  /** A plain function that throws a `SyntaxError` on bad input. */
  parseJson: (text: string): unknown => JSON.parse(text),

  /** An Effect task failing with an error that is not in `errors`. */
  undeclared: () => Effect.fail(new Undeclared())
}, { errors: [InvalidRow] })
