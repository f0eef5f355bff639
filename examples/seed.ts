/**
 * The seed, ported: "Parallel processing in Python" with `multiprocessing.Pool`,
 * rebuilt with effect-multiprocessing.
 *
 * Counts, for each of 20,000 rows of 5 random integers in [0, 10), how many
 * numbers lie within [4, 8]: first in a plain loop, then in the pool with every
 * method the tutorial uses. Every method must give the loop's results; the
 * program prints the first 10 and each method's wall time.
 *
 * Run it with `npm start` (or `npx node examples/seed.ts`).
 *
 * | Python | here |
 * |---|---|
 * | `pool = mp.Pool(mp.cpu_count())` | `const pool = yield* WorkerPool.make()` |
 * | `[pool.apply(f, args=(row, 4, 8)) for row in data]` | `Effect.forEach(data, (row) => pool.apply(task, [row, 4, 8]))` |
 * | `pool.map(f, data)` | `pool.map(task, data)` |
 * | `pool.starmap(f, [(row, 4, 8) for row in data])` | `pool.starmap(task, tuples)` |
 * | `pool.apply_async(f, args, callback=collect)` | `pool.applyAsync(task, args, { callback })` |
 * | `pool.starmap_async(f, tuples).get()` | `(yield* pool.starmapAsync(task, tuples)).get()` |
 * | `pool.imap(f, data)` | `pool.imap(task, data)`: a `Stream` |
 * | `pool.close()` | closing the scope (`Effect.scoped`) |
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Data, Duration, Effect, Stream } from "effect"
import { WorkerPool } from "../src/index.ts"
import { howManyWithinRange, tasks } from "./seed-tasks.ts"

// -- Prepare data ---------------------------------------------------------------

/** mulberry32: a tiny seeded PRNG, so every run sees the same data. */
const mulberry32 = (seed: number) => (): number => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const random = mulberry32(100)
/** `np.random.randint(0, 10, size=[20000, 5]).tolist()` */
const data: ReadonlyArray<ReadonlyArray<number>> = Array.from(
  { length: 20_000 },
  () => Array.from({ length: 5 }, () => Math.floor(random() * 10))
)

// -- Helpers ---------------------------------------------------------------------

/** A method whose results differ from the sequential ones. */
class ResultMismatch extends Data.TaggedError("ResultMismatch")<{ readonly message: string }> {}

/** Fails with `ResultMismatch` unless `actual` equals `expected` element by element. */
const check = (method: string, expected: ReadonlyArray<number>, actual: ReadonlyArray<number>) =>
  Effect.suspend(() => {
    if (actual.length !== expected.length) {
      return Effect.fail(
        new ResultMismatch({ message: `${method}: ${actual.length} results, expected ${expected.length}` })
      )
    }
    const i = expected.findIndex((value, i) => actual[i] !== value)
    return i === -1 ? Effect.void : Effect.fail(
      new ResultMismatch({ message: `${method}: result ${i} is ${actual[i]}, expected ${expected[i]}` })
    )
  })

/** The wall time of each method, in the order they ran. */
const timings: Array<readonly [method: string, ms: number]> = []

/** Runs `effect`, records its wall time under `method`, and returns its result. */
const timed = <A, E, R>(method: string, effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.timed(effect), ([duration, result]) => {
    timings.push([method, Duration.toMillis(duration)])
    return result
  })

// -- The program ---------------------------------------------------------------------

const program = Effect.gen(function*() {
  console.log("First 5 rows:", JSON.stringify(data.slice(0, 5)))

  // Solution without parallelization: a plain loop in this thread, calling the
  // task's function directly.
  const expected = yield* timed("sequential", Effect.sync(() => data.map((row) => howManyWithinRange(row, 4, 8))))
  console.log("First 10 results:", JSON.stringify(expected.slice(0, 10)))

  // Step 1: start the pool: one worker per CPU (`os.availableParallelism()`).
  // It lives in the enclosing scope; `Effect.scoped` below terminates it.
  const pool = yield* WorkerPool.make()
  console.log(`Pool of ${pool.size} workers\n`)

  // Pool.apply, one call at a time, like the tutorial's list comprehension:
  // 20,000 round trips, each waiting for the previous one.
  const applied = yield* timed(
    "apply",
    Effect.forEach(data, (row) => pool.apply(tasks.howManyWithinRange, [row, 4, 8]))
  )
  yield* check("apply", expected, applied)

  // Pool.map: one argument per call, so the range is fixed inside the task.
  // The input is split in chunks of ceil(20000 / (4 * size)) rows.
  const mapped = yield* timed("map", pool.map(tasks.howManyWithinRangeRow, data))
  yield* check("map", expected, mapped)

  // Pool.starmap: each tuple is spread into the call.
  const tuples = data.map((row) => [row, 4, 8] as const)
  const starmapped = yield* timed("starmap", pool.starmap(tasks.howManyWithinRange, tuples))
  yield* check("starmap", expected, starmapped)

  // Pool.apply_async with a callback: submit everything at once; the callback
  // stores each result at its row's index as it arrives (in any order).
  const collected = new Array<number>(data.length)
  yield* timed(
    "applyAsync",
    Effect.gen(function*() {
      const pending = yield* Effect.forEach(data, (row, i) =>
        pool.applyAsync(tasks.howManyWithinRange, [row, 4, 8], {
          callback: (count) => {
            collected[i] = count
          }
        }))
      // Python calls pool.close(); pool.join() here. We keep the pool open for
      // the next methods, so we wait for each result instead (its callback has
      // run once `wait` returns).
      yield* Effect.forEach(pending, (result) => result.wait())
    })
  )
  yield* check("applyAsync", expected, collected)

  // Pool.starmap_async(...).get(): submit, do something else, then wait.
  const starmappedAsync = yield* timed(
    "starmapAsync",
    Effect.flatMap(pool.starmapAsync(tasks.howManyWithinRange, tuples), (result) => result.get())
  )
  yield* check("starmapAsync", expected, starmappedAsync)

  // Pool.imap: a lazy Stream of results, in input order. Python's imap sends one
  // row per message by default; a chunksize makes it far cheaper.
  const imapped = yield* timed(
    "imap",
    Stream.runCollect(pool.imap(tasks.howManyWithinRangeRow, data, { chunksize: 100 }))
  )
  yield* check("imap", expected, imapped)

  console.log("Every method matches the sequential results.\n")
  const width = Math.max(...timings.map(([method]) => method.length))
  console.log(`${"method".padEnd(width)}  ${"ms".padStart(8)}`)
  for (const [method, ms] of timings) {
    console.log(`${method.padEnd(width)}  ${ms.toFixed(1).padStart(8)}`)
  }
}).pipe(Effect.scoped)

// Runs the program; on a failure (such as a mismatch) it reports the error and
// exits with code 1.
NodeRuntime.runMain(program)
