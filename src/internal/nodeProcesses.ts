/**
 * Spawning pool workers as child processes (`child_process.fork`): separate
 * memory, so a worker's crash or leak cannot touch the caller.
 *
 * Messages use advanced serialization, so typed arrays, `Map`, `Set`, `Date`
 * and `BigInt` survive (a transfer list becomes a copy). A process shares no
 * memory with the pool, so it holds one job at a time, as in Python, and
 * reports the `CANCEL`s it reads by message.
 *
 * @internal
 */
import type * as Worker from "effect/workers/Worker"
import * as ChildProcess from "node:child_process"
import { fileURLToPath } from "node:url"
import type * as Backend from "../Backend.ts"
import { defaultName, entryUrl, workerEnv } from "./nodeThreads.ts"
import type { ExitStatus, Spawn } from "./supervisor.ts"

/** Workers as child processes; of `options.resourceLimits`, only `maxOldGenerationSizeMb` applies. */
export const processes = (options: Backend.Options): Spawn => ({
  maxInflight: 1,
  spawn: (id) => {
    const execArgv = [
      ...(options.execArgv ?? process.execArgv.filter((arg) => !arg.startsWith("--inspect"))),
      `--title=${options.name ?? defaultName} worker ${id}`
    ]
    const heap = options.resourceLimits?.maxOldGenerationSizeMb
    if (heap !== undefined) execArgv.push(`--max-old-space-size=${heap}`)
    const child = ChildProcess.fork(fileURLToPath(entryUrl), [...(options.argv ?? [])], {
      serialization: "advanced",
      execArgv,
      env: workerEnv(options.env ?? process.env),
      // stderr passes through this process, which keeps its end: why a worker died is often only written there
      stdio: ["inherit", "inherit", "pipe", "ipc"]
    })
    let tail = ""
    const stderr = child.stderr!
    stderr.on("data", (chunk: Buffer) => {
      process.stderr.write(chunk)
      tail = (tail + chunk.toString("utf8")).slice(-STDERR_TAIL)
    })
    stderr.on("error", () => {}) // a broken pipe must not take the pool down
    const drained = new Promise<void>((resolve) => stderr.once("close", () => resolve()))
    const exited = new Promise<ExitStatus>(
      (resolve) => {
        child.once("exit", (code, signal) => {
          // what it wrote last may still be on its way; a grandchild holding the pipe open must not hold us up
          const settle = () => resolve({ code, signal, detail: lastError(tail) })
          const timer = setTimeout(settle, STDERR_GRACE_MS)
          void drained.then(() => {
            clearTimeout(timer)
            settle()
          })
        })
      }
    )
    return {
      worker: child,
      raw: {
        post: (message) => {
          child.send([0, message])
        },
        listen: (onReplies) =>
          child.on("message", (message: Worker.PlatformMessage) => {
            if (message[0] === 1) onReplies(message[1] as ReadonlyArray<unknown>)
          }),
        progress: () => undefined,
        // a process's event loop cannot be seen from here: the liveness check pings with its jobs instead
        idleMillis: undefined,
        exited,
        kill: () => void child.kill("SIGKILL"),
        ref: (ref) => {
          const handle = stderr as unknown as { ref?: () => void; unref?: () => void }
          if (ref) {
            child.ref()
            child.channel?.ref()
            handle.ref?.()
          } else {
            child.unref()
            child.channel?.unref()
            handle.unref?.()
          }
        }
      }
    }
  }
})

/** How much of a worker's stderr is kept to explain its death. */
const STDERR_TAIL = 4096
/** How long to wait, after a worker exits, for the rest of its stderr. */
const STDERR_GRACE_MS = 200

/**
 * The line of a dead worker's stderr that says why it died: Node's report of
 * an uncaught error (`RangeError: boom`), a fatal V8 error, or a rejected
 * option (`node: bad option: --x`); else its last line.
 */
export const lastError = (output: string): string | undefined => {
  const lines = output.split("\n").map((line) => line.trim()).filter((line) =>
    line.length > 0 && !line.startsWith("at ") && !line.startsWith("Node.js v") && line !== "^"
  )
  const error = lines.findLast((line) => /^(\w*(Error|Exception)\b|FATAL ERROR|.*\bbad option\b)/.test(line))
  return error ?? lines.at(-1)
}
