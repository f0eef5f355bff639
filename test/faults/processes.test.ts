/**
 * Fault injection with child-process workers (`backend: "processes"`), for
 * what only processes have: a worker is a process of its own; a hard kill
 * fails exactly the running task with the signal; a worker whose parent dies
 * exits. (Everything else runs on both backends: the conformance suites are
 * parameterized over `backends`, see `test/utils.ts`.)
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { WorkerCrashed, WorkerPool } from "../../src/index.ts"
import { tasks } from "../fixtures/tasks.ts"
import { childProcesses, eventually, isAlive } from "../utils.ts"

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))

describe("process workers", () => {
  it.effect("each worker is a child process of its own", () =>
    Effect.gen(function*() {
      const pool = yield* WorkerPool.make({ size: 2, backend: "processes" })
      const pids = yield* pool.map(tasks.pid, [0, 1], { chunksize: 1 })
      assert.notInclude(pids, process.pid)
      assert.strictEqual(new Set(pids).size, 2)
      const children = childProcesses()
      assert.isTrue(pids.every((pid) => children.includes(pid)), "children of this process")
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
})
