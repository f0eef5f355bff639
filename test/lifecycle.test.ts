/** SEMANTICS.md "Lifecycle" (15–21) and pool start (22), against real worker threads and real child processes. */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Queue, Scope, Stream } from "effect"
import { PoolNotRunning, PoolStillRunning, PoolTerminated, WorkerPool } from "../src/index.ts"
import { tasks } from "./fixtures/tasks.ts"
import { backends, liveWorkers, makeFlags, open, runFixture, waitFor } from "./utils.ts"

const expectNotRunning = (error: unknown, state: "closed" | "terminated") => {
  assert.instanceOf(error, PoolNotRunning)
  assert.strictEqual((error as PoolNotRunning).state, state)
}

const everySubmit = (pool: WorkerPool.Pool): Array<Effect.Effect<unknown, unknown>> => [
  pool.apply(tasks.square, [2]),
  pool.map(tasks.square, []),
  pool.map(tasks.square, [1, 2]),
  pool.starmap(tasks.add, []),
  Stream.runCollect(pool.imap(tasks.square, [])),
  Stream.runCollect(pool.imapUnordered(tasks.square, [1])),
  pool.applyAsync(tasks.square, [2]),
  pool.mapAsync(tasks.square, []),
  pool.starmapAsync(tasks.add, [[1, 2]])
]

