/**
 * Spawning pool workers as Node worker threads (the default backend).
 *
 * @internal
 */
import { EventEmitter } from "node:events"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Url from "node:url"
import * as WorkerThreads from "node:worker_threads"
import type * as Backend from "../Backend.ts"
import * as Boundary from "./boundary.ts"
import * as Doorbell from "./doorbell.ts"
import { COMPILE_CACHE_MARKER } from "./protocol.ts"
import type { ExitStatus, Spawn } from "./spawn.ts"

/**
 * The worker entry next to this file, with this file's extension: `.ts` when
 * running from source, `.js` from `dist`. In a bundle this file's code is part
 * of a bundle file, so it names `workerEntry.js` (or `.mjs`) next to that one:
 * where the bundling recipe puts `effect-multiprocessing/worker` (docs/bundling.md).
 */
export const entryUrl = new URL(`./workerEntry${/\.(ts|mjs)$/.exec(import.meta.url)?.[0] ?? ".js"}`, import.meta.url)

/**
 * The worker entry a pool starts: `Backend.Options.workerEntry` (a URL once
 * the options are parsed), else `entryUrl`. Throws, before a worker is
 * started, if the file is not there: that worker's start fails with this
 * message, and the pool's with `WorkerStartFailed` (a missing entry never
 * starts, so it never hangs).
 */
export const startableEntry = (given: string | URL | undefined): URL => {
  const url = given === undefined ? entryUrl : new URL(given)
  if (!Fs.existsSync(url)) {
    throw new Error(
      `the worker entry ${Url.fileURLToPath(url)} does not exist` + (given !== undefined ? "" :
        `: a bundled program needs effect-multiprocessing/worker built as an entry point of its own, named ` +
          `workerEntry, next to the bundle, or the workerEntry option naming it (see ${bundlingDocs})`)
    )
  }
  return url
}

const bundlingDocs = "https://github.com/effect-multiprocessing/effect-multiprocessing/blob/main/docs/bundling.md"

/**
 * A worker's environment: `env`, plus what turns on Node's on-disk compile
 * cache (V8 code cache, and the output of type stripping for `.ts` files) from
 * the worker's first module on. Compiling the same modules again in every new
 * worker is much of its start-up; with the cache it reuses what an earlier
 * worker, of this process or another of this user, compiled.
 *
 * What is in the cache runs in the workers, so the directory must be one no
 * other user can write: `privateCompileCache()`, checked each time a worker
 * starts; without one, no cache. (Not Node's default,
 * `<os.tmpdir()>/node-compile-cache`: a shared, predictable name that another
 * user can create first and fill.) Node keys each entry by file and content
 * hash, writes it to a temporary file then renames it (safe with concurrent
 * workers), and treats a directory it cannot write as no cache. A user's own
 * `NODE_COMPILE_CACHE` or `NODE_DISABLE_COMPILE_CACHE` is left as it is. The
 * worker entry removes the variable the pool added (see
 * `Protocol.COMPILE_CACHE_MARKER`), so tasks and the processes they start see `env`.
 */
export const workerEnv = (env: Readonly<Record<string, string | undefined>>): Record<string, string> => {
  // a variable set to undefined is left out (a thread would see the string "undefined")
  const defined: Record<string, string> = {}
  for (const name in env) if (env[name] !== undefined) defined[name] = env[name]
  if (defined.NODE_COMPILE_CACHE !== undefined || defined.NODE_DISABLE_COMPILE_CACHE !== undefined) return defined
  const directory = privateCompileCache()
  if (directory === undefined) return defined
  return { ...defined, NODE_COMPILE_CACHE: directory, [COMPILE_CACHE_MARKER]: "1" }
}

/**
 * `<os.tmpdir()>/effect-multiprocessing-<uid>/compile-cache`, both created
 * with mode 0700 if missing, and used only if each is a directory (not a
 * symlink) owned by this user that neither group nor others may write, in a
 * temp directory owned by this user or root that others cannot rename entries
 * of (sticky, or not writable by others). `undefined` when any of that does
 * not hold, or without user ids (Windows): no cache then.
 */
