/**
 * A pool of child processes (Python's default kind of worker) instead of
 * worker threads. The program builds its pool as usual; the
 * `Backend.processes` layer provided at the end makes it fork processes (the
 * option `backend: "processes"` would do the same).
 *
 * 1. Each worker is a process of its own (`child_process.fork`): its own pid,
 *    and its own memory, so module state changed in one worker is seen neither
 *    by the others nor by the caller.
 * 2. Values are copied with Node's advanced serialization: `Map`, `Set`,
 *    `Date`, `BigInt` and typed arrays arrive as themselves, both ways.
 * 3. A task that calls `process.exit` fails only its own call, with
 *    `WorkerCrashed` naming the exit code; the task running next to it on the
 *    other worker finishes, the dead process is replaced, and the pool keeps
 *    serving.
 * 4. Recycling by memory: with `maxHeapPerWorkerMb`, a worker whose heap grew
 *    past the bound (a leak) is replaced after its task, before it can run
 *    out of memory.
 *
 * Run it with `npx node examples/processes.ts`.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect } from "effect"
import { Backend, WorkerPool } from "../src/index.ts"
import { counterHere, tasks } from "./processes-tasks.ts"

const program = Effect.gen(function*() {
  const pool = yield* WorkerPool.make({ size: 2 })

  // 1. Their own pids. `broadcast` runs a task once on every worker.
  console.log(`1. caller pid ${process.pid}`)
  const before = yield* pool.broadcast(tasks.whoAmI, [])
  for (const { parent, pid } of before) console.log(`  worker pid ${pid}, child of ${parent}`)
  // ...and their own memory: each process counts its own calls. Two broadcasts
  // leave every worker's counter at 2 (one shared counter would reach 4).
  yield* pool.broadcast(tasks.bump, [])
  for (const { counter, pid } of yield* pool.broadcast(tasks.bump, [])) {
    console.log(`  pid ${pid}: counter ${counter}`)
  }
  console.log(`  the caller's own copy of the counter: ${counterHere()}`)

  // 2. Rich values, both ways.
  console.log("\n2. Values across the process boundary")
  const back = yield* pool.apply(tasks.roundTrip, [{
    map: new Map([["answer", 42]]),
    set: new Set(["caller"]),
    date: new Date("2024-02-28T12:00:00Z"),
    big: 2n ** 64n,
    samples: new Float64Array([0.5, 1.5, 2.5])
  }])
  console.log("  the caller got back:")
  for (const [key, value] of Object.entries(back)) console.log(`    ${key}:`, value)
  const kept = back.map instanceof Map && back.set instanceof Set && back.date instanceof Date &&
    typeof back.big === "bigint" && back.samples instanceof Float64Array
  if (!kept) return yield* Effect.die("a value lost its type on the way")
  console.log("  each arrived as itself, both ways")

  // 3. A crash fails only its own call. Two calls at once, one per worker (a
  //    process worker runs one task at a time): one exits its process, the
  //    other takes 300 ms and still succeeds.
  console.log("\n3. A task calls process.exit(3)")
  const [crashed, square] = yield* Effect.all([
    pool.apply(tasks.exit, [3]).pipe(
      Effect.catchTag("WorkerCrashed", (error) => Effect.succeed(`WorkerCrashed, exitCode ${error.exitCode}`))
    ),
    pool.apply(tasks.slowSquare, [12, 300])
  ], { concurrency: "unbounded" })
  console.log(`  the exiting call fails: ${crashed}`)
  console.log(`  the other call succeeds: ${square}`)

  // The dead process was replaced, and the pool keeps serving.
  console.log("  afterwards, map:", yield* pool.map(tasks.slowSquare, [1, 2, 3, 4], { chunksize: 1 }))
  const oldPids = new Set(before.map(({ pid }) => pid))
  const after = (yield* pool.broadcast(tasks.whoAmI, [])).map(({ pid }) => pid)
  console.log(
    `  worker pids now: ${after.join(", ")} (new: ${after.filter((pid) => !oldPids.has(pid)).join(", ")})`
  )

  // 4. A leaking worker is replaced once its heap passes maxHeapPerWorkerMb (one process, to see it plainly).
  console.log("\n4. Recycling by memory: maxHeapPerWorkerMb: 128, each call leaks 48 MiB")
  const recycling = yield* WorkerPool.make({ size: 1, maxHeapPerWorkerMb: 128 })
  for (let call = 1; call <= 5; call++) {
    const { leakedMib, pid } = yield* recycling.apply(tasks.leak, [48])
    console.log(`  call ${call}: pid ${pid} now holds ${leakedMib} MiB`)
  }
  console.log("  a worker past 128 MiB was replaced by a fresh process before its next task")
}).pipe(Effect.scoped, Effect.provide(Backend.processes({ name: "processes-example" })))

NodeRuntime.runMain(program)
