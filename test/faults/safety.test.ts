/**
 * Process and program safety (SEMANTICS.md 31–33): a pool never makes a
 * worker run the user's program again (`node -e`, tasks declared in the entry
 * module, a pool started while a worker loads a task module), a task module's
 * names are exactly its own, a value that is not a task or arguments of the
 * wrong shape fail that call with `IllegalArgumentError`, and the compile
 * cache is never a directory another local user can write.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Stream } from "effect"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { Task, TaskError, WorkerPool } from "../../src/index.ts"
import { tasks as nesting } from "../fixtures/nested-pool-tasks.ts"
import { tasks as proto } from "../fixtures/proto-tasks.ts"
import { tasks as plain } from "../fixtures/startup-plain-tasks.ts"
import { tasks } from "../fixtures/tasks.ts"
import { backends } from "../utils.ts"

const root = fileURLToPath(new URL("../../", import.meta.url))
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url))

/** A fresh directory, removed with the scope. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(Path.join(Os.tmpdir(), "safety-test-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** Runs Node 24 (this process's) with `args` in the project root; resolves with its exit code and output. */
const runNode = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.callback<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>((resume) => {
    const options = { cwd: root, env: { ...process.env, ...env }, timeout: 60_000 }
    execFile(process.execPath, args, options, (error, stdout, stderr) => {
      resume(Effect.succeed({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr }))
    })
  })

const runs = (file: string) => fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n") : []

/**
 * A program for `-e` / `-p`: records each run of itself in $SAFETY_RUNS ("rerun" in a worker, which then exits
 * at once: a regression cannot fork without bound), then maps over a pool and prints the result.
 */
const evalProgram = (backend: string) => `(async () => {
  const fs = await import("node:fs")
  const { isMainThread } = await import("node:worker_threads")
  const rerun = !isMainThread || process.send !== undefined
  fs.appendFileSync(process.env.SAFETY_RUNS, rerun ? "rerun\\n" : "main\\n")
  if (rerun) process.exit(3)
  const { Effect } = await import("effect")
  const { WorkerPool } = await import(${JSON.stringify(pathToFileURL(Path.join(root, "src/index.ts")).href)})
  const { tasks } = await import(${JSON.stringify(pathToFileURL(fixture("tasks.ts")).href)})
  const squares = await Effect.runPromise(Effect.scoped(Effect.flatMap(
    WorkerPool.make({ size: 2, backend: ${JSON.stringify(backend)} }),
    (pool) => pool.map(tasks.square, [1, 2, 3], { chunksize: 1 })
  )))
  console.log("squares " + JSON.stringify(squares))
})()`

const evalForms: ReadonlyArray<{
  readonly name: string
  readonly args: (program: string) => ReadonlyArray<string>
  readonly backends: ReadonlyArray<string>
}> = [
  { name: "-e", args: (program) => ["-e", program], backends: ["threads", "processes"] },
  { name: "--eval=", args: (program) => [`--eval=${program}`], backends: ["processes"] },
  { name: "-p", args: (program) => ["-p", program], backends: ["processes"] },
  {
    name: "--input-type=module -e",
    args: (program) => ["--input-type=module", "-e", program],
    backends: ["threads", "processes"]
  },
  {
    // a process-wide option (which a thread refuses in its execArgv) next to the eval options
    name: "--title=… --input-type=module -e",
    args: (program) => ["--title=safety-eval", "--input-type=module", "-e", program],
    backends: ["threads"]
  },
  {
    name: "--input-type module --eval",
    args: (program) => ["--input-type", "module", "--eval", program],
    backends: ["processes"]
  }
]

