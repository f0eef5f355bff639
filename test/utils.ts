import { Effect, type Scope } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import * as Flags from "./fixtures/flags.ts"

/** The pool's two backends: every conformance suite runs over both. */
export const backends = ["threads", "processes"] as const
export type Backend = typeof backends[number]

/**
 * Fresh flags (see `test/fixtures/flags.ts`) that tasks running on `backend`
 * can set and wait on; a process backend's directory is removed with the scope.
 */
export const makeFlags = (backend: Backend, length = 4): Effect.Effect<Flags.Flags, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => Flags.make(backend, length)),
    (flags) => Effect.sync(() => flags._tag === "Files" && fs.rmSync(flags.dir, { recursive: true, force: true }))
  )

/**
 * Waits until flag `index` is set (or counter `index` reaches `atLeast`). With
 * process workers it then lets the event loop poll once more: a message the
 * worker sent before it set the flag (such as "I read your CANCEL") was in
 * this process's pipe by then, and has now been read.
 */
export const waitFor = (flags: Flags.Flags, index: number, atLeast = 1): Effect.Effect<void> =>
  Effect.promise(async () => {
    await Flags.waitUntil(flags, index, atLeast)
    if (flags._tag === "Files") await new Promise<void>((resolve) => setImmediate(resolve))
  })

/** Sets flag `index` and wakes whoever waits on it. */
export const open = (flags: Flags.Flags, index: number): void => Flags.set(flags, index)

/** The value of cell `index` (0 for a flag not set). */
export const load = (flags: Flags.Flags, index: number): number => Flags.load(flags, index)

/** The ids (in /proc/self/task) of the pool's worker threads alive in this process (Node names the thread after the worker). */
export const poolThreadIds = (): Array<number> =>
  fs.readdirSync("/proc/self/task").filter((task) => {
    try {
      return fs.readFileSync(`/proc/self/task/${task}/comm`, "utf8").startsWith("effect-multipro")
    } catch {
      return false // the thread exited while we looked
    }
  }).map(Number).sort((a, b) => a - b)

/** The pool's worker threads alive in this process, counted by the OS. */
export const poolThreads = (): number => poolThreadIds().length

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

/**
 * The pool workers alive now, as the OS sees them, by id in ascending order:
 * the pool's threads in this process, or the live child processes.
 */
export const liveWorkers = (backend: Backend): Array<number> =>
  backend === "threads" ? poolThreadIds() : childProcesses().sort((a, b) => a - b)

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
export const runFixture = (name: string, args: ReadonlyArray<string> = [], timeoutMs = 30_000): Effect.Effect<string, Error> =>
  Effect.callback<string, Error>((resume) => {
    const script = fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))
    execFile(process.execPath, [script, ...args], { timeout: timeoutMs }, (error, stdout, stderr) => {
      resume(error ? Effect.fail(new Error(`${error.message}\n${stderr}`)) : Effect.succeed(stdout))
    })
  })
