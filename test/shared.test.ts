/**
 * Shared typed memory (src/Shared.ts): `Shared.map` over the seed's rows
 * gives the sequential loop's results, on worker threads without a copy of
 * the data, on child processes by copying each range in and its output back;
 * it keeps the pool's guarantees (cancellation mid-map, a crash mid-map, a
 * declared error from a range); `Shared.fromRows` refuses every value it
 * would change. With worker threads and child processes.
 */
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber } from "effect"
import { howManyWithinRange, mulberry32 } from "../examples/seed-tasks.ts"
import { type DispatchError, Shared, WorkerPool, WorkerCrashed } from "../src/index.ts"
import { tasks as plain } from "./fixtures/shared-plain-tasks.ts"
import { RangeRejected, tasks } from "./fixtures/shared-tasks.ts"
import { backends, load, makeFlags, waitFor } from "./utils.ts"

/** The seed's data: `np.random.randint(0, 10, size=[rows, 5]).tolist()`, drawn from mulberry32(100). */
const seedRows = (rows: number): Array<Array<number>> => {
  const random = mulberry32(100)
  return Array.from({ length: rows }, () => Array.from({ length: 5 }, () => Math.floor(random() * 10)))
}

/** The failure of an exit, or the exit itself for the assertion's message. */
const failureOf = <A, E>(exit: Exit.Exit<A, E>): unknown => Exit.isFailure(exit) ? Cause.squash(exit.cause) : exit

