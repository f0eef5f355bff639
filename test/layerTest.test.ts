/**
 * The test layer (`WorkerPool.makeTest`, `WorkerPool.layerTest`): the real
 * pool over in-process workers. Its results equal a real pool's; its
 * completion order is a function of its seed; injected failures and crashes
 * fail exactly the chosen calls; cancellation and the lifecycle work as on
 * real workers; and everything runs under `it.effect`'s TestClock. Also the
 * claims of docs/testing.md about which clock the pool's timers follow, and
 * its snippets (each one is in this file, see the last test).
 */
import { assert, describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Stream } from "effect"
import * as TestClock from "effect/testing/TestClock"
import * as fc from "fast-check"
import * as fs from "node:fs"
import { PoolNotRunning, PoolStillRunning, PoolTerminated, TaskError, WorkerCrashed, WorkerPool } from "../src/index.ts"
import { tasks as layerTasks } from "./fixtures/layer-tasks.ts"
import { tasks as neverLoading } from "./fixtures/never-loading-tasks.ts"
import { Odd, tasks } from "./fixtures/tasks.ts"
import { tasks as testTasks } from "./fixtures/testlayer-tasks.ts"
import { topWords, topWordsBuggy } from "./fixtures/testlayer-words.ts"
import { makeFlags, open, waitFor } from "./utils.ts"

/** An exit reduced to what must be equal between a real pool and the test layer. */
const outcome = (exit: Exit.Exit<unknown, unknown>): unknown => {
  if (Exit.isSuccess(exit)) return { value: exit.value }
  const error = Cause.squash(exit.cause) as { _tag?: string; remoteName?: string; remoteMessage?: string; n?: number }
  return { error: error?._tag, remoteName: error?.remoteName, remoteMessage: error?.remoteMessage, n: error?.n }
}

/** `imapUnordered(square, 0..n-1)`, one item per chunk, on a fresh test pool with `seed`. */
const completionOrder = (seed: number, n = 24) =>
  Effect.scoped(Effect.gen(function*() {
    const pool = yield* WorkerPool.makeTest({ size: 3, seed })
    const squares = yield* Stream.runCollect(pool.imapUnordered(tasks.square, Array.from({ length: n }, (_, i) => i)))
    return [...squares]
  }))