export const privateCompileCache = (): string | undefined => {
  const uid = process.getuid?.()
  if (uid === undefined) return undefined
  const tmp = Os.tmpdir()
  // Node 24 loops forever creating a directory under /proc: no cache there
  if (tmp === "/proc" || tmp.startsWith("/proc/")) return undefined
  try {
    const parent = Fs.statSync(tmp)
    if ((parent.uid !== uid && parent.uid !== 0) || ((parent.mode & 0o002) !== 0 && (parent.mode & 0o1000) === 0)) {
      return undefined
    }
    const base = Path.join(tmp, `effect-multiprocessing-${uid}`)
    const cache = Path.join(base, "compile-cache")
    for (const directory of [base, cache]) {
      let stat = Fs.lstatSync(directory, { throwIfNoEntry: false })
      if (stat === undefined) {
        Fs.mkdirSync(directory, { mode: 0o700 })
        stat = Fs.lstatSync(directory)
      }
      if (!stat.isDirectory() || stat.uid !== uid || (stat.mode & 0o022) !== 0) return undefined
    }
    return cache
  } catch {
    return undefined // created meanwhile by someone else, or not ours to create: no cache
  }
}

/**
 * Node options that make Node run something other than the script it is
 * given (code from the command line or stdin, a REPL, a syntax check, the test
 * runner), and whether they take the next argument as their value (`-p`
 * only when it does not start with `-`, as Node reads it).
 */
const NOT_THE_SCRIPT: ReadonlyMap<string, "value" | "optional" | "none"> = new Map([
  ["-e", "value"],
  ["--eval", "value"],
  ["-pe", "value"],
  ["--input-type", "value"],
  ["-p", "optional"],
  ["--print", "optional"],
  ["-i", "none"],
  ["--interactive", "none"],
  ["-c", "none"],
  ["--check", "none"],
  ["--test", "none"]
])

/**
 * `execArgv` without the options (and their values) that would make a worker
 * run something else than the worker entry. Under `node -e code`,
 * `process.execArgv` is `["-e", "code"]`: a child forked with it runs `code`,
 * the user's program, again (Node's `fork` drops it only when given
 * `process.execArgv` itself, and never `--eval=code`), and `--input-type`
 * makes Node refuse a file entry, in a thread too.
 */
export const withoutEval = (execArgv: ReadonlyArray<string>): Array<string> => {
  const kept: Array<string> = []
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]
    const equals = arg.startsWith("--") ? arg.indexOf("=") : -1
    const kind = NOT_THE_SCRIPT.get(equals > 0 ? arg.slice(0, equals) : arg)
    if (kind === undefined) kept.push(arg)
    else if (equals < 0 && (kind === "value" || (kind === "optional" && !(execArgv[i + 1] ?? "-").startsWith("-")))) i++
  }
  return kept
}

/**
 * A thread's `execArgv`: the pool's, without eval options; else inherited
 * from this process (`undefined`), unless this process's has eval options,
 * then its own without them.
 */
const threadExecArgv = (given: ReadonlyArray<string> | undefined): Array<string> | undefined => {
  if (given !== undefined) return withoutEval(given)
  const own = withoutEval(process.execArgv)
  return own.length === process.execArgv.length ? undefined : own
}

/**
 * The options a thread refused, from its `ERR_WORKER_INVALID_EXEC_ARGV`
 * ("Initiated Worker with invalid execArgv flags: --stack-size=2000, --title").
 */
const refusedOptions = (error: unknown): ReadonlyArray<string> | undefined => {
  if ((error as { code?: unknown } | null)?.code !== "ERR_WORKER_INVALID_EXEC_ARGV") return undefined
  const message = String((error as Error).message)
  const list = message.slice(message.lastIndexOf(": ") + 2)
  return list.length === 0 ? undefined : list.split(", ")
}

