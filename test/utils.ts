import { Effect } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"

/** A fresh Int32Array over shared memory, for flags that tasks set in their worker. */
export const shared = (length = 4): Int32Array => new Int32Array(new SharedArrayBuffer(4 * length))

/** Waits (without sleeping or spinning) until `flags[index]` is non-zero. */
export const waitFor = (flags: Int32Array, index: number): Effect.Effect<void> =>
  Effect.promise(async () => {
    while (Atomics.load(flags, index) === 0) {
      const result = Atomics.waitAsync(flags, index, 0)
      if (result.async) await result.value
    }
  })

/** Sets `flags[index]` and wakes whoever waits on it. */
export const open = (flags: Int32Array, index: number): void => {
  Atomics.store(flags, index, 1)
  Atomics.notify(flags, index)
}

/** The pool's worker threads alive in this process, counted by the OS (Node names the thread after the worker). */
export const poolThreads = (): number =>
  fs.readdirSync("/proc/self/task").filter((task) => {
    try {
      return fs.readFileSync(`/proc/self/task/${task}/comm`, "utf8").startsWith("effect-multipro")
    } catch {
      return false // the thread exited while we looked
    }
  }).length

/** The live child processes of this process, by pid (from /proc: a zombie or a stranger's pid does not count). */
export const childProcesses = (): Array<number> =>
  fs.readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)).flatMap((pid) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      return fields[1] === String(process.pid) && fields[0] !== "Z" ? [Number(pid)] : []
    } catch {
      return [] // it exited while we looked
    }
  })

/** Whether a process is alive (and not a zombie). */
export const isAlive = (pid: number): boolean => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z"
  } catch {
    return false
  }
}

/**
 * Polls (every 10 ms, on real timers) until `condition` holds, failing after
 * `seconds`: for events no API reports, such as another process's exit.
 */
export const eventually = (condition: () => boolean, what: string, seconds = 20): Effect.Effect<void> =>
  Effect.promise(async () => {
    const deadline = Date.now() + seconds * 1000
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  })

/** Lets pending microtasks run (the pool dispatches submitted tasks in one): afterwards they are in their workers. */
export const dispatched: Effect.Effect<void> = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/** Runs `test/fixtures/<name>` as a program of its own (Node 24, as the tests) and returns what it printed. */
export const runFixture = (name: string, timeoutMs = 30_000): Effect.Effect<string, Error> =>
  Effect.callback<string, Error>((resume) => {
    const script = fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))
    execFile(process.execPath, [script], { timeout: timeoutMs }, (error, stdout, stderr) => {
      resume(error ? Effect.fail(new Error(`${error.message}\n${stderr}`)) : Effect.succeed(stdout))
    })
  })
