/**
 * Bundling an app that uses the pool with esbuild, by the recipe of docs/bundling.md
 * (test/fixtures/bundle-app/build.ts): the app (main.ts and its task module tasks.ts, importing the
 * package by name) is bundled into a temporary directory and run by Node as a child program, on both
 * backends, with real workers. The package is built first (tsc, as `npm run build`) into a temporary
 * copy that the app has in its node_modules, so the test needs no earlier build.
 *
 * What the recipe promises, checked here: the bundle is all the app needs (it runs with no node_modules
 * reachable), with one copy of effect and of the package, a task module keeps its own URL, and a bundle
 * without the worker entry fails to start with a `WorkerStartFailed` that names the missing file.
 * Also the `workerEntry` option itself: a bad value is an `IllegalArgumentError`, a missing file a
 * `WorkerStartFailed`.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Cause, Effect } from "effect"
import * as esbuild from "esbuild"
import { execFile } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { Backend, WorkerPool, WorkerStartFailed } from "../src/index.ts"
import { options as recipe } from "./fixtures/bundle-app/build.ts"
import { tasks } from "./fixtures/tasks.ts"
import { backends } from "./utils.ts"

const root = fileURLToPath(new URL("..", import.meta.url))
const fixture = fileURLToPath(new URL("./fixtures/bundle-app/", import.meta.url))

/**
 * The file of a bundle that holds the task module's code: `tasks.js`, or (as main.js imports it too) a
 * chunk that tasks.js re-exports. Its URL is the task module's, which workers import. Exactly one.
 */
const taskFile = (metafile: esbuild.Metafile): string => {
  const files = Object.entries(metafile.outputs).filter(([, output]) => Object.hasOwn(output.inputs, "src/tasks.ts"))
  assert.strictEqual(files.length, 1, "the task module is in one file of the bundle")
  return Path.basename(files[0][0])
}

/** What the fixture prints when every call went as it should, run from `dist` of a bundle. */
const expected = (dist: string, metafile: esbuild.Metafile) => ({
  squares: [1, 4, 9, 16],
  checked: 101,
  negative: -1,
  bytes: [7, 7, 7],
  taskUrl: pathToFileURL(Path.join(dist, taskFile(metafile))).href
})

interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `node file ...args` in `cwd`, capturing its output; bounded, so a hang fails the test. */
const node = (cwd: string, file: string, args: ReadonlyArray<string>): Promise<Ran> => {
  const env = { ...process.env }
  delete env.NODE_PATH
  delete env.NODE_OPTIONS
  return new Promise((resolve) =>
    execFile(process.execPath, [file, ...args], { cwd, env, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, stdout, stderr })
    )
  )
}

/** The JSON line a run of the app printed, or a failure that shows what it wrote. */
const result = (ran: Ran): unknown => {
  assert.strictEqual(ran.code, 0, `the app failed:\n${ran.stderr}`)
  return JSON.parse(ran.stdout)
}

let temp: string
/** The app: src/ (the fixture), node_modules/ (the package built, effect), and its bundles. */
let app: string

/** Bundles the app into `app/<outdir>` with the recipe, changed by `change`. */
const bundle = (outdir: string, change: Partial<esbuild.BuildOptions> = {}) =>
  esbuild.build({ ...recipe, absWorkingDir: app, outdir, metafile: true, logLevel: "silent", ...change })

/** The recipe's entry points less the worker entry. */
const { workerEntry: _, ...appEntryPoints } = recipe.entryPoints

