/**
 * The progress protocol at the boundary (SEMANTICS.md 28): a
 * `STATUS_TASK_PROGRESS` for a job the worker does not hold, for a call that
 * did not ask for progress, with a run time, or sharing a message with other
 * replies makes the worker faulty: it is replaced, its task fails with
 * `WorkerCrashed` ("broke the protocol"), and the pool serves on. With worker
 * threads and child processes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { WorkerCrashed, WorkerPool } from "../../src/index.ts"
import { withChannelTap } from "../fixtures/channel-tap-state.ts"
import { progressForgeries, tasks } from "../fixtures/progress-tasks.ts"
import { backends } from "../utils.ts"

const expected = {
  unwatched: "a progress update for a call that did not ask for it",
  withTime: "a progress update must come alone, with a time of 0",
  notAlone: "a progress update must come alone, with a time of 0"
} as const

for (const backend of backends) {
  describe(`a worker that breaks the progress protocol (${backend})`, () => {
    it.live("28. a progress update for a job nobody sent: replaced, its task fails with WorkerCrashed", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const error = yield* Effect.flip(pool.apply(tasks.progressForNobody, []))
        assert.instanceOf(error, WorkerCrashed)
        assert.include(error.message, "broke the protocol")
        assert.include(error.message, "a progress update, but it holds no job 987654321")
        assert.strictEqual(yield* pool.apply(tasks.square, [7]), 49)
      }))

    for (const kind of Object.keys(progressForgeries) as Array<keyof typeof progressForgeries>) {
      it.live(`28. a progress update forged as ${kind}: replaced, its task fails with WorkerCrashed saying so`, () =>
        Effect.gen(function*() {
          const pool = yield* WorkerPool.make({ size: 1, backend, execArgv: withChannelTap })
          const seen: Array<unknown> = []
          const error = yield* Effect.flip(pool.apply(
            tasks.forgeProgress,
            [kind],
            kind === "unwatched" ? undefined : { onProgress: (value) => seen.push(value), progressInterval: 0 }
          ))
          assert.instanceOf(error, WorkerCrashed)
          assert.include(error.message, "broke the protocol: it sent the reply")
          assert.include(error.message, expected[kind])
          assert.deepStrictEqual(seen, [], "nothing forged reached the caller")
          assert.strictEqual(yield* pool.apply(tasks.square, [5]), 25)
        }))
    }
  })
}