describe("31. a pool never makes a worker re-run the program", () => {
  for (const form of evalForms) {
    for (const backend of form.backends) {
      it.effect(`${backend}: a pool started from node ${form.name} starts; no worker re-runs the code`, () =>
        Effect.gen(function*() {
          const dir = yield* tempDir
          const file = Path.join(dir, "runs")
          const { code, stderr, stdout } = yield* runNode(form.args(evalProgram(backend)), { SAFETY_RUNS: file })
          assert.include(stdout, "squares [1,4,9]", stderr)
          assert.strictEqual(code, 0, stderr)
          assert.deepStrictEqual(runs(file), ["main"], "the program ran once, in no worker")
        }))
    }
  }

  for (const backend of backends) {
    it.effect(`${backend}: a task declared in the program's entry module is refused: move it to its own module`, () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const file = Path.join(dir, "runs")
        const { code, stderr, stdout } = yield* runNode([fixture("entry-tasks.ts"), backend, file], {})
        assert.strictEqual(code, 0, stderr)
        const result = JSON.parse(stdout)
        for (const call of ["apply", "map", "initializer"]) {
          assert.isString(result[call].illegal, `${call}: ${JSON.stringify(result[call])}`)
          assert.include(result[call].illegal, "entry module")
          assert.include(result[call].illegal, "move the tasks to their own module")
        }
        assert.include(result.apply.illegal, "square")
        assert.include(result.initializer.illegal, "init")
        assert.deepStrictEqual(result.other, { ok: 36 }, "a task of its own module runs")
        assert.deepStrictEqual(runs(file), ["main"], "no worker ran the program")
      }))

    it.effect(`${backend}: a pool started while a worker loads a task module is refused, unless nested: true`, () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend, env: { ...process.env, NEST_AT_LOAD: "1" } })
        const atLoad = yield* pool.apply(nesting.atLoad, [])
        assert.isDefined(atLoad)
        assert.include(atLoad!.refused, "while a worker was loading the task module")
        assert.include(atLoad!.refused, "nested-pool-tasks.ts")
        assert.include(atLoad!.refused, "nested: true")
        assert.strictEqual(atLoad!.allowed, 42, "with nested: true the pool starts and serves")
        assert.strictEqual(yield* pool.apply(nesting.poolAtRunTime, []), 3, "a task may start a pool as it runs")
      }))
  }
})

describe("a task module's names are exactly its own", () => {
  it("Task.module called twice for the same URL throws a TypeError naming the URL", () => {
    const url = "file:///virtual/declared-twice.ts"
    const declare = () => Task.module(url, { one: () => 1 })
    declare()
    assert.throws(declare, TypeError, `Task.module was called twice for ${url}`)
  })

  it("a __proto__ key is refused: in an object literal it sets the prototype, it declares no task", () => {
    const fn = () => 1
    assert.throws(
      () => Task.module("file:///virtual/proto-literal.ts", { __proto__: { fn } } as any),
      TypeError,
      "__proto__"
    )
    assert.throws(
      () => Task.module("file:///virtual/proto-computed.ts", { ["__proto__"]: fn } as any),
      TypeError,
      "__proto__"
    )
  })

  for (const backend of backends) {
    it.effect(`${backend}: tasks named constructor and toString run; Object.prototype's members are no tasks`, () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        assert.strictEqual(yield* pool.apply(proto.constructor, [41]), 42)
        assert.strictEqual(yield* pool.apply(proto.toString, []), "a task named toString")
        for (const name of ["hasOwnProperty", "valueOf", "__proto__", "__defineGetter__"]) {
          const forged = { ...proto.plain, name, id: `${proto.plain.url}#${name}` } as Task.Task<[], unknown>
          const error = yield* Effect.flip(pool.apply(forged, []))
          assert.instanceOf(error, TaskError, name)
          assert.include(error.message, `has no task named "${name}"`)
        }
        assert.strictEqual(yield* pool.apply(proto.plain, []), "plain", "the worker still serves")
      }))
  }
})

/** Values that are not task handles, and how the error names them. */
const notTasks: ReadonlyArray<readonly [value: unknown, named: string]> = [
  [(x: number) => x * x, "a function"],
  [function square(x: number) { return x * x }, `a function named "square"`],
  [{ id: "x#y", url: "x", name: "y" }, "an object"],
  [undefined, "undefined"],
  ["square", `"square"`]
]