beforeAll(async () => {
  temp = Fs.realpathSync(Fs.mkdtempSync(Path.join(Os.tmpdir(), "emp-bundling-")))
  // the package, as `npm run build` makes it, under its name
  const pkg = Path.join(temp, "pkg")
  const tsc = await node(root, Path.join(root, "node_modules/typescript/bin/tsc"), [
    "-p",
    "tsconfig.build.json",
    "--outDir",
    Path.join(pkg, "dist")
  ])
  assert.strictEqual(tsc.code, 0, `tsc failed:\n${tsc.stdout}${tsc.stderr}`)
  Fs.copyFileSync(Path.join(root, "package.json"), Path.join(pkg, "package.json"))
  Fs.symlinkSync(Path.join(root, "node_modules"), Path.join(pkg, "node_modules"))
  // the app: the fixture, importing the package by name
  app = Path.join(temp, "app")
  Fs.mkdirSync(Path.join(app, "src"), { recursive: true })
  Fs.mkdirSync(Path.join(app, "node_modules", "@effect"), { recursive: true })
  Fs.writeFileSync(Path.join(app, "package.json"), JSON.stringify({ type: "module", private: true }))
  for (const file of ["main.ts", "tasks.ts"]) {
    const source = Fs.readFileSync(Path.join(fixture, file), "utf8")
    const byName = source.replaceAll(`from "../../../src/index.ts"`, `from "effect-multiprocessing"`)
    assert.notStrictEqual(byName, source)
    Fs.writeFileSync(Path.join(app, "src", file), byName)
  }
  Fs.symlinkSync(pkg, Path.join(app, "node_modules", "effect-multiprocessing"))
  Fs.symlinkSync(Path.join(root, "node_modules/effect"), Path.join(app, "node_modules/effect"))
  Fs.symlinkSync(
    Path.join(root, "node_modules/@effect/platform-node"),
    Path.join(app, "node_modules/@effect/platform-node")
  )
}, 120_000)

afterAll(() => {
  if (temp !== undefined) Fs.rmSync(temp, { recursive: true, force: true })
})

describe("bundling with esbuild, by the recipe (docs/bundling.md)", () => {
  let built: esbuild.Metafile
  beforeAll(async () => {
    const output = await bundle("dist")
    assert.deepStrictEqual([...output.errors, ...output.warnings], [])
    built = output.metafile!
  }, 60_000)

  it("builds main.js, tasks.js and workerEntry.js, with each module of effect and of the package in one file", () => {
    const outputs = Object.keys(built.outputs)
    for (const entry of ["main", "tasks", "workerEntry"]) assert.include(outputs, `dist/${entry}.js`)
    // one copy of each module in all the bundle: the main thread and each worker load each once
    const copies = new Map<string, number>()
    for (const output of Object.values(built.outputs)) {
      for (const input of Object.keys(output.inputs)) copies.set(input, (copies.get(input) ?? 0) + 1)
    }
    const inputs = Object.keys(built.inputs)
    assert.isTrue(inputs.some((input) => input.endsWith("pkg/dist/Task.js")), "the package is bundled")
    assert.isTrue(inputs.some((input) => input.includes("node_modules/effect/dist/")), "effect is bundled")
    assert.deepStrictEqual(inputs.filter((input) => (copies.get(input) ?? 0) > 1), [])
    assert.isTrue(copies.get(inputs.find((input) => input.endsWith("pkg/dist/Task.js"))!) === 1)
    // the task module's code is in a file of its own, not in main.js (its URL would be the program's)
    assert.notStrictEqual(taskFile(built), "main.js")
  })

  for (const backend of backends) {
    it(`${backend}: the bundled app runs: map, a declared error, a setup layer, a transfer`, async () => {
      const ran = await node(app, "dist/main.js", [backend])
      assert.deepStrictEqual(result(ran), expected(Path.join(app, "dist"), built))
    })

    it(`${backend}: the bundle is all it needs: it runs with no node_modules reachable`, async () => {
      const moved = Fs.mkdtempSync(Path.join(temp, "alone-"))
      Fs.cpSync(Path.join(app, "dist"), Path.join(moved, "dist"), { recursive: true })
      try {
        for (let dir = moved; dir !== Path.dirname(dir); dir = Path.dirname(dir)) {
          assert.isFalse(Fs.existsSync(Path.join(dir, "node_modules")), `${dir} has a node_modules`)
        }
        const ran = await node(moved, "dist/main.js", [backend])
        assert.deepStrictEqual(result(ran), expected(Path.join(moved, "dist"), built))
      } finally {
        Fs.rmSync(moved, { recursive: true, force: true })
      }
    })
  }
})