describe("WorkerPool.layerTest: the real pool over in-process workers", () => {
  it.effect("gives the results of a real pool for apply, map, starmap, imap, their errors included", () =>
    Effect.gen(function*() {
      const real = yield* WorkerPool.make({ size: 2 })
      const test = yield* WorkerPool.makeTest({ size: 3, seed: 5 })
      const xs = Array.from({ length: 50 }, (_, i) => i - 10)
      const calls = (pool: WorkerPool.Pool) => [
        pool.apply(tasks.add, [2, 3]),
        pool.apply(tasks.identity, [{ map: new Map([[1, new Date(0)]]), big: 10n, bytes: new Uint8Array([1, 2]) }]),
        pool.map(tasks.square, xs),
        pool.map(tasks.square, xs, { chunksize: 7 }),
        pool.starmap(tasks.add, xs.map((x) => [x, 2 * x] as const)),
        Stream.runCollect(pool.imap(tasks.square, xs)).pipe(Effect.map((chunk) => [...chunk])),
        pool.map(tasks.half, [2, 4, 8]),
        pool.apply(tasks.half, [3]),
        pool.apply(tasks.boom, ["no"]),
        pool.apply(tasks.reject, ["async no"]),
        pool.apply(tasks.die, ["a defect"]),
        pool.map(tasks.half, [2, 3, 4], { chunksize: 1 }),
        pool.starmap(tasks.failAt, [[1, 3], [2, 3], [3, 3]], { chunksize: 1 }),
        pool.apply(tasks.returnFunction, []),
        pool.apply(tasks.identity, [() => 1])
      ]
      const onReal = yield* Effect.forEach(calls(real), Effect.exit)
      const onTest = yield* Effect.forEach(calls(test), Effect.exit)
      assert.deepStrictEqual(onTest.map(outcome), onReal.map(outcome))
      const odd = onTest[7]
      assert.isTrue(Exit.isFailure(odd) && Cause.squash(odd.cause) instanceof Odd, "a declared error arrives as itself")
    }))

  it.effect("the same seed gives the same completion order, different seeds different orders", () =>
    Effect.gen(function*() {
      const orders: Array<string> = []
      for (let seed = 0; seed < 6; seed++) {
        const first = yield* completionOrder(seed)
        assert.deepStrictEqual(yield* completionOrder(seed), first, `seed ${seed} gives one order`)
        assert.deepStrictEqual([...first].sort((a, b) => a - b), Array.from({ length: 24 }, (_, i) => i * i))
        orders.push(first.join(","))
      }
      assert.isAbove(new Set(orders).size, 3, "different seeds, different orders")
      assert.notInclude(orders, Array.from({ length: 24 }, (_, i) => i * i).join(","), "never simply input order")
    }))

  it.effect("the order does not depend on how long the tasks take (long synchronous runs included)", () =>
    Effect.gen(function*() {
      const run = (seed: number, ms: number) =>
        Effect.scoped(Effect.gen(function*() {
          const pool = yield* WorkerPool.makeTest({ size: 3, seed })
          // some calls run longer than the worker runtime's 4 ms slice: it yields to the event loop between them
          const items = Array.from({ length: 24 }, (_, i) => [i % 3 === 0 ? ms : ms / 4, i] as const)
          const single = yield* Stream.runCollect(pool.imapUnordered(testTasks.spin, items))
          const chunked = yield* Stream.runCollect(pool.imapUnordered(testTasks.spin, items, { chunksize: 8 }))
          return [...single, ...chunked].join(",")
        }))
      for (let seed = 0; seed < 3; seed++) assert.strictEqual(yield* run(seed, 8), yield* run(seed, 0), `seed ${seed}`)
    }))

  it.effect("the *Async calls complete in the seed's order; a map's chunks too, without changing its result", () =>
    Effect.gen(function*() {
      const run = (seed: number) =>
        Effect.scoped(Effect.gen(function*() {
          const pool = yield* WorkerPool.makeTest({ size: 2, seed })
          const done: Array<number> = []
          const results = yield* Effect.forEach(
            Array.from({ length: 12 }, (_, i) => i),
            (i) => pool.applyAsync(tasks.square, [i], { callback: (value) => done.push(value) })
          )
          yield* Effect.forEach(results, (result) => result.wait())
          const chunks: Array<number> = []
          const mapped = yield* pool.mapAsync(tasks.tagWithWorker, [1, 2, 3, 4, 5, 6], { chunksize: 2 })
          const seen = yield* pool.mapAsync(tasks.square, [1, 2, 3, 4, 5, 6, 7, 8], {
            chunksize: 1,
            callback: (squares) => chunks.push(...squares)
          })
          assert.deepStrictEqual((yield* mapped.get()).map(([x]) => x), [1, 2, 3, 4, 5, 6])
          assert.deepStrictEqual(yield* seen.get(), [1, 4, 9, 16, 25, 36, 49, 64])
          return done
        }))
      const orders = new Set<string>()
      for (let seed = 0; seed < 5; seed++) {
        const done = yield* run(seed)
        assert.deepStrictEqual(yield* run(seed), done)
        orders.add(done.join(","))
      }
      assert.isAbove(orders.size, 1)
    }))

  it.effect("imapUnordered yields a permutation of map's result, for any seed, size and chunksize", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: -100, max: 100 }), { maxLength: 60 }),
          fc.integer({ min: 1, max: 4 }),
          fc.option(fc.integer({ min: 1, max: 8 }), { nil: undefined }),
          fc.integer(),
          (items, size, chunksize, seed) =>
            Effect.runPromise(Effect.scoped(Effect.gen(function*() {
              const pool = yield* WorkerPool.makeTest({ size, seed })
              const mapped = yield* pool.map(tasks.square, items, { chunksize })
              assert.deepStrictEqual(mapped, items.map((x) => x * x))
              const unordered = yield* Stream.runCollect(pool.imapUnordered(tasks.square, items, { chunksize }))
              assert.deepStrictEqual([...unordered].sort((a, b) => a - b), [...mapped].sort((a, b) => a - b))
            })))
        ),
        { numRuns: 50 }
      )
    ))

  it.effect("values cross by structuredClone: no shared references, transfers move, functions are refused", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.makeTest({ size: 1 })
      const box = { n: 1 }
      const bumped = yield* pool.apply(testTasks.bump, [box])
      assert.deepStrictEqual([box.n, bumped.n], [1, 2], "the task changed its own copy")
      assert.notStrictEqual(bumped, box)
      const buffer = new ArrayBuffer(16)
      assert.strictEqual(yield* pool.apply(testTasks.byteLength, [buffer], { transfer: [buffer] }), 16)
      assert.strictEqual(buffer.byteLength, 0, "a transferred buffer is gone from the caller")
      const argument = yield* Effect.flip(pool.apply(tasks.identity, [() => 1]))
      const result = yield* Effect.flip(pool.apply(tasks.returnFunction, []))
      assert.deepStrictEqual([argument._tag, result._tag], ["SerializationError", "SerializationError"])
      assert.strictEqual(yield* pool.apply(tasks.square, [3]), 9, "the worker goes on")
    }))

  it.effect("injected failures fail exactly the chosen calls, with a TaskError", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.makeTest({
        size: 2,
        fail: (call) => call.task === tasks.square.id && (call.args[0] as number) % 3 === 0
      })
      const exits = yield* Effect.forEach(
        Array.from({ length: 10 }, (_, i) => i),
        (i) => Effect.exit(pool.apply(tasks.square, [i])),
        { concurrency: "unbounded" }
      )
      exits.forEach((exit, i) => {
        if (i % 3 !== 0) return assert.deepStrictEqual(exit, Exit.succeed(i * i))
        const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
        assert.instanceOf(error, TaskError)
        assert.strictEqual((error as TaskError).remoteName, "InjectedFailure")
      })
      assert.strictEqual(yield* pool.apply(tasks.add, [3, 3]), 6, "other tasks are not chosen")
      const rated = (seed: number) =>
        Effect.scoped(Effect.gen(function*() {
          const pool = yield* WorkerPool.makeTest({ size: 2, seed, fail: 0.3 })
          const items = Array.from({ length: 40 }, (_, i) => i)
          const exits = yield* Effect.forEach(items, (i) => Effect.exit(pool.apply(tasks.square, [i])), {
            concurrency: "unbounded"
          })
          return items.filter((i) => Exit.isFailure(exits[i]))
        }))
      const failed = yield* rated(9)
      assert.deepStrictEqual(yield* rated(9), failed, "a rate draws from the seed")
      assert.isTrue(failed.length > 0 && failed.length < 40)
    }))

  it.effect("an injected crash fails the tasks its worker was running with WorkerCrashed; the worker is replaced", () =>
    Effect.gen(function*() {
      const workers: Array<number> = []
      const pool = yield* WorkerPool.makeTest({
        size: 2,
        crash: (call) => {
          workers.push(call.workerId)
          return call.name === "square" && call.args[0] === 7
        }
      })
      // a task whose cost is known may queue behind a busy worker (an unknown one waits for an idle worker)
      assert.strictEqual(yield* pool.apply(tasks.square, [2]), 4)
      const first = yield* makeFlags("threads")
      const second = yield* makeFlags("threads")
      // one waiting task on each worker
      const waiting = yield* Effect.forEach([first, second], (flags) => Effect.forkChild(pool.apply(tasks.abortable, [flags])))
      yield* waitFor(first, 0)
      yield* waitFor(second, 0)
      const crashed = yield* Effect.exit(pool.apply(tasks.square, [7]))
      assert.isTrue(Exit.isFailure(crashed) && Cause.squash(crashed.cause) instanceof WorkerCrashed)
      const victim = workers.at(-1)!
      // exactly one of the waiting tasks shared the crashed worker: it fails too, and the other one goes on
      const exits = yield* Effect.forEach(waiting, (fiber) => Effect.succeed(fiber.pollUnsafe()))
      const failedOnVictim = exits.filter((exit) => exit !== undefined)
      assert.strictEqual(failedOnVictim.length, 1)
      const lost = failedOnVictim[0]!
      assert.isTrue(Exit.isFailure(lost) && Cause.squash(lost.cause) instanceof WorkerCrashed)
      assert.include((Cause.squash((lost as Exit.Failure<unknown, unknown>).cause) as WorkerCrashed).message, "crashed")
      assert.strictEqual(yield* pool.apply(tasks.square, [4]), 16, "its replacement runs the next tasks")
      assert.notInclude(workers.slice(workers.lastIndexOf(victim) + 1), victim, String(workers))
      yield* Fiber.interrupt(waiting[exits.indexOf(undefined)])
      const chunked = yield* Effect.exit(pool.map(tasks.square, [5, 6, 7, 8], { chunksize: 2 }))
      assert.isTrue(Exit.isFailure(chunked) && Cause.squash(chunked.cause) instanceof WorkerCrashed)
      // the calls sent to the crashing worker behind the crashing one had not started: they run elsewhere
      const calls: Array<readonly [number, number]> = []
      const single = yield* WorkerPool.makeTest({
        size: 1,
        crash: (call) => calls.push([call.workerId, call.args[0] as number]) > 0 && call.args[0] === 7
      })
      assert.strictEqual(yield* single.apply(tasks.square, [0]), 0) // its cost known, the batch goes in one message
      const batch = yield* Effect.forEach([7, 1, 2, 3, 4, 5], (x) => Effect.exit(single.apply(tasks.square, [x])), {
        concurrency: "unbounded"
      })
      assert.isTrue(Exit.isFailure(batch[0]) && Cause.squash(batch[0].cause) instanceof WorkerCrashed)
      assert.deepStrictEqual(batch.slice(1), [1, 4, 9, 16, 25].map((x) => Exit.succeed(x)))
      assert.deepStrictEqual(calls, [[1, 0], [1, 7], [2, 1], [2, 2], [2, 3], [2, 4], [2, 5]], "none started on worker 1")
    }))

  it.effect("interrupting a call aborts its task; one that ignores its signal loses its worker after the grace period", () =>
    Effect.gen(function*() {
      const workers = new Set<number>()
      const pool = yield* WorkerPool.makeTest({
        size: 1,
        fail: (call) => workers.add(call.workerId) && false
      })
      const flags = yield* makeFlags("threads")
      const caller = yield* Effect.forkChild(pool.apply(tasks.abortable, [flags]))
      yield* waitFor(flags, 0)
      yield* Fiber.interrupt(caller)
      yield* waitFor(flags, 1) // its AbortSignal fired
      assert.strictEqual(yield* pool.apply(tasks.square, [5]), 25)
      const stubborn = yield* makeFlags("threads")
      const ignoring = yield* Effect.forkChild(pool.apply(tasks.ignoreAbort, [stubborn]))
      yield* waitFor(stubborn, 0)
      yield* Fiber.interrupt(ignoring)
      yield* waitFor(stubborn, 2) // it saw the abort, and goes on
      const next = yield* Effect.forkChild(pool.apply(tasks.square, [6]))
      yield* Effect.yieldNow
      assert.isUndefined(next.pollUnsafe(), "the worker is still taken")
      yield* TestClock.adjust("250 millis") // cancelGracePeriod: the worker is killed and replaced
      assert.strictEqual(yield* Fiber.join(next), 36)
      assert.strictEqual(workers.size, 2)
      open(stubborn, 1) // let the abandoned task end
    }))

  it.effect("close, join and terminate", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.makeTest({ size: 2 })
      assert.instanceOf(yield* Effect.flip(pool.join), PoolStillRunning)
      const flags = yield* makeFlags("threads")
      const pending = yield* pool.applyAsync(tasks.waitForRelease, [flags])
      yield* waitFor(flags, 0)
      yield* pool.close
      assert.instanceOf(yield* Effect.flip(pool.apply(tasks.square, [1])), PoolNotRunning)
      const joined = yield* Effect.forkChild(pool.join)
      yield* Effect.yieldNow
      assert.isUndefined(joined.pollUnsafe(), "join waits for the submitted task")
      open(flags, 1)
      yield* Fiber.join(joined)
      assert.strictEqual(yield* pending.get(), "released")

      const other = yield* WorkerPool.makeTest({ size: 1 })
      const held = yield* makeFlags("threads")
      const running = yield* Effect.forkChild(other.apply(tasks.waitForRelease, [held]))
      const queued = yield* Effect.forkChild(other.apply(tasks.square, [2]))
      yield* waitFor(held, 0)
      yield* other.terminate
      assert.instanceOf(yield* Effect.flip(Fiber.join(running)), PoolTerminated)
      assert.instanceOf(yield* Effect.flip(Fiber.join(queued)), PoolTerminated)
      yield* other.join
      yield* other.terminate
      open(held, 1)
    }))

  it.effect("an initializer, maxTasksPerWorker and broadcast run on the in-process workers", () =>
    Effect.gen(function*() {
      const flags = yield* makeFlags("threads")
      const ids: Array<number> = []
      const pool = yield* WorkerPool.makeTest({
        size: 2,
        initializer: tasks.initialize,
        initargs: [flags, "ready"],
        maxTasksPerWorker: 2,
        fail: (call) => call.name === "square" && ids.push(call.workerId) < 0
      })
      assert.strictEqual(flags._tag === "Memory" && Atomics.load(flags.cells, 0), 2, "once per worker")
      yield* pool.map(tasks.square, [1, 2, 3, 4, 5, 6, 7, 8], { chunksize: 1 })
      const counts = new Map<number, number>()
      for (const id of ids) counts.set(id, (counts.get(id) ?? 0) + 1)
      assert.isTrue([...counts.values()].every((n) => n <= 2), "no worker ran more than 2 tasks")
      assert.strictEqual((yield* pool.broadcast(tasks.square, [3])).length, 2)
    }))

  it.effect("a task module's setup layer is built once per in-process worker, also with faults injected", () =>
    Effect.gen(function*() {
      for (const options of [{}, { fail: () => false }]) {
        const pool = yield* WorkerPool.makeTest({ size: 2, ...options })
        const results = yield* pool.map(layerTasks.predict, [1, 2, 3, 4, 5, 6, 7, 8], { chunksize: 1 })
        assert.deepStrictEqual(results.map(([x]) => x), [2, 4, 6, 8, 10, 12, 14, 16])
        assert.strictEqual(new Set(results.map(([, build]) => build)).size, 2, "one build per worker")
        yield* pool.terminate
      }
    }))

  it.effect("rejects a seed, a fail or a crash that is not what the options say", () =>
    Effect.gen(function*() {
      for (const options of [{ seed: Number.NaN }, { fail: 2 }, { crash: -0.5 }, { fail: "often" as never }]) {
        const error = yield* Effect.flip(WorkerPool.makeTest(options))
        assert.isTrue(Cause.isIllegalArgumentError(error), JSON.stringify(options))
      }
    }))
})

