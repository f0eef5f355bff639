/** SEMANTICS.md "Results and ordering" (1–7), against real worker threads and real child processes. */
import { assert, describe, it, layer } from "@effect/vitest"
import { Cause, Chunk, Effect, Exit, Fiber, Queue, Stream } from "effect"
import { WorkerPool } from "../src/index.ts"
import { tasks } from "./fixtures/tasks.ts"
import { backends, makeFlags, open } from "./utils.ts"

for (const backend of backends) {
  // the real clock: the pool's timers (a cancelled task's grace period) run as in a program, and no TestClock
  // that nobody advances warns that the block "is using time"
  layer(WorkerPool.layer({ size: 2, backend }), { excludeTestServices: true })(`results and ordering (${backend})`, (it) => {
    it.effect("1. map returns results in input order whatever the completion order", () =>
      Effect.gen(function*() {
        const delays = [9, 1, 6, 0, 4, 2, 8, 3]
        const results = yield* WorkerPool.map(tasks.sleepThen, delays, { chunksize: 1 })
        assert.deepStrictEqual(results, delays)
        const streamed = yield* Stream.runCollect(WorkerPool.imap(tasks.sleepThen, delays))
        assert.deepStrictEqual(streamed, delays)
      }))

    it.effect("2. imapUnordered yields in completion order", () =>
      Effect.gen(function*() {
        const gates = yield* makeFlags(backend, 3)
        const seen = yield* Queue.unbounded<number>()
        const consumer = yield* WorkerPool.imapUnordered(
          tasks.gatedFromTuple,
          [[gates, 0], [gates, 1], [gates, 2]] as const
        ).pipe(Stream.runForEach((n) => Queue.offer(seen, n)), Effect.forkChild)
        // 3 items on 2 workers: open the gates in the order 1, 0, 2 and watch the results follow it
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
        const async = yield* WorkerPool.mapAsync(tasks.square, [])
        assert.deepStrictEqual(yield* async.get(), [])
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
        // 2 workers × 8 chunks of 1 in flight, plus the stream's own small buffers
        assert.isAtMost(pulled, 64)

        const fromStream = yield* Stream.runCollect(
          Stream.take(WorkerPool.imapUnordered(tasks.square, Stream.iterate(0, (n) => n + 1), { chunksize: 4 }), 12)
        )
        assert.strictEqual(fromStream.length, 12)
      }))

    it.effect("5. a chunksize larger than the input gives one chunk; chunked and unchunked results are equal", () =>
      Effect.gen(function*() {
        const items = Array.from({ length: 10 }, (_, i) => i)
        const oneChunk = yield* WorkerPool.map(tasks.tagWithWorker, items, { chunksize: 100 })
        assert.strictEqual(new Set(oneChunk.map(([, worker]) => worker)).size, 1)
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
        // and the pool keeps serving
        assert.deepStrictEqual(yield* WorkerPool.map(tasks.square, [1, 2], { chunksize: 1 }), [1, 4])
      }))

    it.effect("a large chunk of Effect tasks that complete at once runs without growing the stack", () =>
      Effect.gen(function*() {
        const evens = Array.from({ length: 50_000 }, (_, i) => 2 * i)
        const halves = yield* WorkerPool.map(tasks.half, evens, { chunksize: evens.length })
        assert.deepStrictEqual(halves, evens.map((n) => n / 2))
      }))

    it.effect("7. starmap spreads each tuple into the call", () =>
      Effect.gen(function*() {
        assert.deepStrictEqual(yield* WorkerPool.starmap(tasks.add, [[1, 2], [10, 20], [100, 200]] as const), [3, 30, 300])
        const async = yield* WorkerPool.starmapAsync(tasks.add, [[2, 3]])
        assert.deepStrictEqual(yield* async.get(), [5])
      }))

    it.effect("apply passes its argument tuple; transfer moves buffers both ways (a copy, for processes)", () =>
      Effect.gen(function*() {
        assert.strictEqual(yield* WorkerPool.apply(tasks.add, [2, 3]), 5)
        const bytes = new Uint8Array(1024)
        assert.strictEqual(yield* WorkerPool.apply(tasks.bytesLength, [bytes], { transfer: [bytes.buffer] }), 1024)
        if (backend === "threads") assert.strictEqual(bytes.byteLength, 0, "the buffer moved to the worker")
        else assert.strictEqual(bytes.byteLength, 1024, "a process gets a copy (documented in Options.backend)")
        const made = yield* WorkerPool.apply(tasks.makeBytes, [16])
        assert.instanceOf(made, Uint8Array)
        assert.deepStrictEqual(Array.from(made), new Array(16).fill(7))
      }))

    it.effect("values survive the trip both ways: Map, Set, Date, BigInt, typed arrays", () =>
      Effect.gen(function*() {
        const value = [new Map([[1, new Set([2])]]), new Date(0), 10n, new Float64Array([1.5])]
        assert.deepStrictEqual(yield* WorkerPool.apply(tasks.identity, [value]), value)
      }))

    it.effect("many tiny tasks at once all arrive, each with its own result", () =>
      Effect.gen(function*() {
        const n = 20_000
        const results = yield* Effect.forEach(
          Array.from({ length: n }, (_, i) => i),
          (i) => WorkerPool.apply(tasks.add, [i, 1]),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(results, Array.from({ length: n }, (_, i) => i + 1))
      }))
  })

  describe(`results and ordering: exits (${backend})`, () => {
    it.effect("map on the pool yields an Exit per call", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const exit = yield* Effect.exit(pool.map(tasks.square, [1, 2, 3]))
        assert.isTrue(Exit.isSuccess(exit))
        assert.deepStrictEqual(Chunk.fromIterable(exit._tag === "Success" ? exit.value : []).length, 3)
      }))
  })
}
