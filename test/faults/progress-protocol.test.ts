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
import { liveWorkers } from "../utils.ts"
import { withChannelTap } from "../fixtures/channel-tap-state.ts"
import { progressForgeries, tasks } from "../fixtures/progress-tasks.ts"
import { backends } from "../utils.ts"

/** Nested deeper than this process's stack lets it deserialize, but not deeper than a worker's lets it serialize. */
const DEEP = 8_000

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

    it.live("28. a progress update the pool cannot deserialize is lost; the call succeeds, the worker serves on", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({
          size: 1,
          backend,
          ...(backend === "processes" ? { execArgv: ["--stack-size=4000"] } : {})
        })
        yield* pool.apply(tasks.square, [1])
        const workers = liveWorkers(backend)
        const seen: Array<unknown> = []
        const result = yield* pool.apply(tasks.deepProgress, [DEEP], {
          onProgress: (value) => seen.push(value),
          progressInterval: 0
        })
        assert.strictEqual(result, 1)
        assert.deepStrictEqual(seen, [], "the update is lost, and never sent again (its task has answered)")
        assert.strictEqual(yield* pool.apply(tasks.square, [6]), 36)
        assert.deepStrictEqual(liveWorkers(backend), workers, "not replaced")
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
