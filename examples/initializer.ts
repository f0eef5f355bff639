/**
 * Loading something expensive once per worker: Python's `initializer` /
 * `initargs`, and `maxtasksperchild` (`maxTasksPerWorker` here).
 *
 * The initializer, `loadSieve`, builds a table of the primes below 10,000,000
 * (about 10 MB, tens of milliseconds) and keeps it in its module's state, in
 * the worker. The tasks of that module then use it: each counts the primes in
 * one slice of the range, and says which worker ran it.
 *
 * 1. A pool of 3 with an initializer: `make` returns once each worker has run
 *    it, exactly once; later tasks reuse the table. `broadcast` asks every
 *    worker what it holds.
 * 2. The same with `maxTasksPerWorker: 3`: a worker is replaced after 3 tasks,
 *    and every replacement runs the initializer again before its first task.
 *
 * Run it with `npx node examples/initializer.ts`.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect } from "effect"
import { WorkerPool } from "../src/index.ts"
import { tasks } from "./initializer-tasks.ts"

const LIMIT = 10_000_000
/** Ten slices of [0, LIMIT): one task each. */
const slices = Array.from({ length: 10 }, (_, i) => [i * LIMIT / 10, (i + 1) * LIMIT / 10] as const)

/**
 * Prints which worker (named by its thread id) counted which slices, and
 * checks the total: there are 664,579 primes below 10^7.
 */
const report = (results: ReadonlyArray<{ range: readonly [number, number]; count: number; worker: number }>) => {
  const byWorker = new Map<number, Array<string>>()
  for (const { range, worker } of results) {
    const mine = byWorker.get(worker) ?? []
    mine.push(`${range[0] / 1e6}-${range[1] / 1e6}M`)
    byWorker.set(worker, mine)
  }
  for (const [worker, ranges] of [...byWorker].sort(([a], [b]) => a - b)) {
    const what = ranges.length === 1 ? "1 slice" : `${ranges.length} slices`
    console.log(`  worker ${worker} counted ${what}: ${ranges.join(", ")}`)
  }
  const total = results.reduce((sum, { count }) => sum + count, 0)
  console.log(`  primes below ${LIMIT.toLocaleString("en")}: ${total.toLocaleString("en")}`)
  return total === 664_579 ? Effect.void : Effect.die(`wrong total ${total}`)
}

const program = Effect.gen(function*() {
  // 1. An initializer, with its arguments. `loads` counts its runs across workers.
  console.log("1. A pool of 3 with an initializer")
  const loads = new Int32Array(new SharedArrayBuffer(4))
  yield* Effect.gen(function*() {
    const pool = yield* WorkerPool.make({ size: 3, initializer: tasks.loadSieve, initargs: [LIMIT, loads] })
    console.log(`  make returned: the initializer ran ${Atomics.load(loads, 0)} times, once per worker`)

    // chunksize 1: each slice is its own task, spread over the workers
    yield* report(yield* pool.map(tasks.countPrimes, slices, { chunksize: 1 }))
    console.log(`  the initializer ran ${Atomics.load(loads, 0)} times in all: the tasks reused each worker's table`)

    // broadcast: a task run once on every worker, results one per worker
    console.log("  broadcast(describe), one result per worker:")
    for (const worker of yield* pool.broadcast(tasks.describe, [])) console.log("   ", worker)
  }).pipe(Effect.scoped) // closing the scope terminates this pool

  // 2. Recycling: at most 3 tasks per worker (a map chunk counts as one task;
  //    the initializer and `broadcast` calls do not count). The replacement starts
  //    before the old worker leaves, so the pool stays at size and no queued
  //    task is lost.
  console.log("\n2. A pool of 2 with maxTasksPerWorker: 3")
  Atomics.store(loads, 0, 0)
  yield* Effect.gen(function*() {
    const pool = yield* WorkerPool.make({
      size: 2,
      initializer: tasks.loadSieve,
      initargs: [LIMIT, loads],
      maxTasksPerWorker: 3
    })
    const results = yield* pool.map(tasks.countPrimes, slices, { chunksize: 1 })
    yield* report(results)
    const workers = new Set(results.map(({ worker }) => worker)).size
    const most = Math.max(...results.map(({ taskOfWorker }) => taskOfWorker))
    console.log(`  ${workers} workers ran the 10 tasks, none more than ${most}`)
    // every worker that ran tasks loaded the table first; a replacement for the
    // last retired worker may already be loading it too
    console.log(`  the initializer ran ${Atomics.load(loads, 0)} times (at least ${workers})`)
  }).pipe(Effect.scoped)
})

NodeRuntime.runMain(program)
