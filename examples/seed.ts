/**
 * The seed, ported: "Parallel processing in Python" with `multiprocessing.Pool`,
 * rebuilt with effect-multiprocessing.
 *
 * Counts, for each of 20,000 rows of 5 random integers in [0, 10), how many
 * numbers lie within [4, 8]: first in a plain loop, then in the pool with every
 * method the tutorial uses. Every method must give the loop's results; the
 * program prints the first 10 and each method's wall time. That work is tiny
 * (5 comparisons a row), so the pool's overhead is what those times measure,
 * and the loop is as fast or faster, as the tutorial finds. Then the same map with a CPU-heavy
 * row (500,000 numbers, drawn in the worker), where the pool wins: its
 * speedup over the loop is about the number of CPUs.
 *
 * Run it with `npm start` (or `npx node examples/seed.ts`). The progress bars
 * of the heavy part use cli-progress (https://www.npmjs.com/package/cli-progress),
 * a devDependency of this repository that only this example uses: to run a copy
 * of it, `npm install cli-progress @types/cli-progress` yourself. They are drawn
 * on stderr, and only when it is a terminal: piped or in CI, the output is the
 * plain lines on stdout.
 *
 * | Python | here |
 * |---|---|
 * | `mp.cpu_count()` | `yield* WorkerPool.cpuCount` (the CPUs this process may use) |
 * | `pool = mp.Pool(mp.cpu_count())` | `const pool = yield* WorkerPool.make({ size: cpus })` |
 * | `[pool.apply(f, args=(row, 4, 8)) for row in data]` | `Effect.forEach(data, (row) => pool.apply(task, [row, 4, 8]))` |
 * | `pool.map(f, data)` | `pool.map(task, data)` |
 * | `pool.starmap(f, [(row, 4, 8) for row in data])` | `pool.starmap(task, tuples)` |
 * | `pool.apply_async(f, args, callback=collect)` | `pool.applyAsync(task, args, { callback })` |
 * | `pool.starmap_async(f, tuples).get()` | `(yield* pool.starmapAsync(task, tuples)).get()` |
 * | `pool.imap(f, data)` | `pool.imap(task, data)`: a `Stream` |
 * | `pool.close()` | closing the scope (`Effect.scoped`) |
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import CliProgress from "cli-progress"
import { Data, Duration, Effect, Stream } from "effect"
import { WorkerPool } from "../src/index.ts"
import { howManyWithinRange, howManyWithinRangeOfLongRow, LONG_ROW, mulberry32, tasks } from "./seed-tasks.ts"

// -- Prepare data ---------------------------------------------------------------

const random = mulberry32(100)
/** `np.random.randint(0, 10, size=[20000, 5]).tolist()` */
const data: ReadonlyArray<ReadonlyArray<number>> = Array.from(
  { length: 20_000 },
  () => Array.from({ length: 5 }, () => Math.floor(random() * 10))
)

/** How many CPU-heavy rows the last part maps: a few seconds of work for the loop. */
const HEAVY_ROWS = 400

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

/**
 * The wall time of `effect` in milliseconds, how many CPUs this process kept
 * busy meanwhile on average (its CPU time, every thread's, so the pool's
 * worker threads too, over the wall time), and its result.
 */
const measured = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const before = process.cpuUsage()
    const [duration, result] = yield* Effect.timed(effect)
    const cpu = process.cpuUsage(before)
    const ms = Duration.toMillis(duration)
    return { ms, busy: (cpu.user + cpu.system) / 1000 / ms, result }
  })

/**
 * A progress bar of `total` rows named `label`, on stderr, stopped (left drawn
 * complete) when the scope closes, also on an interruption. cli-progress
 * draws nothing when stderr is not a terminal.
 */
const progressBar = (label: string, total: number) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const bar = new CliProgress.SingleBar({
        format: `${label.padEnd(4)} |{bar}| {value}/{total} rows | {duration_formatted}`,
        hideCursor: true
      }, CliProgress.Presets.shades_classic)
      bar.start(total, 0)
      return bar
    }),
    (bar) => Effect.sync(() => bar.stop())
  )

// -- The program ---------------------------------------------------------------------

