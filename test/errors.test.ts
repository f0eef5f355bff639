/**
 * SEMANTICS.md "Errors" (8–12) and the error half of 25, against real worker
 * threads and real child processes.
 */
import { assert, layer } from "@effect/vitest"
import { Cause, Effect, Exit, Stream } from "effect"
import { SerializationError, TaskError, WorkerPool } from "../src/index.ts"
import { Odd, tasks } from "./fixtures/tasks.ts"
import { backends, makeFlags } from "./utils.ts"

const failure = <A, E>(exit: Exit.Exit<A, E>): unknown => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  return exit._tag === "Failure" ? Cause.squash(exit.cause) : undefined
}

for (const backend of backends) {
  // the real clock: the pool's timers (a cancelled task's grace period) run as in a program, and no TestClock
  // that nobody advances warns that the block "is using time"
  layer(WorkerPool.layer({ size: 2, backend }), { excludeTestServices: true })(`errors (${backend})`, (it) => {
    it.effect("8. a task that throws fails the call with a TaskError carrying the remote name, message and stack", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(WorkerPool.apply(tasks.boom, ["out of range"]))
        assert.instanceOf(error, TaskError)
        assert.strictEqual(error._tag, "TaskError")
        assert.strictEqual(error.remoteName, "RangeError")
        assert.strictEqual(error.message, `RangeError: out of range (in task ${tasks.boom.id})`)
        assert.strictEqual(error.remoteMessage, "out of range")
        assert.include(error.remoteStack, "RangeError: out of range")
        assert.include(error.remoteStack, "fixtures/tasks.ts")
        assert.strictEqual(error.task, tasks.boom.id)
      }))

    it.effect("8. a rejected promise and a dying Effect arrive as TaskError too", () =>
      Effect.gen(function*() {
        const rejected = yield* Effect.flip(WorkerPool.apply(tasks.reject, ["nope"]))
        assert.instanceOf(rejected, TaskError)
        assert.strictEqual(rejected.remoteName, "SyntaxError")
        assert.strictEqual(rejected.message, `SyntaxError: nope (in task ${tasks.reject.id})`)
        assert.strictEqual(rejected.remoteMessage, "nope")

        const died = yield* Effect.flip(WorkerPool.apply(tasks.die, ["defect"]))
        assert.instanceOf(died, TaskError)
        assert.strictEqual(died.remoteName, "TypeError")
        assert.strictEqual(died.message, `TypeError: defect (in task ${tasks.die.id})`)
        assert.strictEqual(died.remoteMessage, "defect")
      }))

    it.effect("9. a declared, schema-backed error arrives as itself", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(WorkerPool.apply(tasks.half, [3]))
        assert.instanceOf(error, Odd)
        assert.strictEqual(error._tag, "Odd")
        assert.strictEqual(error.n, 3)
        const caught = yield* WorkerPool.apply(tasks.half, [5]).pipe(
          Effect.catchTag("Odd", (odd) => Effect.succeed(`odd ${odd.n}`))
        )
        assert.strictEqual(caught, "odd 5")
        assert.strictEqual(yield* WorkerPool.apply(tasks.half, [8]), 4)
        // in a map chunk as well
        const inMap = yield* Effect.flip(WorkerPool.map(tasks.half, [2, 4, 7, 8], { chunksize: 2 }))
        assert.instanceOf(inMap, Odd)
        assert.strictEqual((inMap as Odd).n, 7)
      }))

    it.effect("9. an undeclared Effect failure arrives as a TaskError naming it and its fields", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(WorkerPool.apply(tasks.failUndeclared, ["not declared"]))
        assert.instanceOf(error, TaskError)
        assert.strictEqual(error.remoteName, "Undeclared")
        assert.include(error.message, "not declared")
      }))

    it.effect("9. only an Effect's failure is decoded as a declared error: a thrown one is a TaskError, as typed", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(WorkerPool.apply(tasks.throwDeclared, [3]))
        assert.instanceOf(error, TaskError)
        assert.strictEqual(error.remoteName, "Odd")
      }))

    it.effect("10. map fails with the first failure it observes", () =>
      Effect.gen(function*() {
        const items = Array.from({ length: 20 }, (_, i) => i)
        const error = yield* Effect.flip(WorkerPool.starmap(tasks.failAt, items.map((x) => [x, 13] as const)))
        assert.instanceOf(error, TaskError)
        assert.strictEqual(error.message, `Error: failed at 13 (in task ${tasks.failAt.id})`)
        assert.strictEqual(error.remoteMessage, "failed at 13")
        const streamed = yield* Effect.flip(
          Stream.runCollect(WorkerPool.imap(tasks.half, [2, 4, 5, 6]))
        )
        assert.instanceOf(streamed, Odd)
      }))

    it.effect("11. an argument that cannot be sent fails that one call; the pool keeps working", () =>
      Effect.gen(function*() {
        for (const bad of [() => 1, Symbol("s"), { nested: { fn: () => 2 } }]) {
          const error = yield* Effect.flip(WorkerPool.apply(tasks.identity, [bad]))
          assert.instanceOf(error, SerializationError)
          assert.strictEqual(error.direction, "argument")
        }
        // one bad call among many good ones, dispatched in the same batches: only it fails
        const exits = yield* Effect.forEach(
          Array.from({ length: 200 }, (_, i) => i),
          (i) => Effect.exit(WorkerPool.apply(tasks.identity, [i === 117 ? () => i : i])),
          { concurrency: "unbounded" }
        )
        exits.forEach((exit, i) => {
          if (i === 117) assert.instanceOf(failure(exit), SerializationError)
          else assert.deepStrictEqual(exit, Exit.succeed(i))
        })
        const inMap = yield* Effect.flip(WorkerPool.map(tasks.identity, [1, () => 2, 3], { chunksize: 1 }))
        assert.instanceOf(inMap, SerializationError)
        assert.strictEqual(yield* WorkerPool.apply(tasks.square, [3]), 9)
      }))

    it.effect("11. a bad argument as the very first call of a new pool fails only that call", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const error = yield* Effect.flip(pool.apply(tasks.identity, [() => 1]))
        assert.instanceOf(error, SerializationError)
        assert.strictEqual(yield* pool.apply(tasks.square, [2]), 4)
      }))

    it.effect("a huge result (256 MiB, copied) arrives intact; the calls around it are unaffected", () =>
      Effect.gen(function*() {
        const length = 32 * 1024 * 1024 // 256 MiB of float64
        const [before, big, after] = yield* Effect.all([
          WorkerPool.apply(tasks.square, [3]),
          WorkerPool.apply(tasks.bigResult, [length]),
          WorkerPool.apply(tasks.square, [4])
        ], { concurrency: "unbounded" })
        assert.strictEqual(big.length, length)
        assert.strictEqual(big[0] + big[length - 1], 1)
        assert.deepStrictEqual([before, after], [9, 16])
      }))

    it.effect("11. a result that cannot be sent back fails that one call; the worker survives", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const before = yield* pool.apply(tasks.workerId, [])
        const error = yield* Effect.flip(pool.apply(tasks.returnFunction, []))
        assert.instanceOf(error, SerializationError)
        assert.strictEqual(error.direction, "result")
        // results batched with the bad one still arrive
        const exits = yield* Effect.forEach(
          [1, 2, 3],
          (i) => Effect.exit<unknown, unknown, never>(i === 2 ? pool.apply(tasks.returnFunction, []) : pool.apply(tasks.square, [i])),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(exits[0], Exit.succeed(1))
        assert.instanceOf(failure(exits[1]), SerializationError)
        assert.deepStrictEqual(exits[2], Exit.succeed(9))
        assert.strictEqual(yield* pool.apply(tasks.workerId, []), before, "same worker, not a replacement")
      }))

    it.effect("imap emits every result before a failed item, in order, then fails", () =>
      Effect.gen(function*() {
        const flags = yield* makeFlags(backend, 2)
        const emitted: Array<number> = []
        const error = yield* Effect.flip(
          Stream.runForEach(
            WorkerPool.imap(tasks.failSecondFirst, [[flags, 0], [flags, 1]] as const),
            (n) => Effect.sync(() => emitted.push(n))
          )
        )
        assert.instanceOf(error, TaskError)
        assert.strictEqual(error.message, `Error: item 1 failed (in task ${tasks.failSecondFirst.id})`)
        assert.strictEqual(error.remoteMessage, "item 1 failed")
        assert.deepStrictEqual(emitted, [0], "item 0 finished after item 1 failed, and was still emitted")
      }))

    it.effect("12. an error thrown by the input iterable fails the call with that error, unwrapped", () =>
      Effect.gen(function*() {
        const thrown = new Error("the input broke")
        function* broken() {
          yield 1
          yield 2
          throw thrown
        }
        assert.strictEqual(failure(yield* Effect.exit(WorkerPool.map(tasks.square, broken()))), thrown)
        assert.strictEqual(
          failure(yield* Effect.exit(WorkerPool.starmap(tasks.add, (function*() {
            yield [1, 2] as const
            throw thrown
          })()))),
          thrown
        )
        assert.strictEqual(failure(yield* Effect.exit(Stream.runCollect(WorkerPool.imap(tasks.square, broken())))), thrown)
        assert.strictEqual(
          failure(yield* Effect.exit(Stream.runCollect(WorkerPool.imapUnordered(tasks.square, broken())))),
          thrown
        )
      }))

    it.effect("25. an error that cannot be reconstructed still arrives as a TaskError", () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(WorkerPool.apply(tasks.throwNonError, []))
        assert.instanceOf(error, TaskError)
        assert.strictEqual(error.remoteName, "NonErrorThrown")
        assert.include(error.message, "42")
        for (const kind of ["no-prototype", "circular"] as const) {
          const unprintable = yield* Effect.flip(WorkerPool.apply(tasks.throwUnprintable, [kind]))
          assert.instanceOf(unprintable, TaskError, kind)
          assert.strictEqual(unprintable.remoteName, "NonErrorThrown")
        }
      }))
  })
}
