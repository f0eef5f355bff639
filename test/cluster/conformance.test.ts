/**
 * The core conformance suites (results and ordering, errors, async results,
 * lifecycle, cancellation: SEMANTICS.md 1–20 and 26) against a `ClusterPool`:
 * 3 real runner processes on loopback (two with worker threads, one with
 * child processes, 2 workers each), static membership, this test as the
 * client. The same cases as test/results.test.ts, errors.test.ts,
 * async.test.ts, lifecycle.test.ts and cancellation.test.ts, where they apply
 * to a pool whose workers are on other machines (observations go through
 * file flags, which every process on the machine sees).
 */
import { assert, layer } from "@effect/vitest"
import { Cause, Deferred, Effect, Exit, Fiber, Layer, Queue, Stream } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"
import * as ClusterPool from "../../src/ClusterPool.ts"
import {
  PoolNotRunning,
  PoolStillRunning,
  PoolTerminated,
  ResultNotReady,
  SerializationError,
  TaskError,
  WorkerPool
} from "../../src/index.ts"
import { Odd, tasks } from "../fixtures/tasks.ts"
import { clusterTasks } from "./fixtures/cluster-tasks.ts"
import { load, makeFlags, open, waitFor } from "../utils.ts"
import * as Runners from "./runners.ts"

const flagsOf = (length = 4) => makeFlags("processes", length)

const failure = <A, E>(exit: Exit.Exit<A, E>): unknown => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  return exit._tag === "Failure" ? Cause.squash(exit.cause) : undefined
}

/** A pool of its own over the shared runners (lifecycle tests close or terminate it). */
const freshPool = Effect.flatMap(
  Runners.ClusterRunners.useSync((runners) => runners),
  ({ peers }) => ClusterPool.make({ peers, root: Runners.root })
)

const RunnersLive = Runners.layer(["threads", "processes", "threads"])
const PoolLive = Layer.unwrap(
  Effect.map(Runners.ClusterRunners.useSync((runners) => runners), ({ peers }) => ClusterPool.layer({ peers, root: Runners.root, maxChunksInFlight: 16 }))
).pipe(Layer.provideMerge(RunnersLive))