const program = Effect.gen(function*() {
  // Step 1: how many CPUs this process may use (Python's `mp.cpu_count()`,
  // but honouring the CPU affinity and a container's quota).
  const cpus = yield* WorkerPool.cpuCount
  console.log("Number of processors:", cpus)

  console.log("First 5 rows:", JSON.stringify(data.slice(0, 5)))

  // Solution without parallelization: a plain loop in this thread, calling the
  // task's function directly.
  const expected = yield* timed("sequential", Effect.sync(() => data.map((row) => howManyWithinRange(row, 4, 8))))
  console.log("First 10 results:", JSON.stringify(expected.slice(0, 10)))

  // Step 2: start the pool: one worker per CPU (the default size, spelled out).
  // It lives in the enclosing scope; `Effect.scoped` below terminates it.
  const pool = yield* WorkerPool.make({ size: cpus })
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
  console.log(
    [
      `Wall time of each method over the ${data.length.toLocaleString("en")} rows, and as a multiple of the loop's.`,
      "A row is 5 comparisons, far less than a message to a worker and back, so these times are the",
      "pool's overhead: a message per row (apply, applyAsync) costs the most; chunks of rows (map,",
      "starmap, imap with a chunksize) cost far less, but still about the loop's time or more. As the",
      "tutorial says, parallelism pays only when each task has real work to do.\n"
    ].join("\n")
  )
  const loopMs = timings[0][1]
  const width = Math.max(...timings.map(([method]) => method.length))
  console.log(`${"method".padEnd(width)}  ${"ms".padStart(8)}  ${"x loop".padStart(7)}`)
  for (const [method, ms] of timings) {
    console.log(`${method.padEnd(width)}  ${ms.toFixed(1).padStart(8)}  ${(ms / loopMs).toFixed(1).padStart(7)}`)
  }

  // The same map with real work per row: each row is LONG_ROW numbers, drawn
  // by the worker from the row's seed (only the seed crosses), a few ms of CPU.
  // imap yields the results in order as they arrive: the bar counts them.
  const seeds = Array.from({ length: HEAVY_ROWS }, (_, i) => 1000 + i)
  console.log(
    `\nThe same map with CPU-heavy rows: ${HEAVY_ROWS} rows of ${LONG_ROW.toLocaleString("en")} numbers each.`
  )
  const loop = yield* measured(Effect.scoped(Effect.gen(function*() {
    const bar = yield* progressBar("loop", seeds.length)
    // one row at a time, yielding between rows so that Ctrl-C can interrupt the loop
    return yield* Effect.forEach(seeds, (seed) =>
      Effect.sync(() => {
        const count = howManyWithinRangeOfLongRow(seed, LONG_ROW, 4, 8)
        bar.increment()
        return count
      }).pipe(Effect.tap(Effect.yieldNow)))
  })))
  const mappedHeavy = yield* measured(Effect.scoped(Effect.gen(function*() {
    const bar = yield* progressBar("pool", seeds.length)
    return yield* pool.imap(tasks.howManyWithinRangeOfLongRow, seeds).pipe(
      Stream.tap(() => Effect.sync(() => bar.increment())),
      Stream.runCollect
    )
  })))
  yield* check("heavy map", loop.result, mappedHeavy.result)
  const speedup = loop.ms / mappedHeavy.ms
  console.log(`loop: ${loop.ms.toFixed(0).padStart(6)} ms, ${loop.busy.toFixed(1)} CPU busy (this thread)`)
  console.log(
    `pool: ${mappedHeavy.ms.toFixed(0).padStart(6)} ms, ${mappedHeavy.busy.toFixed(1)} CPUs busy (${pool.size} workers)`
  )
  console.log(`The pool is ${speedup.toFixed(2)}x as fast as the loop on ${cpus} CPUs, with the same results.`)
  if (loop.busy < 0.9 || mappedHeavy.busy < 0.8 * pool.size) {
    console.log(
      "Other programs were using these CPUs meanwhile (fewer were busy here than the work could use),\n" +
        "so the speedup is lower than on an idle machine: run it again when the machine is quieter."
    )
  }
}).pipe(Effect.scoped)

// Runs the program; on a failure (such as a mismatch) it reports the error and
// exits with code 1.
NodeRuntime.runMain(program)