const illegal = <A, E>(effect: Effect.Effect<A, E>, what = "the call") =>
  Effect.map(Effect.exit(effect), (exit) => {
    assert.isTrue(Exit.isFailure(exit), `${what} fails`)
    const error = Cause.squash((exit as Exit.Failure<A, E>).cause)
    assert.isTrue(Cause.isIllegalArgumentError(error), `an IllegalArgumentError, not ${String(error)}`)
    assert.isTrue(Cause.hasFails((exit as Exit.Failure<A, E>).cause), "a failure, not a defect")
    return (error as Cause.IllegalArgumentError).message
  })

for (const backend of backends) {
  describe(`33. caller mistakes fail that call with IllegalArgumentError (${backend})`, () => {
    it.effect("a value that is not a task, passed to any method, names what was passed", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        for (const [value, named] of notTasks) {
          const task = value as typeof tasks.square
          const calls: ReadonlyArray<readonly [string, Effect.Effect<unknown, unknown>]> = [
            ["apply", pool.apply(task, [1])],
            ["map", pool.map(task, [1])],
            ["starmap", pool.starmap(task, [[1]])],
            ["imap", Stream.runCollect(pool.imap(task, [1]))],
            ["imapUnordered", Stream.runCollect(pool.imapUnordered(task, [1]))],
            ["applyAsync", pool.applyAsync(task, [1])],
            ["mapAsync", pool.mapAsync(task, [1])],
            ["starmapAsync", pool.starmapAsync(task, [[1]])],
            ["broadcast", pool.broadcast(task, [1])]
          ]
          for (const [method, call] of calls) {
            const message = yield* illegal(call, `${method} with ${named}`)
            assert.include(message, method, `${method} with ${named}`)
            assert.include(message, `got ${named}`, `${method} with ${named}`)
          }
          if (value === undefined) continue // no initializer
          const message = yield* illegal(
            Effect.scoped(WorkerPool.make({ size: 1, backend, initializer: task })),
            `initializer ${named}`
          )
          assert.include(message, "initializer")
          assert.include(message, `got ${named}`)
        }
        assert.strictEqual(yield* pool.apply(tasks.square, [3]), 9, "the pool still serves")
      }))

    it.effect("arguments of the wrong shape from JavaScript: not an array, not iterable, not tuples", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const js = pool as any
        const calls: ReadonlyArray<readonly [string, Effect.Effect<unknown, unknown>, string]> = [
          ["apply", js.apply(tasks.square, 1), "args must be an array"],
          ["applyAsync", js.applyAsync(tasks.square, 1), "args must be an array"],
          ["broadcast", js.broadcast(tasks.square, "1"), "args must be an array"],
          ["map", js.map(tasks.square, 5), "items must be iterable"],
          ["map", js.map(tasks.square, undefined), "items must be iterable"],
          ["mapAsync", js.mapAsync(tasks.square, 5), "items must be iterable"],
          ["starmap", js.starmap(tasks.add, 5), "items must be iterable"],
          ["imap", Stream.runCollect(js.imap(tasks.square, 5)), "items must be an iterable or a Stream"],
          [
            "imapUnordered",
            Stream.runCollect(js.imapUnordered(tasks.square, {})),
            "items must be an iterable or a Stream"
          ],
          ["starmap", js.starmap(tasks.add, [[1, 2], 3]), "item 1 is not an array"],
          ["starmapAsync", js.starmapAsync(tasks.add, [1, 2]), "item 0 is not an array"]
        ]
        for (const [method, call, says] of calls) {
          const message = yield* illegal(call)
          assert.include(message, method)
          assert.include(message, says)
        }
        const message = yield* illegal(
          Effect.scoped(WorkerPool.make({ size: 1, backend, initializer: tasks.square, initargs: 3 as any }))
        )
        assert.include(message, "initargs must be an array")
        assert.deepStrictEqual(yield* pool.starmap(tasks.add, [[1, 2]]), [3], "the pool still serves")
      }))
  })
}

