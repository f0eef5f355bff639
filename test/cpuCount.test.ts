import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFile, execFileSync } from "node:child_process"
import * as Os from "node:os"
import { fileURLToPath } from "node:url"
import { WorkerPool } from "../src/index.ts"

const root = fileURLToPath(new URL("..", import.meta.url))

/** `taskset`'s path, if this machine has one (util-linux). */
const taskset = (() => {
  try {
    return execFileSync("sh", ["-c", "command -v taskset"], { encoding: "utf8" }).trim() || undefined
  } catch {
    return undefined
  }
})()

/** The first CPU this process may run on (from `taskset -cp`: "pid N's current affinity list: 0,1" or "0-3"). */
const firstAllowedCpu = (): string => {
  const list = execFileSync(taskset!, ["-cp", String(process.pid)], { encoding: "utf8" }).split(":").pop()!.trim()
  return list.split(/[,-]/)[0]
}

/**
 * Runs a program pinned to one CPU with `taskset -c`, in Node 24 as the tests: it prints
 * `WorkerPool.cpuCount` and the size of a pool made with the default size.
 */
const pinnedToOneCpu = (): Effect.Effect<{ readonly cpuCount: number; readonly size: number }, Error> =>
  Effect.callback((resume) => {
    const program = `
      import { Effect } from "effect"
      import { WorkerPool } from "./src/index.ts"
      const program = Effect.gen(function*() {
        const cpuCount = yield* WorkerPool.cpuCount
        const pool = yield* WorkerPool.make()
        console.log(JSON.stringify({ cpuCount, size: pool.size }))
      }).pipe(Effect.scoped)
      Effect.runPromise(program)
    `
    execFile(
      taskset!,
      ["-c", firstAllowedCpu(), process.execPath, "--input-type=module", "-e", program],
      { cwd: root, timeout: 30_000 },
      (error, stdout, stderr) =>
        resume(error ? Effect.fail(new Error(`${error.message}\n${stderr}`)) : Effect.sync(() => JSON.parse(stdout)))
    )
  })

describe("WorkerPool.cpuCount", () => {
  it.effect("is os.availableParallelism(): the CPUs this process may run on", () =>
    Effect.gen(function*() {
      const cpus = yield* WorkerPool.cpuCount
      assert.strictEqual(cpus, Os.availableParallelism())
      assert.isTrue(Number.isInteger(cpus) && cpus >= 1)
    }))

  it.effect.skipIf(taskset === undefined)(
    "honours the CPU affinity: pinned to one CPU (taskset -c) it is 1, and so is a pool's default size",
    () =>
      Effect.gen(function*() {
        const pinned = yield* pinnedToOneCpu()
        assert.deepStrictEqual(pinned, { cpuCount: 1, size: 1 })
      })
  )
})
