/**
 * An unhandled `TaskError` shows where it was thrown: printed by
 * `Cause.pretty`, `NodeRuntime.runMain`, `console.error` (`util.inspect`) or
 * `String`, it names the remote error, its message and the task
 * (`module#name`), and shows the remote stack (Python's RemoteTraceback, "the
 * above exception was the direct cause"). With worker threads and child
 * processes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Schema } from "effect"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import * as Util from "node:util"
import { TaskError, WorkerPool } from "../src/index.ts"
import { tasks } from "./fixtures/printing-tasks.ts"
import { backends } from "./utils.ts"

/** The function in the fixture that throws: its frame must appear wherever the error is printed. */
const frame = "parseSettingsDeeply"
const remote = `SyntaxError: unexpected end of "{"`

/** Runs `test/fixtures/<name>` as a program of its own; its exit code, and what it printed (stdout, then stderr). */
const runProgram = (name: string, args: ReadonlyArray<string>) =>
  Effect.callback<{ readonly code: number | null; readonly output: string }>((resume) => {
    const script = fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))
    execFile(process.execPath, [script, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      resume(Effect.succeed({ code: error === null ? 0 : (error.code as number | null), output: stdout + stderr }))
    })
  })

for (const backend of backends) {
  describe(`printing a TaskError (${backend})`, () => {
    it.effect("its message names the remote error and the task; its stack and cause are the remote ones", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const error = yield* Effect.flip(pool.apply(tasks.parse, ["{"]))
        assert.instanceOf(error, TaskError)
        assert.strictEqual(error.message, `${remote} (in task ${tasks.parse.id})`)
        assert.strictEqual(error.remoteMessage, `unexpected end of "{"`)
        assert.strictEqual(String(error), `${error.name}: ${error.message}`)
        assert.include(error.stack, frame)
        const cause = error.cause as Error
        assert.instanceOf(cause, Error)
        assert.strictEqual(cause.name, "SyntaxError")
        assert.strictEqual(cause.message, `unexpected end of "{"`)
        assert.strictEqual(cause.stack, error.remoteStack)
        assert.include(cause.stack, frame)
      }))

    it.effect("Cause.pretty and console.error show the remote stack frame and module#name", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const exit = yield* Effect.exit(pool.apply(tasks.parse, ["{"]))
        assert.isTrue(exit._tag === "Failure")
        const pretty = Cause.pretty((exit as { cause: Cause.Cause<unknown> }).cause)
        for (const printed of [pretty, Util.inspect(Cause.squash((exit as { cause: Cause.Cause<unknown> }).cause))]) {
          assert.include(printed, tasks.parse.id)
          assert.include(printed, remote)
          assert.include(printed, frame)
          assert.include(printed, "[cause]: SyntaxError")
        }
      }))

    it.effect("NodeRuntime.runMain's report of a program failing with a TaskError shows them; it exits with 1", () =>
      Effect.gen(function*() {
        const { code, output } = yield* runProgram("printing-main.ts", [backend])
        assert.strictEqual(code, 1)
        assert.include(output, "printing-tasks.ts#parse")
        assert.include(output, remote)
        assert.include(output, frame)
        assert.include(output, "[cause]: SyntaxError")
      }), { timeout: 60_000 })
  })
}

describe("a TaskError across a boundary", () => {
  it("encodes and decodes to the same message, stack and cause", () => {
    const error = new TaskError({
      task: "file:///app/tasks.ts#parse",
      remoteName: "RangeError",
      message: "out of range",
      remoteStack: "RangeError: out of range\n    at parse (file:///app/tasks.ts:3:9)"
    })
    assert.strictEqual(error.message, "RangeError: out of range (in task file:///app/tasks.ts#parse)")
    const decoded = Schema.decodeUnknownSync(TaskError)(Schema.encodeSync(TaskError)(error))
    assert.instanceOf(decoded, TaskError)
    assert.strictEqual(decoded.message, error.message)
    assert.strictEqual(decoded.remoteMessage, "out of range")
    assert.strictEqual(decoded.stack, error.stack)
    assert.strictEqual((decoded.cause as Error).stack, (error.cause as Error).stack)
  })
})