describe("32. the compile cache is never a directory another user can write", () => {
  /** Points os.tmpdir() at `dir` for the scope. */
  const withTmpdir = (dir: string) =>
    Effect.acquireRelease(
      Effect.sync(() => {
        const before = process.env.TMPDIR
        process.env.TMPDIR = dir
        return before
      }),
      (before) =>
        Effect.sync(() => {
          if (before === undefined) delete process.env.TMPDIR
          else process.env.TMPDIR = before
        })
    )
  const uid = process.getuid!()
  /** Another user that may own files here: `nobody`, when this process may chown (root). */
  const stranger = uid === 0 ? 65534 : undefined
  const forge = (dir: string) => {
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(Path.join(dir, "planted"), "forged cache entry")
    fs.chmodSync(dir, 0o777)
    if (stranger !== undefined) fs.chownSync(dir, stranger, stranger)
  }
  const cacheDirSeen = (backend: "threads" | "processes") =>
    Effect.scoped(Effect.flatMap(
      WorkerPool.make({ size: 1, backend }),
      (pool) => pool.apply(plain.environment, [])
    ))
  // a user's own NODE_COMPILE_CACHE or NODE_DISABLE_COMPILE_CACHE reaches the workers as it is: nothing to test then
  const userCache = process.env.NODE_COMPILE_CACHE !== undefined || process.env.NODE_DISABLE_COMPILE_CACHE !== undefined

  for (const backend of backends) {
    it.effect.skipIf(userCache)(`${backend}: a forged cache at the old shared default is not used; ours is private`, () =>
      Effect.gen(function*() {
        const tmp = yield* tempDir
        yield* withTmpdir(tmp)
        forge(Path.join(tmp, "node-compile-cache"))
        const seen = yield* cacheDirSeen(backend)
        const ours = Path.join(tmp, `effect-multiprocessing-${uid}`, "compile-cache")
        assert.isString(seen.compileCacheDir)
        assert.isTrue(seen.compileCacheDir!.startsWith(ours), `${seen.compileCacheDir} is under ${ours}`)
        for (const dir of [Path.dirname(ours), ours]) {
          const stat = fs.lstatSync(dir)
          assert.isTrue(stat.isDirectory() && !stat.isSymbolicLink())
          assert.strictEqual(stat.uid, uid)
          assert.strictEqual(stat.mode & 0o777, 0o700, dir)
        }
      }))

    it.effect.skipIf(userCache)(`${backend}: a planted directory at our location (another's, or writable by others, or a symlink) turns the cache off`, () =>
      Effect.gen(function*() {
        const tmp = yield* tempDir
        yield* withTmpdir(tmp)
        const ours = Path.join(tmp, `effect-multiprocessing-${uid}`)
        // another user's directory (as root: owned by nobody), or one that others may write
        forge(ours)
        const planted = yield* cacheDirSeen(backend)
        assert.strictEqual(planted.compileCacheDir, undefined, "no cache")
        assert.isFalse(fs.existsSync(Path.join(ours, "compile-cache")), "nothing written into it")
        // a symlink to a directory of ours
        fs.rmSync(ours, { recursive: true })
        const elsewhere = Path.join(tmp, "elsewhere")
        fs.mkdirSync(elsewhere, { mode: 0o700 })
        fs.symlinkSync(elsewhere, ours)
        const linked = yield* cacheDirSeen(backend)
        assert.strictEqual(linked.compileCacheDir, undefined, "no cache through a symlink")
        // a private subdirectory we own, but its cache directory planted by another
        fs.rmSync(ours)
        fs.mkdirSync(ours, { mode: 0o700 })
        forge(Path.join(ours, "compile-cache"))
        const inner = yield* cacheDirSeen(backend)
        assert.strictEqual(inner.compileCacheDir, undefined, "no cache in a planted cache directory")
        // a temp directory where others may rename our directory away (world-writable, not sticky): no cache
        fs.rmSync(ours, { recursive: true })
        fs.chmodSync(tmp, 0o777)
        const open = yield* cacheDirSeen(backend)
        assert.strictEqual(open.compileCacheDir, undefined, "no cache in a world-writable temp dir without the sticky bit")
        fs.chmodSync(tmp, 0o1777) // as /tmp is
        const sticky = yield* cacheDirSeen(backend)
        assert.isTrue(sticky.compileCacheDir?.startsWith(Path.join(ours, "compile-cache")), "ours, in a sticky temp dir")
      }))
  }
})
