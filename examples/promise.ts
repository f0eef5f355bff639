/**
 * The Promise API (`effect-multiprocessing/promise`): the same pool, for a
 * script that does not use Effect. Every call returns a Promise (the `imap`s
 * an AsyncIterable), a call takes an `AbortSignal`, and `await using`
 * terminates the pool when the script's scope ends, as Python's
 * `with Pool() as p:` does.
 *
 * Run it with `npx node examples/promise.ts`.
 */
import { Pool, TaskError } from "../src/Promise.ts" // in your project: "effect-multiprocessing/promise"
import { tasks } from "./promise-tasks.ts"

await using pool = await Pool.create({ size: 2 })
console.log(`a pool of ${pool.size} workers`)

// 1. map: the results in input order (Python's pool.map).
const limits = [50_000, 100_000, 150_000, 200_000]
console.log("primes below", limits, "=", await pool.map(tasks.countPrimes, limits))

// 2. for await over imap: each result as soon as it (and those before it) is ready. Leaving the loop early
//    cancels what is still in flight.
for await (const count of pool.imap(tasks.countPrimes, [1_000, 2_000, 3_000, 4_000, 5_000, 6_000])) {
  console.log("imap:", count)
  if (count > 400) {
    console.log("imap: enough, break (the rest is cancelled)")
    break
  }
}

// 3. Cancellation with an AbortSignal: the download would take 2 s; AbortSignal.timeout gives it 350 ms. The
//    task's own Task.signal() aborts in the worker, and the call rejects with the signal's reason.
try {
  await pool.apply(tasks.download, [20], { signal: AbortSignal.timeout(350) })
} catch (error) {
  console.log("download:", (error as Error).name) // TimeoutError, as fetch would say
}

// 4. Errors reject as themselves: a task that throws arrives as a TaskError with the remote error's name,
//    message and stack.
try {
  await pool.map(tasks.parseRecord, ['{"id": 1, "name": "a"}', "{oops"])
} catch (error) {
  if (error instanceof TaskError) console.log("parse failed:", error.remoteName, "-", error.remoteMessage)
  else throw error
}

// 5. Python's apply_async with a callback: submitted at once, read when you want it.
const result = await pool.applyAsync(tasks.countPrimes, [10_000], {
  callback: (count) => console.log("callback: primes below 10000 =", count)
})
await result.wait()
console.log("ready:", result.ready(), "successful:", result.successful(), "value:", await result.get())

console.log("stats:", pool.stats.succeeded, "tasks succeeded,", pool.stats.failed, "failed")
// the end of the module's scope: `await using` terminates the pool and waits until its workers have exited
