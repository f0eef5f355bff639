/**
 * The boundary, SEMANTICS.md 28–29: nothing a worker sends throws in the pool.
 * A worker that breaks the protocol is replaced and exactly the tasks it held
 * fail with `WorkerCrashed` saying what it sent; a result the pool cannot
 * deserialize fails only its call with `SerializationError`; an argument that
 * cannot be sent fails only its call, and no worker dies of it; a process
 * worker that exits right after replying delivers what it sent, and a call
 * sent to it while it exits runs elsewhere. With worker threads and child
 * processes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit } from "effect"
import { SerializationError, WorkerCrashed, WorkerPool } from "../../src/index.ts"
import { withChannelTap } from "../fixtures/channel-tap-state.ts"
import { forgeries, garbage, tasks } from "../fixtures/protocol-tasks.ts"
import { backends, liveWorkers } from "../utils.ts"

/** Nested deeper than this process's stack lets it deserialize, but not deeper than a worker's (larger) lets it serialize. */
const DEEP = 8_000

for (const backend of backends) {
  describe(`a worker that breaks the protocol (${backend})`, () => {
    for (const kind of Object.keys(garbage) as Array<keyof typeof garbage>) {
      it.effect(`28. it posts ${kind}: it is replaced, its task fails with WorkerCrashed saying so`, () =>
        Effect.gen(function*() {
          const pool = yield* WorkerPool.make({ size: 1, backend })
          const before = yield* pool.apply(tasks.pid, [])
          const error = yield* Effect.flip(pool.apply(tasks.postGarbage, [kind]))
          assert.instanceOf(error, WorkerCrashed)
          assert.include(error.message, "broke the protocol")
          assert.include(error.message, kind === "null" ? "it sent null" : "it sent")
          // replaced: a new worker serves
          assert.strictEqual(yield* pool.apply(tasks.square, [7]), 49)
          if (backend === "processes") assert.notStrictEqual(yield* pool.apply(tasks.pid, []), before)
        }))
    }

    for (const kind of Object.keys(forgeries) as Array<keyof typeof forgeries>) {
      it.effect(`28. its reply is ${kind}: the replies before it count, its task fails with WorkerCrashed`, () =>
        Effect.gen(function*() {
          // the forgery is made below the worker's captured channel (a task alone cannot rewrite its replies)
          const pool = yield* WorkerPool.make({ size: 1, backend, execArgv: withChannelTap })
          yield* pool.apply(tasks.square, [1]) // known to be cheap: what follows goes out, and comes back, batched
          const [a, b, forged] = yield* Effect.all([
            Effect.exit(pool.apply(tasks.square, [2])),
            Effect.exit(pool.apply(tasks.square, [3])),
            Effect.flip(pool.apply(tasks.forgeReply, [kind]))
          ], { concurrency: "unbounded" })
          assert.deepStrictEqual([a, b], [Exit.succeed(4), Exit.succeed(9)])
          assert.instanceOf(forged, WorkerCrashed)
          assert.include(forged.message, "broke the protocol: it sent the reply")
          assert.strictEqual(yield* pool.apply(tasks.square, [5]), 25)
        }))
    }
  })

  describe(`what the pool cannot read or send (${backend})`, () => {
    it.effect("28. a result nested deeper than the pool can deserialize fails only its call with SerializationError", () =>
      Effect.gen(function*() {
        // a thread worker's stack (4 MB by default) is larger than this process's main thread's;
        // a process worker is given a larger one
        const pool = yield* WorkerPool.make({
          size: 1,
          backend,
          ...(backend === "processes" ? { execArgv: ["--stack-size=4000"] } : {})
        })
        yield* pool.apply(tasks.square, [1])
        const workers = liveWorkers(backend)
        const [a, deep, b] = yield* Effect.all([
          Effect.exit(pool.apply(tasks.square, [2])),
          Effect.flip(pool.apply(tasks.deep, [DEEP])),
          Effect.exit(pool.apply(tasks.square, [3]))
        ], { concurrency: "unbounded" })
        assert.deepStrictEqual([a, b], [Exit.succeed(4), Exit.succeed(9)])
        assert.instanceOf(deep, SerializationError)
        assert.strictEqual(deep.direction, "result")
        assert.include(deep.message, "cannot be read by the pool")
        // the worker was not replaced, and serves on
        assert.deepStrictEqual(yield* pool.map(tasks.square, [1, 2, 3]), [1, 4, 9])
        assert.deepStrictEqual(liveWorkers(backend), workers)
      }))

    it.effect("28. calls on two workers, one with a deep result: only that one fails, with SerializationError", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({
          size: 2,
          backend,
          ...(backend === "processes" ? { execArgv: ["--stack-size=4000"] } : {})
        })
        const exits = yield* Effect.forEach(
          [10, DEEP, 20, 30, 40],
          (depth) => Effect.exit(pool.apply(tasks.deep, [depth])),
          { concurrency: "unbounded" }
        )
        exits.forEach((exit, i) => {
          if (i === 1) {
            assert.isTrue(Exit.isFailure(exit), "the deep one fails")
            assert.instanceOf(Cause.squash((exit as Exit.Failure<unknown, unknown>).cause), SerializationError)
          } else assert.isTrue(Exit.isSuccess(exit), `call ${i} succeeds`)
        })
      }))

    it.effect("3. a map with one argument that cannot be sent fails with SerializationError; no worker dies", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 3, backend })
        yield* pool.map(tasks.square, [1, 2, 3, 4, 5, 6], { chunksize: 1 })
        const workers = liveWorkers(backend)
        const items: Array<any> = [1, 2, 3, () => 4, 5, 6, 7, 8, 9]
        const error = yield* Effect.flip(pool.map(tasks.square, items, { chunksize: 1 }))
        assert.instanceOf(error, SerializationError)
        assert.strictEqual(error.direction, "argument")
        assert.deepStrictEqual(yield* pool.map(tasks.square, [1, 2, 3, 4, 5, 6], { chunksize: 1 }), [1, 4, 9, 16, 25, 36])
        assert.deepStrictEqual(liveWorkers(backend), workers, "the same workers serve")
      }))
  })

  describe(`a worker that exits right after replying (${backend})`, () => {
    it.effect("29. its result is delivered; a call sent to it while it exits runs on its replacement", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        for (let round = 0; round < 3; round++) {
          const [first, second] = yield* Effect.all([
            pool.apply(tasks.returnThenExit, [round]),
            pool.apply(tasks.square, [round + 2])
          ], { concurrency: "unbounded" })
          assert.deepStrictEqual([first, second], [round, (round + 2) ** 2])
          // and one sent after it returned
          assert.strictEqual(yield* pool.apply(tasks.returnThenExit, [round]), round)
          assert.strictEqual(yield* pool.apply(tasks.square, [round]), round ** 2)
        }
      }))

    if (backend === "processes") {
      it.effect("29. its last result is read to its end, even when its stderr closed first", () =>
        Effect.gen(function*() {
          const pool = yield* WorkerPool.make({ size: 1, backend })
          for (let round = 0; round < 10; round++) {
            const result = yield* pool.apply(tasks.returnLargeThenExit, [30_000])
            assert.strictEqual(result.length, 30_000)
          }
        }))
    }
  })
}