describe("docs/testing.md: which clock the pool's timers follow", () => {
  it.effect("under it.effect a stuck worker is killed only once the TestClock passes cancelGracePeriod", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1, cancelGracePeriod: "100 millis" })
      const before = yield* pool.apply(tasks.workerId, [])
      const flags = yield* makeFlags("threads")
      const stuck = yield* Effect.forkChild(pool.apply(tasks.spin, [flags]))
      yield* waitFor(flags, 0)
      yield* Fiber.interrupt(stuck) // cancelled: the grace period starts, on the TestClock
      const next = yield* Effect.forkChild(pool.apply(tasks.workerId, []))
      // three grace periods of real time: the TestClock has not moved, so nothing is killed
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 300)))
      assert.isUndefined(next.pollUnsafe(), "the worker is still stuck")
      yield* TestClock.adjust("100 millis")
      assert.notStrictEqual(yield* Fiber.join(next), before, "killed and replaced")
    }))

  it.live("under it.live the grace period passes by itself", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1, cancelGracePeriod: "100 millis" })
      const before = yield* pool.apply(tasks.workerId, [])
      const flags = yield* makeFlags("threads")
      const stuck = yield* Effect.forkChild(pool.apply(tasks.spin, [flags]))
      yield* waitFor(flags, 0)
      yield* Fiber.interrupt(stuck)
      assert.notStrictEqual(yield* pool.apply(tasks.workerId, []), before)
    }).pipe(Effect.scoped))

  it.effect("under it.effect Effect.timeout on a call fires only when the TestClock gets there", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1 })
      assert.strictEqual(yield* pool.apply(tasks.effectSleepThen, [20]), 20, "a task's own sleep needs no adjust")
      const flags = yield* makeFlags("threads")
      const timed = yield* Effect.forkChild(pool.apply(tasks.interruptible, [flags]).pipe(Effect.timeoutOption("5 seconds")))
      yield* waitFor(flags, 0)
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 200)))
      yield* TestClock.adjust("4999 millis")
      assert.isUndefined(timed.pollUnsafe(), "not yet")
      yield* TestClock.adjust("1 millis")
      assert.strictEqual((yield* Fiber.join(timed))._tag, "None")
      yield* waitFor(flags, 1) // and the task was cancelled in its worker
    }))

  it.effect("startTimeout (a worker's start, with its initializer) follows the TestClock", () =>
    Effect.gen(function*() {
      const starting = yield* Effect.forkChild(
        WorkerPool.makeTest({ size: 1, startTimeout: "10 seconds", initializer: testTasks.never }).pipe(Effect.scoped)
      )
      yield* TestClock.adjust("9999 millis")
      assert.isUndefined(starting.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      const error = yield* Effect.flip(Fiber.join(starting))
      assert.strictEqual(error._tag, "WorkerStartFailed")
      assert.include(error.message, "timed out")
    }))

  it.effect("the load of a task module in a worker is bounded by startTimeout in the worker's real time", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1, startTimeout: "300 millis" })
      // no TestClock.adjust: the worker measures the load itself
      const error = yield* Effect.flip(pool.apply(neverLoading.neverRuns, [1]))
      assert.strictEqual(error._tag, "TaskError")
      assert.include(error.message, "did not finish loading within 300ms")
    }))

  it.effect("result.get({ timeout }) follows the TestClock; a task's own Effect.sleep runs on real time", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.makeTest({ size: 1 })
      assert.strictEqual(yield* pool.apply(tasks.effectSleepThen, [20]), 20, "no adjust needed inside the task")
      const flags = yield* makeFlags("threads")
      const result = yield* pool.applyAsync(tasks.waitForRelease, [flags])
      const waiting = yield* Effect.forkChild(result.get({ timeout: "1 second" }))
      yield* waitFor(flags, 0)
      assert.isUndefined(waiting.pollUnsafe())
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* Effect.flip(Fiber.join(waiting)))._tag, "TimeoutError")
      open(flags, 1)
      assert.strictEqual(yield* result.get(), "released", "the task kept running")
    }))

  it.effect("an idle worker above the minimum retires when the TestClock passes idleTimeout", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.makeTest({ size: { min: 0, max: 1, idleTimeout: "30 seconds" } })
      assert.strictEqual(yield* pool.apply(tasks.square, [3]), 9)
      const idle = Effect.map(pool.stats, (stats) => stats.workers.idle + stats.workers.busy)
      assert.strictEqual(yield* idle, 1)
      yield* TestClock.adjust("29 seconds")
      assert.strictEqual(yield* idle, 1)
      yield* TestClock.adjust("1 second")
      while ((yield* idle) > 0) yield* Effect.yieldNow
    }))
})

