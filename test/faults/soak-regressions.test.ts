/**
 * Regressions found by the soak (`npm run soak`), each with real workers, on
 * both backends.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { WorkerCrashed, WorkerPool } from "../../src/index.ts"
import { withChannelTap } from "../fixtures/channel-tap-state.ts"
import { SPARSE_LENGTH, tasks } from "../fixtures/soak-regression-tasks.ts"
import { backends } from "../utils.ts"

/**
 * While `effect` runs, reading the hole at `index` of an array of length
 * `length` in this process (what iterating it does, past the few words the
 * boundary reads) is recorded and stops the reader with a throw; returns
 * `effect`'s exit, or `"iterated"` as soon as that happened.
 */
const detectingIteration = <A, E, R>(effect: Effect.Effect<A, E, R>, length: number, index: number) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const seen = { iterated: false }
      Object.defineProperty(Array.prototype, index, {
        configurable: true,
        get(this: unknown) {
          if (Array.isArray(this) && this.length === length) {
            seen.iterated = true
            throw new Error(`the pool iterated a reply batch of bogus length ${length}`)
          }
          return undefined
        },
        // arrays that grow past `index` meanwhile get an element of their own, as without the getter
        set(this: object, value: unknown) {
          Object.defineProperty(this, index, { value, writable: true, enumerable: true, configurable: true })
        }
      })
      return seen
    }),
    (seen) =>
      Effect.raceFirst(
        Effect.exit(effect),
        Effect.promise(async () => {
          while (!seen.iterated) await new Promise((resolve) => setTimeout(resolve, 5))
          return "iterated" as const
        })
      ),
    () => Effect.sync(() => void delete (Array.prototype as any)[index])
  )

for (const backend of backends) {
  describe(`soak regressions (${backend})`, () => {
    // The liveness check looked for its PONG in every batch before the boundary had checked the batch's shape:
    // with a PING unanswered, a sparse array of length 2^32 - 4 (a few bytes on the wire) froze the parent's event
    // loop for half a minute or more while it read every hole (the soak's calls that took seconds).
    it.live("28. a reply batch with a huge bogus length, while a liveness PING is unanswered, is not iterated: the worker is replaced", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend, execArgv: withChannelTap })
        const exit = yield* detectingIteration(pool.apply(tasks.sparseInsteadOfPong, []), SPARSE_LENGTH, 1000)
        assert.notStrictEqual(exit, "iterated", "the parent iterated the bogus batch")
        if (exit === "iterated" || !Exit.isFailure(exit)) return assert.fail(`expected WorkerCrashed, got ${String(exit)}`)
        const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")?.error
        assert.instanceOf(error, WorkerCrashed)
        assert.include(error.message, "broke the protocol")
        assert.include(error.message, `${SPARSE_LENGTH / 4} replies at once while it held 1 jobs`)
        assert.strictEqual(yield* pool.apply(tasks.square, [7]), 49)
      }))
  })
}

describe("soak regressions (processes only)", () => {
  // Node's channel hands a message whose `cmd` starts with "NODE_" to its own handle-passing code, not to the
  // pool: an acknowledgement of a handle the pool never sent fails an assertion in Node, an uncaught
  // exception that ended the parent process.
  for (const cmd of ["NODE_HANDLE_ACK", "NODE_HANDLE_NACK"]) {
    it.live(`28. a worker that sends Node's own ${cmd} does not crash the parent: it is replaced, its task fails with WorkerCrashed`, () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend: "processes" })
        const error = yield* Effect.flip(pool.apply(tasks.sendNodeInternal, [cmd]))
        assert.instanceOf(error, WorkerCrashed)
        assert.include(error.message, "broke the protocol")
        assert.include(error.message, cmd)
        assert.strictEqual(yield* pool.apply(tasks.square, [7]), 49)
      }))
  }
})