describe("bundling with esbuild: variants of the recipe, and what goes wrong without it", () => {
  for (const backend of backends) {
    it(`${backend}: without the worker entry, the start fails with WorkerStartFailed, naming the file`, async () => {
      const output = await bundle("dist-no-worker", { entryPoints: appEntryPoints })
      assert.deepStrictEqual(output.errors, [])
      const ran = await node(app, "dist-no-worker/main.js", [backend])
      assert.notStrictEqual(ran.code, 0)
      assert.strictEqual(ran.stdout, "")
      const missing = Path.join(app, "dist-no-worker", "workerEntry.js")
      assert.include(ran.stderr, "WorkerStartFailed")
      assert.include(ran.stderr, `the worker entry ${missing} does not exist`)
      assert.include(ran.stderr, "docs/bundling.md")
    })

    it(`${backend}: the workerEntry option names a worker entry kept elsewhere in the bundle`, async () => {
      const output = await bundle("dist-elsewhere", {
        entryPoints: { ...appEntryPoints, "workers/pool-worker": "effect-multiprocessing/worker" }
      })
      assert.deepStrictEqual(output.errors, [])
      const ran = await node(app, "dist-elsewhere/main.js", [backend, "./workers/pool-worker.js"])
      assert.deepStrictEqual(result(ran), expected(Path.join(app, "dist-elsewhere"), output.metafile!))
    })

    it(`${backend}: minified, with source maps`, async () => {
      const output = await bundle("dist-minified", { minify: true, sourcemap: true })
      assert.deepStrictEqual([...output.errors, ...output.warnings], [])
      const ran = await node(app, "dist-minified/main.js", [backend])
      assert.deepStrictEqual(result(ran), expected(Path.join(app, "dist-minified"), output.metafile!))
    })

    it(`${backend}: with the packages left external, only the task modules are entry points of their own`, async () => {
      const output = await bundle("dist-external", { entryPoints: appEntryPoints, packages: "external" })
      assert.deepStrictEqual(output.errors, [])
      assert.isFalse(Object.keys(output.metafile!.inputs).some((input) => input.includes("node_modules")))
      const ran = await node(app, "dist-external/main.js", [backend])
      assert.deepStrictEqual(result(ran), expected(Path.join(app, "dist-external"), output.metafile!))
    })
  }

  it("without splitting, the task module is copied into main.js, and the pool refuses its tasks", async () => {
    const output = await bundle("dist-no-splitting", { splitting: false })
    assert.deepStrictEqual(output.errors, [])
    const ran = await node(app, "dist-no-splitting/main.js", ["threads"])
    assert.notStrictEqual(ran.code, 0)
    assert.include(ran.stderr, "IllegalArgumentError")
    assert.include(ran.stderr, "is declared in the program's entry module")
  })
})

describe("the workerEntry option", () => {
  it.effect("a value that is not a file: URL or an absolute path is an IllegalArgumentError", () =>
    Effect.gen(function*() {
      const bad: ReadonlyArray<unknown> = [
        "worker.js",
        "./worker.js",
        "",
        "https://example.com/worker.js",
        new URL("https://example.com/worker.js"),
        42,
        { href: "file:///worker.js" }
      ]
      for (const workerEntry of bad) {
        const error = yield* Effect.flip(WorkerPool.make({ size: 1, workerEntry: workerEntry as string }))
        assert.isTrue(Cause.isIllegalArgumentError(error), `${String(workerEntry)}: ${String(error)}`)
        assert.include((error as Cause.IllegalArgumentError).message, "workerEntry must be a file: URL or an absolute path")
        // from the Backend layer too
        const fromLayer = yield* Effect.flip(
          WorkerPool.make({ size: 1 }).pipe(Effect.provide(Backend.threads({ workerEntry: workerEntry as string })))
        )
        assert.isTrue(Cause.isIllegalArgumentError(fromLayer))
      }
    }))

  for (const backend of backends) {
    it.effect(`${backend}: a worker entry that does not exist fails the start with WorkerStartFailed, naming it`, () =>
      Effect.gen(function*() {
        const missing = Path.join(Os.tmpdir(), "emp-no-such-dir", "worker.js")
        for (const workerEntry of [missing, pathToFileURL(missing), pathToFileURL(missing).href]) {
          const error = yield* Effect.flip(WorkerPool.make({ size: 2, backend, workerEntry }))
          assert.instanceOf(error, WorkerStartFailed)
          assert.include(error.message, `the worker entry ${missing} does not exist`)
        }
      }))

    it.effect(`${backend}: naming the package's own worker entry (src/worker.ts) runs tasks as usual`, () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({
          size: 2,
          backend,
          workerEntry: new URL("../src/worker.ts", import.meta.url)
        })
        assert.deepStrictEqual(yield* pool.map(tasks.square, [1, 2, 3]), [1, 4, 9])
      }))
  }
})