layer(PoolLive, { excludeTestServices: true, timeout: "60 seconds" })("cluster conformance", (it) => {
  // -- results and ordering -------------------------------------------------------------------------------------

  it.effect("1. map returns results in input order whatever the completion order", () =>
    Effect.gen(function*() {
      const delays = [9, 1, 6, 0, 4, 2, 8, 3]
      assert.deepStrictEqual(yield* WorkerPool.map(tasks.sleepThen, delays, { chunksize: 1 }), delays)
      assert.deepStrictEqual(yield* Stream.runCollect(WorkerPool.imap(tasks.sleepThen, delays)), delays)
    }))

  it.effect("2. imapUnordered yields in completion order", () =>
    Effect.gen(function*() {
      const gates = yield* flagsOf(3)
      const seen = yield* Queue.unbounded<number>()
      const consumer = yield* WorkerPool.imapUnordered(
        tasks.gatedFromTuple,
        [[gates, 0], [gates, 1], [gates, 2]] as const
      ).pipe(Stream.runForEach((n) => Queue.offer(seen, n)), Effect.forkChild)
      open(gates, 1)
      assert.strictEqual(yield* Queue.take(seen), 1)
      open(gates, 0)
      assert.strictEqual(yield* Queue.take(seen), 0)
      open(gates, 2)
      assert.strictEqual(yield* Queue.take(seen), 2)
      yield* Fiber.join(consumer)
    }))

  it.effect("2. imapUnordered's output is a permutation of map's", () =>
    Effect.gen(function*() {
      const items = Array.from({ length: 40 }, (_, i) => (i * 7) % 5)
      const ordered = yield* WorkerPool.map(tasks.sleepThen, items)
      const unordered = yield* Stream.runCollect(WorkerPool.imapUnordered(tasks.sleepThen, items, { chunksize: 3 }))
      assert.deepStrictEqual([...unordered].sort(), [...ordered].sort())
    }))

  it.effect("3. empty input gives an empty result at once", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* WorkerPool.map(tasks.square, []), [])
      assert.deepStrictEqual(yield* WorkerPool.starmap(tasks.add, []), [])
      assert.deepStrictEqual(yield* Stream.runCollect(WorkerPool.imap(tasks.square, [])), [])
      assert.deepStrictEqual(yield* Stream.runCollect(WorkerPool.imapUnordered(tasks.square, Stream.empty)), [])
      assert.deepStrictEqual(yield* (yield* WorkerPool.mapAsync(tasks.square, [])).get(), [])
    }))

  it.effect("4. map accepts any iterable, a generator too", () =>
    Effect.gen(function*() {
      function* numbers() {
        for (let i = 0; i < 10; i++) yield i
      }
      assert.deepStrictEqual(yield* WorkerPool.map(tasks.square, numbers()), [0, 1, 4, 9, 16, 25, 36, 49, 64, 81])
      assert.deepStrictEqual(yield* WorkerPool.map(tasks.square, new Set([3, 4])), [9, 16])
    }))

  it.effect("4. imap consumes an endless input lazily, with a bounded number of items in flight", () =>
    Effect.gen(function*() {
      let pulled = 0
      function* endless() {
        for (let i = 0;; i++) {
          pulled++
          yield i
        }
      }
      const first = yield* Stream.runCollect(Stream.take(WorkerPool.imap(tasks.square, endless()), 5))
      assert.deepStrictEqual(first, [0, 1, 4, 9, 16])
      // 16 chunks of 1 in flight (maxChunksInFlight), plus the stream's own small buffers
      assert.isAtMost(pulled, 64)
      const fromStream = yield* Stream.runCollect(
        Stream.take(WorkerPool.imapUnordered(tasks.square, Stream.iterate(0, (n) => n + 1), { chunksize: 4 }), 12)
      )
      assert.strictEqual(fromStream.length, 12)
    }))

  it.effect("5. a chunksize larger than the input gives one chunk; chunked and unchunked results are equal", () =>
    Effect.gen(function*() {
      const items = Array.from({ length: 10 }, (_, i) => i)
      const oneChunk = yield* WorkerPool.map(clusterTasks.tagWithRunner, items, { chunksize: 100 })
      assert.strictEqual(new Set(oneChunk.map(([, runner]) => runner)).size, 1, "one runner")
      assert.deepStrictEqual(oneChunk.map(([x]) => x), items)
      const squares = items.map((x) => x * x)
      for (const chunksize of [1, 3, 10, 11, 1000]) {
        assert.deepStrictEqual(yield* WorkerPool.map(tasks.square, items, { chunksize }), squares)
        assert.deepStrictEqual(yield* Stream.runCollect(WorkerPool.imap(tasks.square, items, { chunksize })), squares)
      }
    }))

  it.effect("6. a chunksize that is not a positive integer is rejected with a clear error", () =>
    Effect.gen(function*() {
      for (const chunksize of [0, -1, 1.5, Number.NaN, Infinity]) {
        const errors = [
          yield* Effect.flip(WorkerPool.map(tasks.square, [1, 2], { chunksize })),
          yield* Effect.flip(WorkerPool.starmap(tasks.add, [[1, 2]], { chunksize })),
          yield* Effect.flip(Stream.runCollect(WorkerPool.imap(tasks.square, [1, 2], { chunksize }))),
          yield* Effect.flip(Stream.runCollect(WorkerPool.imapUnordered(tasks.square, [1, 2], { chunksize }))),
          yield* Effect.flip(WorkerPool.mapAsync(tasks.square, [1, 2], { chunksize }))
        ]
        for (const error of errors) {
          assert.isTrue(Cause.isIllegalArgumentError(error), String(error))
          assert.include((error as Cause.IllegalArgumentError).message, "chunksize must be a positive integer")
        }
      }
      assert.deepStrictEqual(yield* WorkerPool.map(tasks.square, [1, 2], { chunksize: 1 }), [1, 4])
    }))

  it.effect("7. starmap spreads each tuple into the call", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* WorkerPool.starmap(tasks.add, [[1, 2], [10, 20], [100, 200]] as const), [3, 30, 300])
      assert.deepStrictEqual(yield* (yield* WorkerPool.starmapAsync(tasks.add, [[2, 3]])).get(), [5])
      assert.strictEqual(yield* WorkerPool.apply(tasks.add, [2, 3]), 5)
    }))

  it.effect("map and imap report { done, total } up to the total as chunks finish; applyWithProgress ends with Done", () =>
    Effect.gen(function*() {
      const seen: Array<{ done: number; total: number | undefined }> = []
      const items = Array.from({ length: 100 }, (_, i) => i)
      const squares = yield* WorkerPool.map(tasks.square, items, { chunksize: 7, onProgress: (p) => seen.push(p) })
      assert.deepStrictEqual(squares, items.map((i) => i * i))
      assert.deepStrictEqual(seen[0], { done: 0, total: 100 })
      assert.deepStrictEqual(seen.at(-1), { done: 100, total: 100 })
      assert.isTrue(seen.every((p, i) => i === 0 || p.done > seen[i - 1].done), "monotonic")
      const streamed: Array<number | undefined> = []
      yield* Stream.runDrain(WorkerPool.imap(tasks.square, items, { chunksize: 10, onProgress: (p) => streamed.push(p.done) }))
      assert.strictEqual(streamed.at(-1), 100)
      const pool = yield* WorkerPool.WorkerPool
      const updates = yield* Stream.runCollect(pool.applyWithProgress(tasks.square, [3]))
      assert.deepStrictEqual(Array.from(updates), [{ _tag: "Done", value: 9 }])
    }))

  it.effect("values survive the trip both ways as through structured clone: undefined, Map, Set, Date, BigInt, typed arrays", () =>
    Effect.gen(function*() {
      const value = [undefined, new Map([[1, new Set([2])]]), new Date(0), 10n, new Float64Array([1.5]), NaN, -0]
      assert.deepStrictEqual(yield* WorkerPool.apply(tasks.identity, [value]), value)
      assert.deepStrictEqual(yield* WorkerPool.map(tasks.identity, value, { chunksize: 2 }), value)
      const made = yield* WorkerPool.apply(tasks.makeBytes, [16])
      assert.instanceOf(made, Uint8Array)
      assert.deepStrictEqual(Array.from(made), new Array(16).fill(7))
    }))

  it.effect("a value larger than the engine's 16 MiB frames crosses both ways; the calls around it are unaffected", () =>
    Effect.gen(function*() {
      const length = 24 * 1024 * 1024
      const [before, sent, made, after] = yield* Effect.all([
        WorkerPool.apply(tasks.square, [3]),
        WorkerPool.apply(tasks.bytesLength, [new Uint8Array(length)]),
        WorkerPool.apply(tasks.makeBytes, [length]),
        WorkerPool.apply(tasks.square, [4])
      ], { concurrency: "unbounded" })
      assert.deepStrictEqual([before, sent, made.length, made[length - 1], after], [9, length, length, 7, 16])
    }))

  it.effect("many tiny tasks at once all arrive, each with its own result; a map spreads over every runner", () =>
    Effect.gen(function*() {
      const n = 2_000
      const results = yield* Effect.forEach(
        Array.from({ length: n }, (_, i) => i),
        (i) => WorkerPool.apply(tasks.add, [i, 1]),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(results, Array.from({ length: n }, (_, i) => i + 1))
      const { runners } = yield* Runners.ClusterRunners
      const tagged = yield* WorkerPool.map(clusterTasks.tagWithRunner, Array.from({ length: 400 }, (_, i) => i), {
        chunksize: 1
      })
      assert.deepStrictEqual(
        new Set(tagged.map(([, runner]) => runner)),
        new Set(runners.map((runner) => runner.process.pid)),
        "every runner ran some"
      )
    }))

  // -- errors ---------------------------------------------------------------------------------------------------

  it.effect("8. a task that throws fails the call with a TaskError carrying the remote name, message and stack", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(WorkerPool.apply(tasks.boom, ["out of range"]))
      assert.instanceOf(error, TaskError)
      assert.strictEqual(error.remoteName, "RangeError")
      assert.strictEqual(error.message, `RangeError: out of range (in task ${tasks.boom.id})`)
      assert.strictEqual(error.remoteMessage, "out of range")
      assert.include(error.remoteStack, "RangeError: out of range")
      assert.include(error.remoteStack, "fixtures/tasks.ts")
      assert.strictEqual(error.task, tasks.boom.id)
      const inMap = yield* Effect.flip(WorkerPool.map(tasks.boom, ["a", "b"]))
      assert.instanceOf(inMap, TaskError)
    }))

  it.effect("8. a rejected promise and a dying Effect arrive as TaskError too", () =>
    Effect.gen(function*() {
      const rejected = yield* Effect.flip(WorkerPool.apply(tasks.reject, ["nope"]))
      assert.instanceOf(rejected, TaskError)
      assert.strictEqual(rejected.remoteName, "SyntaxError")
      assert.strictEqual(rejected.message, `SyntaxError: nope (in task ${tasks.reject.id})`)
      const died = yield* Effect.flip(WorkerPool.apply(tasks.die, ["defect"]))
      assert.instanceOf(died, TaskError)
      assert.strictEqual(died.remoteName, "TypeError")
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
      const inMap = yield* Effect.flip(WorkerPool.map(tasks.half, [2, 4, 7, 8], { chunksize: 2 }))
      assert.instanceOf(inMap, Odd)
      assert.strictEqual((inMap as Odd).n, 7)
    }))

  it.effect("9. an undeclared failure, or a thrown declared one, arrives as a TaskError naming it", () =>
    Effect.gen(function*() {
      const undeclared = yield* Effect.flip(WorkerPool.apply(tasks.failUndeclared, ["not declared"]))
      assert.instanceOf(undeclared, TaskError)
      assert.strictEqual(undeclared.remoteName, "Undeclared")
      assert.include(undeclared.message, "not declared")
      const thrown = yield* Effect.flip(WorkerPool.apply(tasks.throwDeclared, [3]))
      assert.instanceOf(thrown, TaskError)
      assert.strictEqual(thrown.remoteName, "Odd")
    }))

  it.effect("10. map fails with the first failure it observes", () =>
    Effect.gen(function*() {
      const items = Array.from({ length: 20 }, (_, i) => i)
      const error = yield* Effect.flip(WorkerPool.starmap(tasks.failAt, items.map((x) => [x, 13] as const)))
      assert.instanceOf(error, TaskError)
      assert.strictEqual(error.message, `Error: failed at 13 (in task ${tasks.failAt.id})`)
      const streamed = yield* Effect.flip(Stream.runCollect(WorkerPool.imap(tasks.half, [2, 4, 5, 6])))
      assert.instanceOf(streamed, Odd)
    }))

  it.effect("11. an argument that cannot be sent fails that one call; the pool keeps working", () =>
    Effect.gen(function*() {
      for (const bad of [() => 1, Symbol("s"), { nested: { fn: () => 2 } }]) {
        const error = yield* Effect.flip(WorkerPool.apply(tasks.identity, [bad]))
        assert.instanceOf(error, SerializationError)
        assert.strictEqual(error.direction, "argument")
      }
      const exits = yield* Effect.forEach(
        Array.from({ length: 50 }, (_, i) => i),
        (i) => Effect.exit(WorkerPool.apply(tasks.identity, [i === 17 ? () => i : i])),
        { concurrency: "unbounded" }
      )
      exits.forEach((exit, i) => {
        if (i === 17) assert.instanceOf(failure(exit), SerializationError)
        else assert.deepStrictEqual(exit, Exit.succeed(i))
      })
      assert.instanceOf(
        yield* Effect.flip(WorkerPool.map(tasks.identity, [1, () => 2, 3], { chunksize: 1 })),
        SerializationError
      )
      assert.strictEqual(yield* WorkerPool.apply(tasks.square, [3]), 9)
    }))

  it.effect("11. a result that cannot be sent back fails that one call", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(WorkerPool.apply(tasks.returnFunction, []))
      assert.instanceOf(error, SerializationError)
      assert.strictEqual(error.direction, "result")
      assert.strictEqual(yield* WorkerPool.apply(tasks.square, [4]), 16)
    }))

  it.effect("imap emits every result before a failed item, in order, then fails", () =>
    Effect.gen(function*() {
      const flags = yield* flagsOf(2)
      const emitted: Array<number> = []
      const error = yield* Effect.flip(
        Stream.runForEach(
          WorkerPool.imap(tasks.failSecondFirst, [[flags, 0], [flags, 1]] as const),
          (n) => Effect.sync(() => emitted.push(n))
        )
      )
      assert.instanceOf(error, TaskError)
      assert.strictEqual(error.remoteMessage, "item 1 failed")
      assert.deepStrictEqual(emitted, [0])
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
      assert.strictEqual(failure(yield* Effect.exit(Stream.runCollect(WorkerPool.imap(tasks.square, broken())))), thrown)
    }))

  it.effect("25. an error that cannot be reconstructed still arrives as a TaskError", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(WorkerPool.apply(tasks.throwNonError, []))
      assert.instanceOf(error, TaskError)
      assert.strictEqual(error.remoteName, "NonErrorThrown")
    }))

  // -- async results --------------------------------------------------------------------------------------------

  it.effect("13. get with a timeout fails with a TimeoutError; the task keeps running and a later get returns it", () =>
    Effect.gen(function*() {
      const flags = yield* flagsOf()
      const result = yield* WorkerPool.applyAsync(tasks.waitForRelease, [flags])
      yield* waitFor(flags, 0)
      assert.isTrue(Cause.isTimeoutError(yield* Effect.flip(result.get({ timeout: "20 millis" }))))
      assert.isFalse(yield* result.ready)
      open(flags, 1)
      assert.strictEqual(yield* result.get({ timeout: "20 seconds" }), "released")
    }))

  it.effect("14. successful fails with ResultNotReady before the result is ready; ready never fails", () =>
    Effect.gen(function*() {
      const flags = yield* flagsOf()
      const pending = yield* WorkerPool.applyAsync(tasks.waitForRelease, [flags])
      yield* waitFor(flags, 0)
      assert.instanceOf(yield* Effect.flip(pending.successful), ResultNotReady)
      open(flags, 1)
      yield* pending.wait()
      assert.isTrue(yield* pending.successful)
      const failed = yield* WorkerPool.applyAsync(tasks.half, [3])
      yield* failed.wait()
      assert.isFalse(yield* failed.successful)
      assert.instanceOf(yield* Effect.flip(failed.get()), Odd)
    }))

  it.effect("callback receives the value; errorCallback the error, but not an interruption", () =>
    Effect.gen(function*() {
      const value = yield* Deferred.make<number>()
      const mapped = yield* Deferred.make<ReadonlyArray<number>>()
      const failed = yield* Deferred.make<unknown>()
      yield* WorkerPool.applyAsync(tasks.square, [12], { callback: (v) => Deferred.doneUnsafe(value, Effect.succeed(v)) })
      yield* WorkerPool.mapAsync(tasks.square, [1, 2, 3], {
        callback: (v) => Deferred.doneUnsafe(mapped, Effect.succeed(v))
      })
      yield* WorkerPool.applyAsync(tasks.boom, ["bad"], {
        errorCallback: (e) => Deferred.doneUnsafe(failed, Effect.succeed(e))
      })
      assert.strictEqual(yield* Deferred.await(value), 144)
      assert.deepStrictEqual(yield* Deferred.await(mapped), [1, 4, 9])
      assert.instanceOf(yield* Deferred.await(failed), TaskError)

      const flags = yield* flagsOf()
      let called = false
      const interrupted = yield* WorkerPool.applyAsync(tasks.interruptible, [flags], {
        errorCallback: () => {
          called = true
        }
      })
      yield* waitFor(flags, 0)
      yield* Fiber.interrupt(interrupted.fiber)
      yield* waitFor(flags, 1) // the runner's worker saw the interruption
      assert.isFalse(called)
      assert.isFalse(yield* interrupted.successful)
    }))

  // -- lifecycle ------------------------------------------------------------------------------------------------

  it.effect("15. after close or terminate, every submit fails with PoolNotRunning, even with empty input", () =>
    Effect.gen(function*() {
      for (const how of ["close", "terminate"] as const) {
        const pool = yield* freshPool
        yield* pool[how]
        const submits: Array<Effect.Effect<unknown, unknown>> = [
          pool.apply(tasks.square, [2]),
          pool.map(tasks.square, []),
          pool.starmap(tasks.add, [[1, 2]]),
          Stream.runCollect(pool.imap(tasks.square, [])),
          Stream.runCollect(pool.imapUnordered(tasks.square, [1])),
          pool.applyAsync(tasks.square, [2]),
          pool.mapAsync(tasks.square, []),
          pool.starmapAsync(tasks.add, [[1, 2]])
        ]
        for (const submit of submits) {
          const error = yield* Effect.flip(submit)
          assert.instanceOf(error, PoolNotRunning)
          assert.strictEqual((error as PoolNotRunning).state, how === "close" ? "closed" : "terminated")
        }
      }
    }))

  it.effect("16. join before close or terminate fails with PoolStillRunning", () =>
    Effect.gen(function*() {
      const pool = yield* freshPool
      assert.instanceOf(yield* Effect.flip(pool.join), PoolStillRunning)
      assert.strictEqual(yield* pool.apply(tasks.square, [3]), 9)
    }))

  it.effect("17. close then join waits for every submitted task", () =>
    Effect.gen(function*() {
      const pool = yield* freshPool
      const flags = yield* flagsOf()
      const slow = yield* pool.applyAsync(tasks.waitForRelease, [flags])
      const many = yield* pool.mapAsync(tasks.sleepThen, [3, 1, 2, 0, 5, 1])
      yield* pool.close
      const joining = yield* Effect.forkChild(pool.join)
      yield* waitFor(flags, 0)
      assert.isUndefined(joining.pollUnsafe(), "join waits while a task is still running")
      open(flags, 1)
      yield* Fiber.join(joining)
      assert.strictEqual(yield* slow.get(), "released")
      assert.deepStrictEqual(yield* many.get(), [3, 1, 2, 0, 5, 1])
    }))

  it.effect("18. terminate fails the calls in flight with PoolTerminated, and stops them on the runners", () =>
    Effect.gen(function*() {
      const pool = yield* freshPool
      const flags = yield* flagsOf()
      const running = yield* pool.applyAsync(tasks.interruptible, [flags])
      const queued = yield* pool.mapAsync(tasks.sleepThen, Array.from({ length: 200 }, () => 50), { chunksize: 1 })
      yield* waitFor(flags, 0)
      yield* pool.terminate
      assert.instanceOf(yield* Effect.flip(running.get()), PoolTerminated)
      assert.instanceOf(yield* Effect.flip(queued.get()), PoolTerminated)
      yield* waitFor(flags, 1) // the task was interrupted in its worker
      yield* pool.join
    }))

  it.effect("19. close and terminate are idempotent, close after terminate keeps it terminated, join may repeat", () =>
    Effect.gen(function*() {
      const pool = yield* freshPool
      yield* pool.close
      yield* pool.close
      yield* pool.join
      yield* pool.join
      assert.strictEqual(((yield* Effect.flip(pool.apply(tasks.square, [1]))) as PoolNotRunning).state, "closed")
      const other = yield* freshPool
      yield* other.terminate
      yield* other.terminate
      yield* other.close
      yield* other.join
      assert.strictEqual(((yield* Effect.flip(other.apply(tasks.square, [1]))) as PoolNotRunning).state, "terminated")
    }))

  it.effect("17. close lets an imap that is still reading its input finish", () =>
    Effect.gen(function*() {
      const pool = yield* freshPool
      const input = yield* Queue.unbounded<number, Cause.Done>()
      const results = yield* Queue.unbounded<number>()
      const consumer = yield* pool.imap(tasks.square, Stream.fromQueue(input)).pipe(
        Stream.runForEach((n) => Queue.offer(results, n)),
        Effect.forkChild
      )
      yield* Queue.offer(input, 2)
      assert.strictEqual(yield* Queue.take(results), 4)
      yield* pool.close
      yield* Queue.offer(input, 3)
      assert.strictEqual(yield* Queue.take(results), 9)
      yield* Queue.end(input)
      yield* Fiber.join(consumer)
      yield* pool.join
    }))

  it.effect("17. calls interrupted at any point (before, while or after they are sent) never leave join waiting", () =>
    Effect.gen(function*() {
      const pool = yield* freshPool
      const callers = yield* Effect.forEach(
        Array.from({ length: 60 }, (_, i) => i),
        (i) => Effect.forkChild(i % 2 === 0 ? pool.apply(tasks.sleepThen, [i]) : pool.map(tasks.sleepThen, [i, i, i])),
        { concurrency: "unbounded" }
      )
      for (const [i, caller] of callers.entries()) {
        if (i % 3 === 0) yield* Effect.yieldNow
        yield* Fiber.interrupt(caller)
      }
      yield* pool.close
      yield* pool.join
    }))

  it.effect("20. results completed before terminate can still be read afterwards", () =>
    Effect.gen(function*() {
      const pool = yield* freshPool
      const done = yield* pool.applyAsync(tasks.square, [6])
      assert.strictEqual(yield* done.get(), 36)
      const mapped = yield* pool.mapAsync(tasks.square, [1, 2])
      yield* mapped.wait()
      yield* pool.terminate
      assert.strictEqual(yield* done.get(), 36)
      assert.deepStrictEqual(yield* mapped.get(), [1, 4])
    }))

  // -- cancellation ---------------------------------------------------------------------------------------------

  it.effect("26. interrupting the caller interrupts an Effect task in its runner's worker", () =>
    Effect.gen(function*() {
      const flags = yield* flagsOf()
      const caller = yield* Effect.forkChild(WorkerPool.apply(tasks.interruptible, [flags]))
      yield* waitFor(flags, 0)
      yield* Fiber.interrupt(caller)
      yield* waitFor(flags, 1)
    }))

  it.effect("26. interrupting the caller fires an async task's Task.signal() on its runner, also after an await", () =>
    Effect.gen(function*() {
      for (const task of [tasks.abortable, tasks.abortableAfterAwait]) {
        const flags = yield* flagsOf()
        const caller = yield* Effect.forkChild(WorkerPool.apply(task, [flags]))
        yield* waitFor(flags, 0)
        yield* Fiber.interrupt(caller)
        yield* waitFor(flags, 1)
      }
      assert.strictEqual(yield* WorkerPool.apply(tasks.square, [5]), 25)
    }))

  it.effect("26. Effect.timeout on a call cancels the task on its runner", () =>
    Effect.gen(function*() {
      const flags = yield* flagsOf()
      const timed = yield* Effect.forkChild(
        Effect.gen(function*() {
          const caller = yield* Effect.forkChild(WorkerPool.apply(tasks.interruptible, [flags]))
          yield* waitFor(flags, 0)
          return yield* Fiber.join(caller).pipe(Effect.timeoutOption("10 millis"))
        })
      )
      assert.strictEqual((yield* Fiber.join(timed))._tag, "None")
      yield* waitFor(flags, 1)
    }))

  it.effect("10. a map that fails cancels the rest of its work on the runners", () =>
    Effect.gen(function*() {
      const flags = yield* flagsOf()
      const exit = yield* Effect.exit(WorkerPool.starmap(tasks.failAfterStart, [[flags, 0], [flags, 1]], { chunksize: 1 }))
      assert.isTrue(Exit.isFailure(exit))
      yield* waitFor(flags, 3) // item 1's AbortSignal fired
    }))

  it.effect("interrupting an imap stream cancels its chunks in flight", () =>
    Effect.gen(function*() {
      const flags = yield* flagsOf()
      const consumer = yield* Effect.forkChild(Stream.runDrain(WorkerPool.imap(tasks.interruptible, [flags])))
      yield* waitFor(flags, 0)
      yield* Fiber.interrupt(consumer)
      yield* waitFor(flags, 1)
      assert.strictEqual(load(flags, 1), 1)
    }))

  // -- what only a cluster has ----------------------------------------------------------------------------------

  it.effect("a task module the runners lack fails the call with a TaskError that says so", () =>
    Effect.gen(function*() {
      // a module under the client's root (a temporary directory) that is not under the runners' (test/)
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "emp-cluster-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
      const taskModule = Path.join(dir, "client-only-tasks.ts")
      Fs.writeFileSync(
        taskModule,
        `import { Task } from ${JSON.stringify(new URL("../../src/index.ts", import.meta.url).href)}\n` +
          `export const tasks = Task.module(import.meta.url, { double: (x: number) => 2 * x })\n`
      )
      const { tasks: elsewhere } = yield* Effect.promise(() => import(pathToFileURL(taskModule).href))
      const { peers } = yield* Runners.ClusterRunners
      const pool = yield* ClusterPool.make({ peers, root: pathToFileURL(Os.tmpdir()) })
      const error = yield* Effect.flip(pool.apply(elsewhere.double as typeof tasks.square, [2]))
      assert.instanceOf(error, TaskError)
      assert.strictEqual(error.remoteName, "TaskNotFound")
      assert.include(error.message, `cannot load the task module ${Path.basename(dir)}/client-only-tasks.ts`)
      assert.strictEqual(yield* WorkerPool.apply(tasks.square, [3]), 9, "the cluster keeps serving")
    }))

  it.effect("stats counts this client's calls; broadcast is refused with an IllegalArgumentError that says why", () =>
    Effect.gen(function*() {
      const pool = yield* freshPool
      yield* pool.map(tasks.square, [1, 2, 3, 4], { chunksize: 2 })
      yield* Effect.flip(pool.apply(tasks.boom, ["x"]))
      const stats = yield* pool.stats
      assert.strictEqual(stats.succeeded, 2)
      assert.strictEqual(stats.failed, 1)
      assert.strictEqual(stats.running, 0)
      assert.strictEqual(stats.run.count, 3)
      const error = yield* Effect.flip(pool.broadcast(tasks.square, [2]))
      assert.isTrue(Cause.isIllegalArgumentError(error))
      assert.include((error as Cause.IllegalArgumentError).message, "cannot reach every worker")
    }))

  it.effect("a task outside the declared root is refused with an IllegalArgumentError", () =>
    Effect.gen(function*() {
      const { peers } = yield* Runners.ClusterRunners
      const pool = yield* ClusterPool.make({ peers, root: new URL("./cluster/", Runners.root) })
      const error = yield* Effect.flip(pool.apply(tasks.square, [2]))
      assert.isTrue(Cause.isIllegalArgumentError(error))
      assert.include((error as Cause.IllegalArgumentError).message, "outside the cluster's root")
    }))
})
