/**
 * The seed's `how_many_within_range` over rows in shared memory: Python's
 * `multiprocessing.shared_memory` + NumPy answer to the seed, with
 * effect-multiprocessing.
 *
 * The rows live in one `Int32Array` over a `SharedArrayBuffer` (`Shared.make`,
 * or `Shared.fromRows` from plain arrays); `Shared.map` runs the count over
 * ranges of rows on the pool's worker threads, each range reading its rows and
 * writing its counts in place: nothing is copied. The program checks the
 * results against the sequential loop over the same typed array, and prints
 * the wall time of both (the median of a few runs), for the seed's 20,000 × 5
 * rows and for 2,000,000 rows.
 *
 * Run it with `npx node examples/shared-memory.ts`. (With
 * `BACKEND=processes`, the workers are child processes, which share no memory:
 * each range is copied to its worker and its counts back, and the map is
 * slower than the loop.)
 *
 * | Python | here |
 * |---|---|
 * | `shm = SharedMemory(create=True, size=a.nbytes)`; `x = np.ndarray(a.shape, np.int32, shm.buf)`; `x[:] = a` | `Shared.fromRows(rows, "Int32")` |
 * | `np.ndarray((n,), np.int32, out_shm.buf)` | `Shared.make("Int32", n)` |
 * | `pool.map(count_range, [(shm.name, start, end) …])` | `Shared.map(pool, tasks.countWithinRange, { input, output, args: [4, 8] })` |
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Data, Effect } from "effect"
import { Shared, WorkerPool } from "../src/index.ts"
import { howManyWithinRange, mulberry32 } from "./seed-tasks.ts"
import { countWithinRange, tasks } from "./shared-memory-tasks.ts"

/** How many times each method runs (after one warm-up run): the median is printed. */
const RUNS = 5

/** A method whose results differ from the sequential ones. */
class ResultMismatch extends Data.TaggedError("ResultMismatch")<{ readonly message: string }> {}

/** The median wall time of `RUNS` runs of `run`, in milliseconds, after a warm-up run. */
const medianMs = <E, R>(run: Effect.Effect<unknown, E, R>) =>
  Effect.gen(function*() {
    yield* run
    const times: Array<number> = []
    for (let i = 0; i < RUNS; i++) {
      const start = performance.now()
      yield* run
      times.push(performance.now() - start)
    }
    return times.sort((a, b) => a - b)[Math.floor(RUNS / 2)]
  })

/** The loop and the shared map over `input`, checked against each other, and their times. */
const compare = (pool: WorkerPool.Pool, label: string, input: Shared.SharedArray<"Int32">) =>
  Effect.gen(function*() {
    const expected = new Int32Array(input.rows)
    const output = yield* Shared.make("Int32", input.rows)
    // the sequential loop over the same typed array, in this thread
    const loopMs = yield* medianMs(
      Effect.sync(() => countWithinRange(input.data, input.rows, input.columns, expected, 4, 8))
    )
    // the same count over ranges of rows, on the pool's workers
    const mapMs = yield* medianMs(Shared.map(pool, tasks.countWithinRange, { input, output, args: [4, 8] }))
    const i = expected.findIndex((count, i) => output.data[i] !== count)
    if (i !== -1) {
      return yield* new ResultMismatch({ message: `${label}: row ${i} counts ${output.data[i]}, expected ${expected[i]}` })
    }
    console.log(
      `${label.padEnd(24)} loop ${loopMs.toFixed(2).padStart(8)} ms   shared map ${mapMs.toFixed(2).padStart(8)} ms   ` +
        `(${(loopMs / mapMs).toFixed(2)}x the loop's speed)`
    )
    return output
  })

const program = Effect.gen(function*() {
  const backend = process.env.BACKEND === "processes" ? "processes" : "threads"
  const pool = yield* WorkerPool.make({ backend })
  console.log(`Pool of ${pool.size} workers (${backend})\n`)

  // The seed's 20,000 rows of 5 integers in [0, 10), as plain arrays, packed into shared memory: checked, and
  // about one pass over the data (what the loop costs here).
  const random = mulberry32(100)
  const rows = Array.from({ length: 20_000 }, () => Array.from({ length: 5 }, () => Math.floor(random() * 10)))
  const seedInput = yield* Shared.fromRows(rows, "Int32")
  const packMs = yield* medianMs(Shared.fromRows(rows, "Int32"))
  console.log(`Shared.fromRows packs the ${rows.length.toLocaleString("en")} rows in ${packMs.toFixed(2)} ms`)
  const counts = yield* compare(pool, "20,000 rows × 5", seedInput)
  // the seed's own function over the plain rows agrees
  const i = rows.findIndex((row, i) => howManyWithinRange(row, 4, 8) !== counts.data[i])
  if (i !== -1) return yield* new ResultMismatch({ message: `row ${i}: the seed's function disagrees` })
  console.log(`First 10 results: ${JSON.stringify(Array.from(counts.data.subarray(0, 10)))}`)

  // 2,000,000 rows, drawn straight into shared memory (the first 20,000 are the seed's)
  const largeRandom = mulberry32(100)
  const large = yield* Shared.make("Int32", 2_000_000, 5).pipe(
    Effect.flatMap((array) => Shared.fill(array, () => Math.floor(largeRandom() * 10)))
  )
  yield* compare(pool, "2,000,000 rows × 5", large)
  console.log(
    backend === "threads"
      ? "\nA row is 5 comparisons: on 20,000 rows the loop takes well under a millisecond, less than a message to a\n" +
        "worker and back, so the pool cannot beat it (it still beats Python's Pool.map on the same rows many times\n" +
        "over: see docs/benchmarks.md). On 2,000,000 rows each worker counts its ranges in place, with nothing\n" +
        "copied: on an idle machine the map runs close to the number of CPUs times the loop's speed."
      : "\nChild processes share no memory with this one: each range's rows were copied to its worker and its\n" +
        "counts back, which costs more than the 5 comparisons a row. Use threads (the default) for shared memory."
  )
}).pipe(Effect.scoped)

NodeRuntime.runMain(program)