for (const backend of backends) {
  describe(`Shared (${backend})`, () => {
    it.effect("a map over the seed's rows gives the sequential loop's results", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 2, backend })
        const rows = seedRows(20_000)
        const expected = rows.map((row) => howManyWithinRange(row, 4, 8))
        const input = yield* Shared.fromRows(rows, "Int32")
        for (const chunksize of [undefined, 1_000, 7, 20_000, 50_000]) {
          const output = yield* Shared.make("Int32", input.rows)
          const counted = yield* Shared.map(pool, tasks.countWithinRange, { input, output, args: [4, 8], chunksize })
          assert.deepStrictEqual(Array.from(output.data), expected, `chunksize ${chunksize}`)
          // each range's value, in order: the rows it counted
          assert.strictEqual(counted.reduce((a, b) => a + b, 0), rows.length)
          if (chunksize !== undefined) assert.strictEqual(counted.length, Math.ceil(rows.length / chunksize))
        }
        const stats = yield* pool.stats
        assert.isAbove(stats.succeeded, 5, "each range is one task of the pool")
      }))

    it.effect("a reduction returns each range's value; threads read the caller's memory, processes a copy", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 2, backend })
        const input = yield* Shared.make("Float64", 100_000).pipe(Effect.flatMap((a) => Shared.fill(a, (i) => i)))
        const ranges = yield* Shared.map(pool, tasks.sumRange, { input, chunksize: 25_000 })
        assert.deepStrictEqual(ranges.map((r) => [r.start, r.end]), [[0, 25_000], [25_000, 50_000], [
          50_000,
          75_000
        ], [75_000, 100_000]])
        assert.strictEqual(ranges.reduce((a, r) => a + r.sum, 0), (100_000 * 99_999) / 2)
        assert.isTrue(ranges.every((r) => r.shared === (backend === "threads")))
      }))

    it.effect("an empty input runs no range", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const input = yield* Shared.make("Int32", 0, 5)
        const output = yield* Shared.make("Int32", 0)
        assert.deepStrictEqual(yield* Shared.map(pool, tasks.countWithinRange, { input, output, args: [4, 8] }), [])
      }))

    it.effect("10. cancelling a map mid-way: the running ranges see their signal, the others never run", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 2, backend })
        const flags = yield* makeFlags(backend)
        const input = yield* Shared.make("Int32", 64)
        const output = yield* Shared.make("Int32", 64)
        const mapping = yield* Effect.forkChild(
          Shared.map(pool, tasks.untilCancelled, { input, output, args: [flags], chunksize: 1 })
        )
        yield* waitFor(flags, 0) // a range runs
        yield* Fiber.interrupt(mapping)
        // once both workers have answered a later task, they hold nothing of the map that has not started
        yield* pool.broadcast(tasks.readFlag, [flags, 0])
        const started = load(flags, 0)
        yield* waitFor(flags, 1, started) // every range that started saw its AbortSignal
        yield* pool.broadcast(tasks.readFlag, [flags, 0])
        assert.strictEqual(load(flags, 0), started, "no range starts later")
        assert.isBelow(started, 64, "the remaining ranges never ran")
        assert.strictEqual(load(flags, 1), started)
      }))

    it.effect("23. a crash mid-map fails the map with WorkerCrashed; the pool survives", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 2, backend })
        const rows = seedRows(4_000)
        const input = yield* Shared.fromRows(rows, "Int32")
        const output = yield* Shared.make("Int32", input.rows)
        const exit = yield* Effect.exit(
          Shared.map(pool, tasks.crashAt, { input, output, args: [2_500], chunksize: 500 })
        )
        const error = failureOf(exit)
        assert.instanceOf(error, WorkerCrashed, String(error))
        assert.strictEqual((error as WorkerCrashed).exitCode, 7)
        // the pool is whole again: the same map without the crash gives the loop's results
        const again = yield* Shared.make("Int32", input.rows)
        yield* Shared.map(pool, tasks.countWithinRange, { input, output: again, args: [4, 8], chunksize: 500 })
        assert.deepStrictEqual(Array.from(again.data), rows.map((row) => howManyWithinRange(row, 4, 8)))
        const { workers } = yield* pool.stats
        assert.strictEqual(workers.idle + workers.busy + workers.starting, 2, "the crashed worker was replaced")
      }))

    it.effect("a range's declared error fails the map as itself", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 2, backend })
        const input = yield* Shared.fromRows(seedRows(1_000), "Int32")
        const output = yield* Shared.make("Int32", input.rows)
        const exit = yield* Effect.exit(
          Shared.map(pool, tasks.rejectAt, { input, output, args: [650], chunksize: 100 })
        )
        const error = failureOf(exit)
        assert.instanceOf(error, RangeRejected, String(error))
        assert.strictEqual((error as RangeRejected).start, 600)
      }))

    it.effect("a worker whose Shared.task is a plain function loads no effect", () =>
      Effect.gen(function*() {
        const recordLoads = new URL("./fixtures/startup-record-loads.mjs", import.meta.url).href
        const pool = yield* WorkerPool.make({ size: 1, backend, execArgv: ["--import", recordLoads] })
        const input = yield* Shared.make("Float64", 1_000).pipe(Effect.flatMap((a) => Shared.fill(a, (i) => i)))
        const output = yield* Shared.make("Float64", 1_000)
        yield* Shared.map(pool, plain.double, { input, output, chunksize: 100 })
        assert.deepStrictEqual(Array.from(output.data), Array.from(input.data, (x) => 2 * x))
        const loaded = yield* pool.apply(plain.loaded, [])
        assert.isTrue(loaded!.some((url) => url.includes("shared-plain-tasks")), "it loaded the task module")
        assert.deepStrictEqual(loaded!.filter((url) => /\/(effect|@effect)\//.test(url)), [])
        assert.isFalse(loaded!.some((url) => /\/src\/(index|WorkerPool|PoolError|Shared)\.ts$/.test(url)))
      }))

    it.effect("a Shared.task called by the pool's own methods fails with a TaskError that says so", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const exit = yield* Effect.exit(pool.apply(tasks.countWithinRange, [{ start: 0 } as any]))
        const error = failureOf(exit) as { readonly _tag: string; readonly message: string }
        assert.strictEqual(error._tag, "TaskError")
        assert.include(error.message, "call it with Shared.map")
      }))
  })
}

describe("Shared, threads only", () => {
  it.effect("no copy: the caller sees a worker's write while its task runs, and the task sees the caller's", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1, backend: "threads" })
      const input = yield* Shared.make("Int32", 1)
      const output = yield* Shared.make("Int32", 1)
      const mapping = yield* Effect.forkChild(Shared.map(pool, tasks.handshake, { input, output }))
      // the task writes 42 and waits for our 1: a copy would deadlock here
      yield* Effect.promise(async () => {
        while (Atomics.load(output.data, 0) !== 42) {
          const waited = Atomics.waitAsync(output.data, 0, 0)
          if (waited.async) await waited.value
        }
      })
      Atomics.store(input.data, 0, 1)
      assert.deepStrictEqual(yield* Fiber.join(mapping), ["seen"])
    }))

  it.effect("a SharedArray passed to a plain task is the same memory in the worker", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1, backend: "threads" })
      const input = yield* Shared.fromRows([[1, 2], [3, 4]], "Float64")
      assert.isTrue(Shared.isSharedArray(yield* pool.apply(tasks.echo, [input])))
    }))
})