/** What a thread worker receives as `workerData`. */
export interface ThreadData {
  /** The worker's `Protocol.Progress`: `[0]` jobs started, `[1]` `runningSlot` of the job holding the thread, `[2]` CANCELs read. */
  readonly progress: Int32Array
  /**
   * `[0]`: how many of the worker's messages the pool has read, counting from
   * its first, up to the first it could not read (see "Lost messages" in
   * protocol.ts): the worker keeps the batches from there on.
   */
  readonly received: Int32Array
  /**
   * The worker's doorbell (see doorbell.ts), rung after every message posted
   * to it; `undefined` with `Backend.Options.fastWakeup: false`.
   */
  readonly doorbell?: Doorbell.Doorbell | undefined
}

/**
 * What effect's worker platform (`NodeWorker.layerPlatform`) is given in place
 * of the real worker: an emitter that sees the worker's `exit` and `error`,
 * but of its messages only the ready signal, forwarded by the pool's own
 * listener once the boundary has checked it. Effect's listener reads
 * `message[0]` of whatever arrives, which throws in this process for a
 * `postMessage(null)`; and the pool reads replies itself (`RawWorker.listen`).
 *
 * Effect listens some time after the worker was started (much later for one
 * started early, see `Spawn.startEarly`): an event nobody listened to yet is
 * kept and told to the first listener of its kind, and the exit to every
 * listener added after it, so that effect never waits for a ready signal or an
 * exit that came before it listened.
 */
export const platformView = (
  worker: EventEmitter,
  methods: { readonly postMessage: (message: unknown, transfers?: any) => void; readonly terminate: () => unknown } | {
    readonly send: (message: unknown) => unknown
    readonly kill: (signal?: NodeJS.Signals) => unknown
  }
): EventEmitter => {
  const view = Object.assign(new EventEmitter(), methods)
  const kept: Array<{ readonly event: string | symbol; readonly value: unknown }> = []
  let exited: { readonly code: number | null } | undefined
  const emit = view.emit.bind(view)
  view.emit = (event: string | symbol, ...args: Array<unknown>): boolean => {
    if (event === "exit") exited = { code: args[0] as number | null }
    if (event === "newListener" || view.listenerCount(event) > 0) return emit(event, ...args)
    if (event !== "exit") kept.push({ event, value: args[0] })
    return false
  }
  view.on("newListener", (event: string | symbol, listener: (value: unknown) => void) => {
    for (let i = 0; i < kept.length; i++) {
      if (kept[i].event !== event) continue
      const { value } = kept[i]
      kept.splice(i--, 1)
      queueMicrotask(() => listener(value))
    }
    if (event === "exit" && exited !== undefined) {
      const { code } = exited
      queueMicrotask(() => listener(code))
    }
  })
  worker.on("exit", (code: number | null) => view.emit("exit", code))
  worker.on("error", (error: unknown) => view.emit("error", error))
  return view
}

/** The default `Backend.Options.name`. */
export const defaultName = "effect-multiprocessing"

/** Workers as threads of this process: the default, fastest backend. */
export const threads = (options: Backend.Options): Spawn => ({
  maxInflight: undefined,
  ...withEarlyStart(spawnThread(options))
})

/**
 * `spawn`, and `Spawn.startEarly` over it: the workers started early wait in
 * a map until the pool asks for their ids. `spawn`'s workers must keep what
 * they send until the pool listens (as the backends' do).
 */
export const withEarlyStart = (spawn: Spawn["spawn"]): Pick<Spawn, "spawn" | "startEarly"> => {
  const early = new Map<number, ReturnType<Spawn["spawn"]>>()
  return {
    spawn: (id) => {
      const started = early.get(id)
      if (started === undefined) return spawn(id)
      early.delete(id)
      return started
    },
    startEarly: (count) => {
      for (let id = 1; id <= count; id++) {
        try {
          early.set(id, spawn(id))
        } catch {
          // its start fails again, where the pool asks for it
        }
      }
      return () => {
        const exits = Array.from(early.values(), (started) => {
          started.raw.kill()
          return started.raw.exited
        })
        early.clear()
        return Promise.all(exits).then(() => undefined)
      }
    }
  }
}

