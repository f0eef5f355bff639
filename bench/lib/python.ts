/**
 * The Python side: `bench/python/pool_bench.py`, a long-lived `python3` child
 * that answers one JSON command per line, so that Python's runs interleave
 * with ours in the same benchmark run. Absent `python3`, `start` gives
 * `undefined` and the Python rows are skipped with a note.
 */
import * as ChildProcess from "node:child_process"
import * as Readline from "node:readline"
import * as Url from "node:url"

export interface Python {
  readonly version: string
  readonly request: (command: Record<string, unknown>) => Promise<Record<string, any>>
  readonly close: () => Promise<void>
}

const script = Url.fileURLToPath(new URL("../python/pool_bench.py", import.meta.url))

/** `python3 --version`, or `undefined` when there is no `python3`. */
export const probe = (): string | undefined => {
  const result = ChildProcess.spawnSync("python3", ["--version"], { encoding: "utf8" })
  if (result.error || result.status !== 0) return undefined
  return (result.stdout || result.stderr).trim().replace(/^Python\s+/, "")
}

export const start = async (size: number): Promise<Python | undefined> => {
  const version = probe()
  if (version === undefined) return undefined
  const { init, request, close } = await helper(script, size)
  return { version: `${version} (${init.start_method})`, request, close }
}

/**
 * Starts a Python helper (`script`: one JSON command per line in, one reply per line out, as pool_bench.py and
 * shared_bench.py speak) and sends it `init`; its reply comes back with the helper.
 */
export const helper = async (scriptPath: string, size: number) => {
  const child = ChildProcess.spawn("python3", [scriptPath], { stdio: ["pipe", "pipe", "inherit"] })
  const lines = Readline.createInterface({ input: child.stdout })
  const waiting: Array<(line: string) => void> = []
  lines.on("line", (line) => waiting.shift()?.(line))
  let chain: Promise<unknown> = Promise.resolve()
  const request = (command: Record<string, unknown>) => {
    const next = chain.then(() =>
      new Promise<Record<string, any>>((resolve, reject) => {
        waiting.push((line) => {
          const reply = JSON.parse(line)
          if (reply.ok) resolve(reply)
          else reject(new Error(`python ${String(command.op)}: ${reply.error}`))
        })
        child.stdin.write(JSON.stringify(command) + "\n")
      })
    )
    chain = next.catch(() => {})
    return next
  }
  const init = await request({ op: "init", size })
  return {
    init,
    request,
    close: async () => {
      await request({ op: "quit" }).catch(() => {})
      child.stdin.end()
      await new Promise((resolve) => child.exitCode !== null ? resolve(undefined) : child.once("exit", resolve))
    }
  }
}

/** The label of Python's rows: "Python 3.11.7 multiprocessing.Pool". */
export const label = (py: Python) => `Python ${py.version.split(" ")[0]} multiprocessing.Pool`