for (const backend of backends) {
  describe(`lifecycle (${backend})`, () => {
    it.effect("15. after close or terminate, every submit fails with PoolNotRunning, even with empty input", () =>
      Effect.gen(function*() {
        const closed = yield* WorkerPool.make({ size: 1, backend })
        yield* closed.close
        for (const submit of everySubmit(closed)) expectNotRunning(yield* Effect.flip(submit), "closed")

        const terminated = yield* WorkerPool.make({ size: 1, backend })
        yield* terminated.terminate
        for (const submit of everySubmit(terminated)) expectNotRunning(yield* Effect.flip(submit), "terminated")
      }))

    it.effect("16. join before close or terminate fails with PoolStillRunning", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        assert.instanceOf(yield* Effect.flip(pool.join), PoolStillRunning)
        assert.strictEqual(yield* pool.apply(tasks.square, [3]), 9, "and the pool still works")
      }))

    it.effect("17. close then join waits for every submitted task; then every worker has exited", () =>
      Effect.gen(function*() {
        const workersBefore = liveWorkers(backend)
        const pool = yield* WorkerPool.make({ size: 2, backend })
        assert.strictEqual(liveWorkers(backend).length, workersBefore.length + 2)
        const flags = yield* makeFlags(backend)
        const slow = yield* pool.applyAsync(tasks.waitForRelease, [flags])
        const many = yield* pool.mapAsync(tasks.sleepThen, [3, 1, 2, 0, 5, 1])
        const delayed = yield* pool.starmapAsync(tasks.add, [[1, 1], [2, 2]])
        yield* pool.close
        const joining = yield* Effect.forkChild(pool.join)
        yield* waitFor(flags, 0)
        assert.isUndefined(joining.pollUnsafe(), "join waits while a task is still running")
        open(flags, 1)
        yield* Fiber.join(joining)
        assert.strictEqual(yield* slow.get(), "released")
        assert.deepStrictEqual(yield* many.get(), [3, 1, 2, 0, 5, 1])
        assert.deepStrictEqual(yield* delayed.get(), [2, 4])
        assert.deepStrictEqual(liveWorkers(backend), workersBefore, "no worker is left")
      }))

    it.effect("18. terminate returns promptly with a worker stuck in a synchronous loop and thousands of queued tasks", () =>
      Effect.gen(function*() {
        const workersBefore = liveWorkers(backend)
        const pool = yield* WorkerPool.make({ size: 2, backend })
        const stuck = [yield* makeFlags(backend), yield* makeFlags(backend)]
        // both workers spin until released, which this test never does
        const spinning = yield* Effect.forEach(stuck, (flags) => pool.applyAsync(tasks.spin, [flags]))
        yield* Effect.forEach(stuck, (flags) => waitFor(flags, 0))
        const queued = yield* Effect.forEach(
          Array.from({ length: 5000 }, (_, i) => i),
          (i) => pool.applyAsync(tasks.square, [i])
        )
        const queuedMap = yield* pool.mapAsync(tasks.square, Array.from({ length: 1000 }, (_, i) => i), { chunksize: 1 })
        yield* pool.terminate // a terminate that waited for the spinning tasks would hang here
        const results: Array<{ readonly get: () => Effect.Effect<unknown, unknown> }> = [
          ...spinning,
          ...queued.slice(0, 10),
          ...queued.slice(-10),
          queuedMap
        ]
        for (const result of results) {
          assert.instanceOf(yield* Effect.flip(result.get()), PoolTerminated)
        }
        assert.deepStrictEqual(liveWorkers(backend), workersBefore, "the stuck workers were killed")
      }))

    it.effect("19. close and terminate are idempotent, close after terminate keeps it terminated, join may repeat", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        yield* pool.close
        yield* pool.close
        yield* pool.join
        yield* pool.join
        expectNotRunning(yield* Effect.flip(pool.apply(tasks.square, [1])), "closed")

        const other = yield* WorkerPool.make({ size: 1, backend })
        yield* other.terminate
        yield* other.terminate
        yield* other.close
        yield* other.join
        yield* other.join
        expectNotRunning(yield* Effect.flip(other.apply(tasks.square, [1])), "terminated")

        const closedThenTerminated = yield* WorkerPool.make({ size: 1, backend })
        yield* closedThenTerminated.close
        yield* closedThenTerminated.terminate
        yield* closedThenTerminated.join
        expectNotRunning(yield* Effect.flip(closedThenTerminated.apply(tasks.square, [1])), "terminated")
      }))

    it.effect("18. a terminate whose caller is interrupted still completes: join and scope close do not hang", () =>
      Effect.gen(function*() {
        const workersBefore = liveWorkers(backend)
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const flags = yield* makeFlags(backend)
        yield* pool.applyAsync(tasks.spin, [flags])
        yield* waitFor(flags, 0)
        const terminating = yield* Effect.forkChild(pool.terminate)
        yield* Effect.yieldNow // let it start: it is now waiting for the killed worker to exit
        expectNotRunning(yield* Effect.flip(pool.apply(tasks.square, [1])), "terminated")
        yield* Fiber.interrupt(terminating)
        yield* pool.join
        yield* pool.terminate
        assert.deepStrictEqual(liveWorkers(backend), workersBefore)
      }))

    it.effect("17. close lets an imap that is still reading its input finish", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const input = yield* Queue.unbounded<number, Cause.Done>()
        const results = yield* Queue.unbounded<number>()
        const consumer = yield* pool.imap(tasks.square, Stream.fromQueue(input)).pipe(
          Stream.runForEach((n) => Queue.offer(results, n)),
          Effect.forkChild
        )
        yield* Queue.offer(input, 2)
        assert.strictEqual(yield* Queue.take(results), 4)
        yield* pool.close // the pool is idle now, but the imap is not done
        yield* Queue.offer(input, 3)
        assert.strictEqual(yield* Queue.take(results), 9)
        yield* Queue.end(input)
        yield* Fiber.join(consumer)
        yield* pool.join
        expectNotRunning(yield* Effect.flip(Stream.runCollect(pool.imap(tasks.square, [1]))), "closed")
      }))

    it.effect("20. results completed before terminate can still be read afterwards", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const done = yield* pool.applyAsync(tasks.square, [6])
        assert.strictEqual(yield* done.get(), 36)
        const mapped = yield* pool.mapAsync(tasks.square, [1, 2])
        yield* mapped.wait()
        yield* pool.terminate
        assert.strictEqual(yield* done.get(), 36)
        assert.isTrue(yield* done.successful)
        assert.deepStrictEqual(yield* mapped.get(), [1, 4])
      }))

    it.effect("21. after the pool's scope closes, none of its workers is alive", () =>
      Effect.gen(function*() {
        const workersBefore = liveWorkers(backend)
        const scope = yield* Scope.make()
        const pool = yield* WorkerPool.make({ size: 3, backend }).pipe(Scope.provide(scope))
        assert.strictEqual(liveWorkers(backend).length, workersBefore.length + 3)
        const flags = yield* makeFlags(backend)
        const running = yield* Effect.forkChild(pool.apply(tasks.spin, [flags]))
        yield* waitFor(flags, 0)
        yield* Scope.close(scope, Exit.void)
        assert.deepStrictEqual(liveWorkers(backend), workersBefore)
        const exit = yield* Fiber.await(running)
        assert.isTrue(Exit.isFailure(exit))
        assert.instanceOf(Cause.squash((exit as Exit.Failure<unknown, unknown>).cause), PoolTerminated)
      }))

    it.effect("21. a program that forgets to close its pool still exits", () =>
      Effect.gen(function*() {
        const output = yield* runFixture("forgotten-pool.ts", [backend])
        assert.strictEqual(output.trim(), "result 49\ncrash WorkerCrashed")
      }))

    it.effect("22. make({ size: n }) starts exactly n workers, all ready to run tasks at once", () =>
      Effect.gen(function*() {
        for (const size of [1, 3]) {
          const pool = yield* WorkerPool.make({ size, backend })
          assert.strictEqual(pool.size, size)
          // n tasks that each wait until n are running at once: only n live workers can finish them
          const counter = yield* makeFlags(backend, 1)
          const workers = yield* pool.starmap(
            tasks.barrier,
            Array.from({ length: size }, () => [counter, size] as const),
            { chunksize: 1 }
          )
          assert.strictEqual(new Set(workers).size, size)
          yield* pool.terminate
        }
      }))

    it.effect("make rejects a size that is not a positive integer with a clear error", () =>
      Effect.gen(function*() {
        for (const size of [0, -2, 1.5, Number.NaN]) {
          const error = yield* Effect.flip(WorkerPool.make({ size, backend }))
          assert.isTrue(Cause.isIllegalArgumentError(error))
          assert.include((error as Cause.IllegalArgumentError).message, "size must be a positive integer")
        }
      }))

    it.effect("the default size is os.availableParallelism()", () =>
      Effect.gen(function*() {
        const { availableParallelism } = yield* Effect.promise(() => import("node:os"))
        const pool = yield* WorkerPool.make({ backend })
        assert.strictEqual(pool.size, availableParallelism())
      }))
  })
}