// -- the snippets of docs/testing.md --------------------------------------------------

describe("docs/testing.md: the test layer's examples", () => {
  it.effect("topWords does not depend on the completion order", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(fc.array(fc.string({ maxLength: 6 }), { maxLength: 30 }), fc.integer(), async (words, seed) => {
          const expected = [...words]
            .map((word) => ({ word, score: [...word].filter((c) => "aeiou".includes(c)).length }))
            .sort((a, b) => b.score - a.score || (a.word < b.word ? -1 : a.word > b.word ? 1 : 0))
            .slice(0, 3)
            .map(({ word }) => word)
          const result = await Effect.runPromise(
            topWords(words, 3).pipe(Effect.provide(WorkerPool.layerTest({ size: 3, seed })))
          )
          expect(result).toEqual(expected)
        })
      )
    ))

  it.effect("the same property finds the ordering bug of topWordsBuggy", () =>
    Effect.promise(async () => {
      const property = fc.asyncProperty(fc.array(fc.string({ maxLength: 6 }), { maxLength: 30 }), fc.integer(), async (words, seed) => {
        const expected = await Effect.runPromise(topWords(words, 3).pipe(Effect.provide(WorkerPool.layerTest({ seed }))))
        const result = await Effect.runPromise(
          topWordsBuggy(words, 3).pipe(Effect.provide(WorkerPool.layerTest({ size: 3, seed })))
        )
        expect(result).toEqual(expected)
      })
      const report = await fc.check(property, { seed: 1 })
      assert.isTrue(report.failed, "a counterexample is found")
      assert.isAtMost(report.numRuns, 20, "in a few runs")
      assert.strictEqual(report.counterexample?.[0].length, 2, "shrunk to two words")
    }))

  it.effect("a flaky task: every call of score on a word with a 'z' fails", () =>
    Effect.gen(function*() {
      const Flaky = WorkerPool.layerTest({
        fail: (call) => call.task === testTasks.score.id && String(call.args[0]).includes("z")
      })
      const error = yield* Effect.flip(topWords(["jazz", "effect"], 1).pipe(Effect.provide(Flaky)))
      assert.strictEqual(error._tag, "TaskError")
    }))

  it.effect("a crashing worker: topWords fails with WorkerCrashed", () =>
    Effect.gen(function*() {
      const Crashing = WorkerPool.layerTest({ crash: (call) => call.args[0] === "boom" })
      const error = yield* Effect.flip(topWords(["a", "boom", "c"], 1).pipe(Effect.provide(Crashing)))
      assert.strictEqual(error._tag, "WorkerCrashed")
    }))

  it.effect("layerTest in place of layer", () =>
    Effect.gen(function*() {
      const PoolTest = WorkerPool.layerTest({ size: 2, seed: 42 })
      const words = yield* topWords(["pool", "effect", "queue"], 2).pipe(Effect.provide(PoolTest))
      assert.deepStrictEqual(words, ["queue", "effect"])
    }))

  it("every ts snippet of docs/testing.md is in this file", () => {
    const docs = fs.readFileSync(new URL("../docs/testing.md", import.meta.url), "utf8")
    const here = fs.readFileSync(new URL(import.meta.url), "utf8") +
      fs.readFileSync(new URL("./fixtures/testlayer-words.ts", import.meta.url), "utf8")
    const normalize = (code: string) =>
      code.split("\n").map((line) => line.trim()).filter((line) => line !== "" && !line.startsWith("import ")).join("\n")
    const snippets = [...docs.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1])
    assert.isAbove(snippets.length, 3)
    for (const snippet of snippets) {
      for (const part of snippet.split(/\n\s*\/\/ …\n/)) assert.include(normalize(here), normalize(part))
    }
  })
})
