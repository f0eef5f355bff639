/** The machine, the software and the commit measured: the head of the report. */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Url from "node:url"
import { SIZE } from "./config.ts"
import * as Python from "./python.ts"

const packageVersion = (name: string): string => {
  try {
    const file = Url.fileURLToPath(new URL(`../../node_modules/${name}/package.json`, import.meta.url))
    return JSON.parse(Fs.readFileSync(file, "utf8")).version
  } catch {
    return "?"
  }
}

/** The commit measured, and whether `src/` had uncommitted changes. */
const revision = (): string => {
  const git = (...args: Array<string>) =>
    ChildProcess.spawnSync("git", args, { encoding: "utf8", cwd: Url.fileURLToPath(new URL("../..", import.meta.url)) })
  const head = git("rev-parse", "--short", "HEAD")
  if (head.status !== 0) return "unknown (not a git checkout)"
  const dirty = git("status", "--porcelain", "--", "src").stdout.trim() !== ""
  return `${head.stdout.trim()}${dirty ? " with uncommitted changes in src/" : ""}`
}

export interface Machine {
  readonly revision: string
  readonly date: string
  readonly cpu: string
  readonly memory: string
  readonly os: string
  readonly node: string
  readonly python: string
  readonly packages: ReadonlyArray<string>
}

export const machine = (py: Python.Python | undefined): Machine => {
  const cpus = Os.cpus()
  return {
    revision: revision(),
    date: new Date().toISOString().slice(0, 10),
    cpu: `${cpus[0]?.model ?? "?"} (${cpus.length} logical CPUs, os.availableParallelism() = ${SIZE})`,
    memory: `${Math.round(Os.totalmem() / 1024 ** 3)} GiB`,
    os: `${Os.type()} ${Os.release()} (${Os.arch()})`,
    node: process.version,
    python: py ? `${py.version}` : Python.probe() ?? "not found (Python rows skipped)",
    packages: ["effect", "@effect/platform-node", "piscina", "poolifier", "tinypool", "workerpool"].map((p) =>
      `${p}@${packageVersion(p)}`
    )
  }
}
