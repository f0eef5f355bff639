/**
 * Fault injection with child-process workers (`backend: "processes"`): a hard
 * kill fails exactly the running task with the signal; a worker whose parent
 * dies exits; a forgotten pool lets its program exit; a cancelled task stuck
 * in a loop gets its process killed; terminate leaves no child process.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import * as TestClock from "effect/testing/TestClock"
import { spawn } from "node:child_process"
import { existsSync, mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { PoolTerminated, SerializationError, WorkerCrashed, WorkerPool } from "../../src/index.ts"
import { Odd, tasks } from "../fixtures/tasks.ts"
import { childProcesses, eventually, isAlive, runFixture } from "../utils.ts"

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))

describe("process workers", () => {
  it.effect("run tasks with advanced serialization, typed errors, map, imap and bad arguments", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 2, backend: "processes" })
      const pids = yield* pool.map(tasks.pid, [0, 1], { chunksize: 1 })
      assert.notInclude(pids, process.pid)
      assert.strictEqual(new Set(pids).size, 2)
      const value = [new Map([[1, new Set([2])]]), new Date(0), 10n, new Float64Array([1.5])]
      assert.deepStrictEqual(yield* pool.apply(tasks.identity, [value]), value)
      assert.instanceOf(yield* Effect.flip(pool.apply(tasks.half, [3])), Odd)
      assert.instanceOf(yield* Effect.flip(pool.apply(tasks.identity, [() => 1])), SerializationError)
      assert.deepStrictEqual(yield* pool.starmap(tasks.add, [[1, 2], [3, 4]]), [3, 7])
      assert.deepStrictEqual(yield* Stream.runCollect(pool.imap(tasks.square, [5, 6])), [25, 36])
    }))

  it.effect("23. a worker killed by SIGKILL fails its task with WorkerCrashed naming the signal; it is replaced", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1, backend: "processes" })
      const error = yield* Effect.flip(pool.apply(tasks.killSelf, []))
      assert.instanceOf(error, WorkerCrashed)
      assert.strictEqual(error.signal, "SIGKILL")
      assert.include(error.message, "killed by signal SIGKILL")
      assert.strictEqual(yield* pool.apply(tasks.square, [4]), 16)
    }))

  it.effect("26. a cancelled task stuck in a loop gets its process killed after the grace period", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 1, backend: "processes" })
      const firstPid = yield* pool.apply(tasks.pid, [])
      const marker = join(mkdtempSync(join(tmpdir(), "emp-")), "started")
      const caller = yield* Effect.forkChild(pool.apply(tasks.markThenSpin, [marker]))
      yield* eventually(() => existsSync(marker), "the task has started")
      yield* Fiber.interrupt(caller)
      const next = yield* Effect.forkChild(pool.apply(tasks.pid, []))
      yield* TestClock.adjust("250 millis")
      assert.notStrictEqual(yield* Fiber.join(next), firstPid)
      assert.isFalse(isAlive(firstPid), "the stuck process was killed")
    }))

  it.effect("18. terminate kills a process stuck in a loop and leaves no child process", () =>
    Effect.gen(function*() {
      const before = childProcesses()
      const pool = yield* WorkerPool.make({ size: 2, backend: "processes" })
      assert.strictEqual(childProcesses().length, before.length + 2)
      const marker = join(mkdtempSync(join(tmpdir(), "emp-")), "started")
      const stuck = yield* pool.applyAsync(tasks.markThenSpin, [marker])
      yield* eventually(() => existsSync(marker), "the task has started")
      yield* pool.terminate
      assert.instanceOf(yield* Effect.flip(stuck.get()), PoolTerminated)
      assert.deepStrictEqual(childProcesses(), before)
    }))

  it.effect("a worker whose parent is killed with SIGKILL exits: no orphans", () =>
    Effect.gen(function*() {
      const parent = spawn(process.execPath, [fixture("orphan-parent.ts")], { stdio: ["ignore", "pipe", "inherit"] })
      const pids = yield* Effect.callback<ReadonlyArray<number>, Error>((resume) => {
        parent.stdout.once("data", (line) => resume(Effect.succeed(JSON.parse(String(line)))))
        parent.once("exit", (code) => resume(Effect.fail(new Error(`the parent exited early with ${code}`))))
      })
      assert.strictEqual(pids.length, 2)
      assert.isTrue(pids.every(isAlive))
      parent.kill("SIGKILL")
      yield* eventually(() => !pids.some(isAlive), "the workers have exited")
    }))

  it.effect("21. a program that forgets to close its process pool still exits", () =>
    Effect.gen(function*() {
      const output = yield* runFixture("forgotten-process-pool.ts")
      assert.strictEqual(output.trim(), "result 64")
    }))
})