const spawnThread = (options: Backend.Options): Spawn["spawn"] => (id) => {
  const progress = new Int32Array(new SharedArrayBuffer(12))
  const received = new Int32Array(new SharedArrayBuffer(4))
  const doorbell = options.fastWakeup === false ? undefined : Doorbell.make()
  const workerData: ThreadData = { progress, received, doorbell }
  const entry = startableEntry(options.workerEntry)
  const start = (execArgv: Array<string> | undefined) =>
    new WorkerThreads.Worker(entry, {
      name: `${options.name ?? defaultName} worker ${id}`,
      workerData,
      resourceLimits: options.resourceLimits,
      execArgv,
      argv: options.argv === undefined ? undefined : [...options.argv],
      env: workerEnv(options.env ?? process.env)
    })
  const execArgv = threadExecArgv(options.execArgv)
  let worker: WorkerThreads.Worker
  try {
    worker = start(execArgv)
  } catch (error) {
    // this process's own options, passed on without its eval options: those a thread refuses are the
    // process-wide ones (V8's, --title, --stack-size), which apply to the thread already
    const refused = options.execArgv === undefined && execArgv !== undefined ? refusedOptions(error) : undefined
    if (refused === undefined) throw error
    worker = start(execArgv!.filter((arg) => !refused.includes(arg)))
  }
  const exited = new Promise<ExitStatus>((resolve) => {
    worker.once("exit", (code) => resolve({ code, signal: null }))
  })
  // what the worker sends before the pool listens (it may have been started early), in order
  let deliver: ((event: "message" | "messageerror", value: unknown) => void) | undefined
  const early: Array<readonly ["message" | "messageerror", unknown]> = []
  worker.on("message", (message: unknown) => {
    if (deliver === undefined) early.push(["message", message])
    else deliver("message", message)
  })
  worker.on("messageerror", (error: unknown) => {
    if (deliver === undefined) early.push(["messageerror", error])
    else deliver("messageerror", error)
  })
  const view = platformView(worker, {
    // effect's close request: rung too, so that a worker waiting on its doorbell closes at once
    postMessage: (message, transfers) => {
      worker.postMessage(message, transfers)
      if (doorbell !== undefined) Doorbell.ring(doorbell)
    },
    terminate: () => worker.terminate()
  })
  return {
    worker: view,
    raw: {
      post: doorbell === undefined
        ? (message, transfers) => worker.postMessage([0, message], transfers as Array<WorkerThreads.Transferable>)
        : (message, transfers) => {
          worker.postMessage([0, message], transfers as Array<WorkerThreads.Transferable>)
          Doorbell.ring(doorbell)
        },
      listen: (listener) => {
        // every message counts (see ThreadData.received): those read, and those lost, until sent again
        let count = 0
        let ready = false
        const lost: Array<number> = []
        const acknowledge = () => Atomics.store(received, 0, lost.length === 0 ? count : lost[0])
        const onReady = () => {
          ready = true
          view.emit("message", [0])
        }
        const onMessage = (message: unknown) => {
          count++
          if (lost.length > 0 && Array.isArray(message) && Array.isArray(message[1])) {
            const seq = Boundary.resentSeq(message[1])
            if (seq !== undefined && lost.includes(seq)) lost.splice(lost.indexOf(seq), 1)
          }
          acknowledge()
          Boundary.receive(message, ready, onReady, listener)
        }
        // the message could not be deserialized here (e.g. nested deeper than this thread's stack allows)
        const onUnreadable = (error: unknown) => {
          const seq = count++
          lost.push(seq)
          acknowledge()
          listener.onUnreadable(seq, error)
        }
        deliver = (event, value) => event === "message" ? onMessage(value) : onUnreadable(value)
        for (const [event, value] of early.splice(0)) deliver(event, value)
      },
      progress: () => {
        const running = Atomics.load(progress, 1)
        return {
          started: Atomics.load(progress, 0),
          running: running === 0 ? undefined : running,
          cancelsRead: Atomics.load(progress, 2)
        }
      },
      exited,
      kill: () => void worker.terminate(),
      ref: (ref) => ref ? worker.ref() : worker.unref(),
      idleMillis: () => {
        try {
          return worker.performance.eventLoopUtilization().idle
        } catch {
          return 0 // it has exited: no evidence
        }
      }
    }
  }
}

/** Python's default pool size: one worker per available CPU. */
export const defaultSize = (): number => Os.availableParallelism()
