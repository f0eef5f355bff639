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
import { entryUrl, workerEnv } from "./nodeThreads.ts"
import type { Backend } from "./supervisor.ts"

/** Options passed on to every forked worker of a pool. */
export interface ProcessOptions {
  /** Node options of the workers; defaults to this process's, without `--inspect*`. */
  readonly execArgv?: ReadonlyArray<string> | undefined
  /** The workers' environment; defaults to this process's. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
  /** Heap limit of each worker (`--max-old-space-size`). */
  readonly maxOldGenerationSizeMb?: number | undefined
}

export const processes = (options: ProcessOptions): Backend => ({
  maxInflight: 1,
  spawn: (id) => {
    const execArgv = [...(options.execArgv ?? process.execArgv.filter((arg) => !arg.startsWith("--inspect")))]
    if (options.maxOldGenerationSizeMb !== undefined) {
      execArgv.push(`--max-old-space-size=${options.maxOldGenerationSizeMb}`)
    }
    const child = ChildProcess.fork(fileURLToPath(entryUrl), [`--effect-multiprocessing-worker=${id}`], {
      serialization: "advanced",
      execArgv,
      env: workerEnv(options.env ?? process.env),
      stdio: ["inherit", "inherit", "inherit", "ipc"]
    })
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal }))
    })
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
        exited,
        kill: () => void child.kill("SIGKILL"),
        ref: (ref) => {
          if (ref) {
            child.ref()
            child.channel?.ref()
          } else {
            child.unref()
            child.channel?.unref()
          }
        }
      }
    }
  }
})