describe("Shared on the test layer", () => {
  it.effect("in-process workers share the memory too (structuredClone keeps a SharedArrayBuffer shared)", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.makeTest({ size: 2, seed: 3 })
      const rows = seedRows(5_000)
      const input = yield* Shared.fromRows(rows, "Int32")
      const output = yield* Shared.make("Int32", input.rows)
      yield* Shared.map(pool, tasks.countWithinRange, { input, output, args: [4, 8], chunksize: 300 })
      assert.deepStrictEqual(Array.from(output.data), rows.map((row) => howManyWithinRange(row, 4, 8)))
      const floats = yield* Shared.make("Float64", 10)
      assert.isTrue((yield* Shared.map(pool, tasks.sumRange, { input: floats })).every((r) => r.shared))
    }))
})

describe("Shared.map's checks", () => {
  it.effect("refuses what is not a shared array of the task's kinds, or a wrong chunksize", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1 })
      const input = yield* Shared.make("Int32", 4, 5)
      const output = yield* Shared.make("Int32", 4)
      const cases: ReadonlyArray<readonly [string, Effect.Effect<unknown, unknown>]> = [
        ["not a Shared.SharedArray", Shared.map(pool, tasks.countWithinRange, { input: { rows: 4 } as any, output, args: [4, 8] })],
        ["bare Int32Array", Shared.map(pool, tasks.countWithinRange, { input: input.data as any, output, args: [4, 8] })],
        [
          "not an Int32Array over a SharedArrayBuffer",
          Shared.map(pool, tasks.countWithinRange, {
            input: { ...input, data: new Int32Array(20) } as any,
            output,
            args: [4, 8]
          })
        ],
        [
          "reads Int32 input, got Float64",
          Effect.flatMap(Shared.make("Float64", 4, 5), (f) =>
            Shared.map(pool, tasks.countWithinRange, { input: f as any, output, args: [4, 8] }))
        ],
        [
          "output has 3 rows, input has 4",
          Effect.flatMap(Shared.make("Int32", 3), (o) =>
            Shared.map(pool, tasks.countWithinRange, { input, output: o, args: [4, 8] }))
        ],
        ["pass an output", Shared.map(pool, tasks.countWithinRange, { input, args: [4, 8] } as any)],
        [
          "declares no output",
          Effect.flatMap(Shared.make("Float64", 4), (f) => Shared.map(pool, tasks.sumRange as any, { input: f, output } as any))
        ],
        ["chunksize must be a positive integer", Shared.map(pool, tasks.countWithinRange, { input, output, args: [4, 8], chunksize: 0 })],
        ["args must be an array", Shared.map(pool, tasks.countWithinRange, { input, output, args: 4 as any })],
        ["not declared with Shared.task", Shared.map(pool, tasks.plain as any, { input, output } as any)],
        ["expected a task", Shared.map(pool, ((x: number) => x) as any, { input, output } as any)]
      ]
      for (const [message, call] of cases) {
        const error = failureOf(yield* Effect.exit(call)) as { readonly _tag: string; readonly message: string }
        assert.strictEqual(error?._tag, "IllegalArgumentError", message)
        assert.include(error.message, message)
      }
      assert.strictEqual((yield* pool.stats).succeeded, 0, "nothing was sent")
    }))
})

