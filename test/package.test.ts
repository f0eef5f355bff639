/**
 * The package as a user installs it. A copy of the repository as a fresh clone has it (its tracked and
 * unignored files: no dist/, no node_modules/) is packed with `npm pack`, which builds dist/ (`prepare`); the
 * tarball is installed into fresh `npm init -y` projects, changed only as docs/install.md says; and a consumer
 * of each kind (test/fixtures/consumers/) runs there on both backends: TypeScript (type-checked by tsc, then
 * run by Node from source and compiled), plain JavaScript (.mjs), CommonJS (.cjs, with a CJS task module) and
 * the Promise API. Last, the same copy as a git repository is installed by a `git+file://` URL.
 *
 * Offline: npm installs only the tarball (or the git dependency, whose build installs the repository's
 * devDependencies from the cache `npm ci` filled). The peer dependencies (effect, @effect/platform-node) and,
 * for tsc, @types/node are linked from the repository's node_modules, not installed: npm 11 resolves an
 * install's dependencies with the registry's full metadata, which `npm ci` does not cache.
 */
import { assert, beforeAll, afterAll, describe, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const fixtures = Path.join(root, "test/fixtures/consumers")

/** What every consumer prints: one result per backend. */
const result = { squares: [1, 4, 9], sum: 5, negative: "Negative -4", thrown: "boom" }
const expected = { threads: result, processes: result }

/** The child's environment: npm's variables from the run of this test dropped (they name this repository). */
const childEnv = (): NodeJS.ProcessEnv => {
  const keep = new Set(["npm_config_cache", "npm_config_userconfig", "npm_config_globalconfig"])
  const env: NodeJS.ProcessEnv = {}
  for (const [key, value] of Object.entries(process.env)) {
    if ((key.startsWith("npm_") && !keep.has(key)) || key === "INIT_CWD") continue
    env[key] = value
  }
  // npm's scripts, and the npm that builds a git dependency, run on this Node (24)
  env.PATH = `${Path.dirname(process.execPath)}${Path.delimiter}${process.env.PATH ?? ""}`
  return env
}

/** Runs a command with its output captured: resolves with stdout, rejects with both streams. */
const run = (command: string, args: ReadonlyArray<string>, cwd: string, timeout = 120_000) =>
  new Promise<string>((resolve, reject) =>
    execFile(command, args, { cwd, env: childEnv(), timeout, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) =>
      error
        ? reject(new Error(`${command} ${args.join(" ")} (in ${cwd}): ${error.message}\n${stdout}\n${stderr}`))
        : resolve(stdout))
  )

/** npm's CLI, run by this Node (the npm that runs this test, or the one next to this Node). */
const npmCli = (): string => {
  const execPath = process.env.npm_execpath
  if (execPath !== undefined && /npx-cli\.js$/.test(execPath)) return execPath.replace(/npx-cli\.js$/, "npm-cli.js")
  if (execPath !== undefined && /npm-cli\.js$/.test(execPath)) return execPath
  return Path.join(Path.dirname(process.execPath), "../lib/node_modules/npm/bin/npm-cli.js")
}
const npm = (args: ReadonlyArray<string>, cwd: string) =>
  run(process.execPath, [npmCli(), ...args, "--prefer-offline", "--no-audit", "--no-fund"], cwd)
const node = (args: ReadonlyArray<string>, cwd: string) => run(process.execPath, args, cwd, 60_000)
const tsc = (args: ReadonlyArray<string>, cwd: string) =>
  run(process.execPath, [Path.join(root, "node_modules/typescript/bin/tsc"), ...args], cwd, 60_000)

/** A fresh project: `npm init -y`, then `"type": "module"` if asked, then the fixture's files copied in. */
const project = async (dir: string, fixture: string, options: { readonly typeModule: boolean }) => {
  Fs.mkdirSync(dir, { recursive: true })
  await npm(["init", "-y"], dir)
  if (options.typeModule) await npm(["pkg", "set", "type=module"], dir)
  for (const file of Fs.readdirSync(Path.join(fixtures, fixture))) {
    Fs.copyFileSync(Path.join(fixtures, fixture, file), Path.join(dir, file))
  }
  return dir
}

/** Links the peers (and @types/node) from the repository's node_modules (see the file's comment). */
const linkPeers = (dir: string) => {
  for (const name of ["effect", "@effect/platform-node", "@types/node"]) {
    const link = Path.join(dir, "node_modules", name)
    Fs.mkdirSync(Path.dirname(link), { recursive: true })
    Fs.symlinkSync(Path.join(root, "node_modules", name), link, "dir")
  }
}

/** Installs `spec` (a tarball, a git URL) as a user would, then links the peers. */
const install = async (dir: string, spec: string) => {
  await npm(["install", "--legacy-peer-deps", spec], dir)
  linkPeers(dir)
  const installed = Path.join(dir, "node_modules/effect-multiprocessing")
  assert.isTrue(Fs.existsSync(Path.join(installed, "dist/index.js")), `${spec} was installed without dist/`)
}

const parse = (stdout: string): unknown => JSON.parse(stdout.trim().split("\n").at(-1)!)

describe("package", () => {
  let temp = ""
  /** The copy of the repository (a git repository, with one commit), and the tarball packed from it. */
  let clone = ""
  let tarball = ""
  /** A project left as `npm init -y` makes it ("type": "commonjs"), and one with "type": "module". */
  let plain = ""
  let esm = ""
  /** The project that installs the git URL: started beside the other cases (the dependency's build is slow). */
  let fromGit: Promise<string> | undefined

  beforeAll(async () => {
    temp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "effect-multiprocessing-package-"))
    clone = Path.join(temp, "clone")
    // what a fresh clone has: the tracked files and the new ones not ignored, as they are in the work tree
    const files = (await run("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], root))
      .split("\0")
      // regular files only: a deleted file is gone, a symlink (say, node_modules linked in) is left behind
      .filter((file) => file !== "" && Fs.lstatSync(Path.join(root, file), { throwIfNoEntry: false })?.isFile())
    for (const file of files) {
      Fs.mkdirSync(Path.dirname(Path.join(clone, file)), { recursive: true })
      Fs.copyFileSync(Path.join(root, file), Path.join(clone, file))
    }
    assert.isFalse(Fs.existsSync(Path.join(clone, "dist")))
    await run("git", ["init", "-q"], clone)
    await run("git", ["add", "-A"], clone)
    const identity = ["-c", "user.name=test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"]
    await run("git", [...identity, "commit", "-qm", "a fresh clone"], clone)
    // `npm pack` needs the devDependencies to build, as in a clone after `npm ci` (linked after the commit)
    Fs.symlinkSync(Path.join(root, "node_modules"), Path.join(clone, "node_modules"), "dir")
    const packed = await npm(["pack", "--json", "--pack-destination", temp], clone)
    const report = JSON.parse(packed.slice(packed.search(/^\[/m))) as Array<{ readonly filename: string }>
    tarball = Path.join(temp, report[0]!.filename)

    fromGit = (async () => {
      const dir = await project(Path.join(temp, "git"), "default", { typeModule: false })
      // npm leaves the clone it built the dependency in (with its devDependencies, ~60 MB) in its cache's
      // tmp folder, half removed: remove the ones this install left
      const cacheTmp = Path.join((await npm(["config", "get", "cache"], dir)).trim(), "_cacache/tmp")
      const gitClones = () => Fs.readdirSync(cacheTmp).filter((name) => name.startsWith("git-clone"))
      Fs.mkdirSync(cacheTmp, { recursive: true })
      const before = new Set(gitClones())
      try {
        await install(dir, `git+${pathToFileURL(clone).href}`)
      } finally {
        for (const name of gitClones()) {
          if (!before.has(name)) Fs.rmSync(Path.join(cacheTmp, name), { recursive: true, force: true })
        }
      }
      return dir
    })()
    fromGit.catch(() => {}) // awaited by its test
    plain = await project(Path.join(temp, "plain"), "default", { typeModule: false })
    esm = await project(Path.join(temp, "esm"), "module", { typeModule: true })
    await Promise.all([install(plain, tarball), install(esm, tarball)])
  }, 180_000)

  afterAll(async () => {
    await fromGit?.catch(() => {})
    if (temp !== "") Fs.rmSync(temp, { recursive: true, force: true })
  })

  it("ships dist/ (with declarations and maps), src/ (what the maps point at), the README and the LICENSE", () => {
    const installed = Path.join(plain, "node_modules/effect-multiprocessing")
    for (const file of ["dist/index.js", "dist/index.d.ts", "dist/index.d.ts.map", "dist/internal/workerEntry.js"]) {
      assert.isTrue(Fs.existsSync(Path.join(installed, file)), file)
    }
    assert.isTrue(Fs.existsSync(Path.join(installed, "src/index.ts")))
    assert.deepStrictEqual(Fs.readdirSync(installed).sort(), ["LICENSE", "README.md", "dist", "package.json", "src"])
  })

  it("a TypeScript consumer type-checks (tsc, nodenext), runs from source and runs compiled", async () => {
    const [, fromSource] = await Promise.all([tsc(["-p", "tsconfig.json"], esm), node(["main.ts"], esm)])
    assert.deepStrictEqual(parse(fromSource), expected)
    assert.deepStrictEqual(parse(await node(["build/main.js"], esm)), expected)
  }, 120_000)

  it("a plain JavaScript .mjs consumer runs, in a project as npm init made it", async () => {
    assert.deepStrictEqual(parse(await node(["main.mjs"], plain)), expected)
  }, 60_000)

  it("a CommonJS consumer requires the package, with a CommonJS task module", async () => {
    assert.deepStrictEqual(parse(await node(["main.cjs"], plain)), expected)
  }, 60_000)

  it("a Promise API consumer runs (effect-multiprocessing/promise)", async () => {
    const streamed = { ...result, streamed: [16, 25] }
    assert.deepStrictEqual(parse(await node(["promise.mjs"], plain)), { threads: streamed, processes: streamed })
  }, 60_000)

  it("installs from a git URL: the dependency is built by its prepare script", async () => {
    const dir = await fromGit!
    assert.deepStrictEqual(parse(await node(["main.mjs"], dir)), expected)
  }, 180_000)
})
