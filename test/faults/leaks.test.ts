/**
 * Fault injection, "no orphans, no leaks": pools created and closed in a loop
 * leave no thread or process listener behind, and a million tasks streamed
 * through `imap` keep the caller's heap bounded.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as V8 from "node:v8"
import * as Vm from "node:vm"
import { WorkerPool } from "../../src/index.ts"
import { tasks } from "../fixtures/tasks.ts"
import { childProcesses, poolThreads } from "../utils.ts"

V8.setFlagsFromString("--expose-gc")
/** A full garbage collection, so that heapUsed tells what is retained. */
const gc = Vm.runInNewContext("gc") as () => void

const listeners = () => process.eventNames().map((name) => `${String(name)}:${process.listenerCount(name)}`).join(",")

describe("no leaks", () => {
  it.effect("creating and closing 200 pools leaves no thread and no process listener behind", () =>
    Effect.gen(function*() {
      const threadsBefore = poolThreads()
      const listenersBefore = listeners()
      yield* Effect.forEach(
        Array.from({ length: 200 }, (_, i) => i),
        (i) =>
          Effect.scoped(Effect.gen(function*() {
            const pool = yield* WorkerPool.make({ size: 1 })
            assert.strictEqual(yield* pool.apply(tasks.square, [i]), i * i)
          })),
        { concurrency: 4 }
      )
      assert.strictEqual(poolThreads(), threadsBefore)
      assert.strictEqual(listeners(), listenersBefore)
    }), { timeout: 120_000 })

  it.effect("creating and closing 40 process pools leaves no child process behind", () =>
    Effect.gen(function*() {
      const before = childProcesses()
      yield* Effect.forEach(
        Array.from({ length: 40 }, (_, i) => i),
        (i) =>
          Effect.scoped(Effect.gen(function*() {
            const pool = yield* WorkerPool.make({ size: 1, backend: "processes" })
            assert.strictEqual(yield* pool.apply(tasks.square, [i]), i * i)
          })),
        { concurrency: 4 }
      )
      assert.deepStrictEqual(childProcesses(), before)
    }), { timeout: 120_000 })

  it.effect("1,000,000 tiny tasks through imap keep the caller's heap bounded", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 2 })
      const n = 1_000_000
      function* input() {
        for (let i = 0; i < n; i++) yield i
      }
      // what the caller's heap retains (after a full collection), not garbage waiting to be collected
      const retained = () => {
        gc()
        return process.memoryUsage().heapUsed
      }
      const base = retained()
      let peak = base
      let count = 0
      yield* Stream.runForEach(pool.imap(tasks.padded, input()), (s) =>
        Effect.sync(() => {
          if (s.length !== 200) throw new Error(`bad result ${s}`)
          if (++count % 100_000 === 0) peak = Math.max(peak, retained())
        }))
      assert.strictEqual(count, n)
      // keeping the results (over 200 MiB of strings) or the job records would blow far past this
      const grownMiB = (peak - base) / 2 ** 20
      assert.isBelow(grownMiB, 32, `the retained heap grew by ${grownMiB.toFixed(1)} MiB`)
    }), { timeout: 120_000 })
})
