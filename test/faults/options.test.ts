/**
 * Options that Node would crash on are rejected by `make` with
 * `IllegalArgumentError` before any worker starts. The ranges of
 * `resourceLimits` were found by experiment (Node 24, x64): a worker thread
 * with `stackSizeMb` below ~0.24 segfaults the whole process, one with
 * `maxOldGenerationSizeMb` of 2.4 or less aborts it (a fatal out-of-memory
 * while deserializing the snapshot), a `codeRangeSizeMb` the machine cannot
 * reserve aborts it, and a `stackSizeMb` of 1e14 or more segfaults it. The
 * edges: a value just inside is accepted and a worker starts and serves; one
 * just outside is rejected. The crashing values themselves are only ever tried
 * in a program of their own.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect } from "effect"
import { WorkerPool } from "../../src/index.ts"
import { tasks as plain } from "../fixtures/startup-plain-tasks.ts"
import { runFixture } from "../utils.ts"

const rejected = (options: WorkerPool.Options, ...says: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(Effect.scoped(WorkerPool.make({ size: 1, ...options })))
    assert.isTrue(Cause.isIllegalArgumentError(error), `${JSON.stringify(options)}: ${String(error)}`)
    for (const text of says) assert.include((error as Cause.IllegalArgumentError).message, text)
  })

const serves = (options: WorkerPool.Options) =>
  Effect.scoped(Effect.gen(function*() {
    const pool = yield* WorkerPool.make({ size: 1, ...options })
    assert.strictEqual(yield* pool.apply(plain.add, [20, 22]), 42, JSON.stringify(options))
  }))

describe("options Node would crash on are rejected by make", () => {
  it.effect("resourceLimits that abort the process are rejected (tried in a program of its own)", () =>
    Effect.gen(function*() {
      const outcomes: Array<string> = JSON.parse(yield* runFixture("bad-limits.ts"))
      assert.strictEqual(outcomes.length, 5)
      for (const outcome of outcomes) assert.match(outcome, /^rejected: resourceLimits\.\w+ must be/)
    }))

  it.effect("stackSizeMb: 0.5 to 1024", () =>
    Effect.gen(function*() {
      yield* rejected({ resourceLimits: { stackSizeMb: 0.49 } }, "resourceLimits.stackSizeMb", "between 0.5 and 1024")
      yield* rejected({ resourceLimits: { stackSizeMb: 1024.5 } }, "between 0.5 and 1024", "1024.5")
      yield* serves({ resourceLimits: { stackSizeMb: 0.5 } })
      yield* serves({ resourceLimits: { stackSizeMb: 1024 } })
    }))

  it.effect("maxOldGenerationSizeMb: a whole number of MiB, at least 16 (threads and processes)", () =>
    Effect.gen(function*() {
      for (const backend of ["threads", "processes"] as const) {
        yield* rejected({ backend, resourceLimits: { maxOldGenerationSizeMb: 15 } }, "at least 16")
        yield* rejected({ backend, resourceLimits: { maxOldGenerationSizeMb: 100.5 } }, "whole number")
        yield* serves({ backend, resourceLimits: { maxOldGenerationSizeMb: 16 } })
      }
    }))

  it.effect("codeRangeSizeMb: above 0, at most 1024", () =>
    Effect.gen(function*() {
      yield* rejected({ resourceLimits: { codeRangeSizeMb: 1025 } }, "resourceLimits.codeRangeSizeMb", "at most 1024")
      yield* rejected({ resourceLimits: { codeRangeSizeMb: 0 } }, "resourceLimits.codeRangeSizeMb")
      yield* serves({ resourceLimits: { codeRangeSizeMb: 1024 } })
      yield* serves({ resourceLimits: { codeRangeSizeMb: 0.01 } })
    }))

  it.effect("maxYoungGenerationSizeMb: a finite number above 0", () =>
    Effect.gen(function*() {
      yield* rejected({ resourceLimits: { maxYoungGenerationSizeMb: 0 } }, "resourceLimits.maxYoungGenerationSizeMb")
      yield* rejected({ resourceLimits: { maxYoungGenerationSizeMb: Infinity } }, "finite")
      yield* serves({ resourceLimits: { maxYoungGenerationSizeMb: 0.01 } })
      yield* serves({ resourceLimits: { maxYoungGenerationSizeMb: 1e6 } })
    }))

  it.effect("a resourceLimits value that is not a number, or a field Node does not know, is rejected", () =>
    Effect.gen(function*() {
      yield* rejected({ resourceLimits: { stackSizeMb: "8" as unknown as number } }, "must be a number", `"8"`)
      yield* rejected({ resourceLimits: { maxOldGenerationSizeMb: NaN } }, "maxOldGenerationSizeMb")
      yield* rejected({ resourceLimits: { stackSize: 8 } as any }, `no field "stackSize"`, "stackSizeMb")
      yield* rejected({ resourceLimits: 64 as any }, "resourceLimits must be an object")
      yield* serves({ resourceLimits: {} })
    }))

  it.effect("env: every value a string (or undefined, which leaves it out)", () =>
    Effect.gen(function*() {
      yield* rejected({ env: { A: 1 } as any }, `env.A must be a string`, "1")
      yield* rejected({ env: { A: { nested: true } } as any }, `env.A must be a string`)
      yield* serves({ env: { ...process.env, A: undefined } })
    }))
})
