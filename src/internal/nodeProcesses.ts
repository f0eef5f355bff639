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
import { defaultName, entryUrl } from "./nodeThreads.ts"
import type { Spawn } from "./supervisor.ts"

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
      env: options.env ?? process.env,
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