describe("Shared.fromRows", () => {
  it.effect("packs equal-length rows row after row", () =>
    Effect.gen(function*() {
      const packed = yield* Shared.fromRows([[1, 2, 3], [4, 5, 6]], "Int32")
      assert.strictEqual(packed.rows, 2)
      assert.strictEqual(packed.columns, 3)
      assert.instanceOf(packed.data.buffer, SharedArrayBuffer)
      assert.deepStrictEqual(Array.from(packed.data), [1, 2, 3, 4, 5, 6])
      assert.deepStrictEqual(Shared.toRows(packed), [[1, 2, 3], [4, 5, 6]])
      const floats = yield* Shared.fromRows([[0.5, -0, NaN], Float64Array.of(Infinity, 1e300, -2)], "Float64")
      assert.isTrue(Object.is(floats.data[1], -0))
      assert.isNaN(floats.data[2])
      assert.strictEqual(floats.data[3], Infinity)
      const empty = yield* Shared.fromRows([], "Uint8")
      assert.deepStrictEqual([empty.rows, empty.columns, empty.data.length], [0, 0, 0])
    }))

  it.effect("refuses every value it would change, naming its row and column", () =>
    Effect.gen(function*() {
      // eslint-disable-next-line no-sparse-arrays
      const holey = [1, , 3] as Array<number>
      const cases: ReadonlyArray<readonly [unknown, Shared.Kind, string]> = [
        [[[1, 2, 3], holey], "Int32", "row 1, column 1 is a hole"],
        [[[1, 2, 3], holey], "Float64", "row 1, column 1 is a hole"],
        [[[1, "2", 3]], "Float64", `row 0, column 1 is "2", not a number`],
        [[[1, 2], [3, undefined]], "Int32", "row 1, column 1 is undefined, not a number"],
        [[[1, 2], [null, 4]], "Int32", "row 1, column 0 is null, not a number"],
        [[[1, 2n]], "Int32", "row 0, column 1 is 2n (a bigint), not a number"],
        [[[1, 2], [3, -0]], "Int32", "row 1, column 1 is -0"],
        [[[NaN]], "Uint8", "row 0, column 0 is NaN"],
        [[[1, 2.5]], "Int16", "row 0, column 1 is 2.5, not an integer"],
        [[[0, 256]], "Uint8", "row 0, column 1 is 256, out of the range of Uint8 (0 to 255)"],
        [[[-1]], "Uint32", "row 0, column 0 is -1, out of the range of Uint32"],
        [[[2 ** 31]], "Int32", "out of the range of Int32 (-2147483648 to 2147483647)"],
        [[[Infinity]], "Int32", "row 0, column 0 is Infinity, not an integer"],
        [[[1, 2], [3]], "Int32", "row 1 has 1 values, row 0 has 2: the rows must have equal lengths"],
        [[[1, 2], 3], "Int32", "row 1 is 3, not an array of numbers"],
        [[{ length: 1, 0: 1 }], "Int32", "row 0 is an object, not an array of numbers"],
        ["12", "Int32", "expected an array of rows"],
        [[[1]], "Int64" as Shared.Kind, "unknown kind Int64"]
      ]
      for (const [rows, kind, message] of cases) {
        const error = failureOf(yield* Effect.exit(Shared.fromRows(rows as any, kind)))
        assert.strictEqual((error as Cause.IllegalArgumentError)?._tag, "IllegalArgumentError", message)
        assert.include((error as Error).message, message)
      }
    }))

  it.effect("Shared.make refuses sizes that are not non-negative integers", () =>
    Effect.gen(function*() {
      for (const [rows, columns] of [[-1, 1], [1.5, 1], [2, NaN], [2 ** 60, 1]]) {
        const error = failureOf(yield* Effect.exit(Shared.make("Int32", rows, columns)))
        assert.strictEqual((error as Cause.IllegalArgumentError)?._tag, "IllegalArgumentError", `${rows} × ${columns}`)
      }
    }))
})

describe("Shared types", () => {
  it("a Shared.task's handle carries its kinds, extra arguments, value and errors", () => {
    const pool = undefined as unknown as WorkerPool.Pool
    const typeOnly = (_checks: () => void) => {}
    typeOnly(() => {
      const input = undefined as unknown as Shared.SharedArray<"Int32">
      const output = undefined as unknown as Shared.SharedArray<"Int32">
      expectTypeOf(Shared.map(pool, tasks.countWithinRange, { input, output, args: [4, 8] })).toEqualTypeOf<
        Effect.Effect<Array<number>, DispatchError | Cause.IllegalArgumentError>
      >()
      expectTypeOf(Shared.map(pool, tasks.rejectAt, { input, output, args: [1] })).toEqualTypeOf<
        Effect.Effect<Array<void>, RangeRejected | DispatchError | Cause.IllegalArgumentError>
      >()
      const floats = undefined as unknown as Shared.SharedArray<"Float64">
      expectTypeOf(Shared.map(pool, tasks.sumRange, { input: floats })).toEqualTypeOf<
        Effect.Effect<
          Array<{ start: number; end: number; sum: number; shared: boolean }>,
          DispatchError | Cause.IllegalArgumentError
        >
      >()
      // @ts-expect-error: the task reads Int32, not Float64
      Shared.map(pool, tasks.countWithinRange, { input: floats, output, args: [4, 8] })
      // @ts-expect-error: the task writes an output
      Shared.map(pool, tasks.countWithinRange, { input, args: [4, 8] })
      // @ts-expect-error: its extra arguments are two numbers
      Shared.map(pool, tasks.countWithinRange, { input, output, args: ["4", 8] })
      // @ts-expect-error: the task declares no output
      Shared.map(pool, tasks.sumRange, { input: floats, output: floats })
    })
  })
})
