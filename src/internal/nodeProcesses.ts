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
import * as ChildProcess from "node:child_process"
import { fileURLToPath } from "node:url"
import type * as Backend from "../Backend.ts"
import * as Boundary from "./boundary.ts"
import { defaultName, platformView, startableEntry, withEarlyStart, withoutEval, workerEnv } from "./nodeThreads.ts"
import type { ExitStatus, Spawn } from "./spawn.ts"

/** Workers as child processes; of `options.resourceLimits`, only `maxOldGenerationSizeMb` applies. */
export const processes = (options: Backend.Options): Spawn => ({
  maxInflight: 1,
  ...withEarlyStart((id) => {
    const entry = fileURLToPath(startableEntry(options.workerEntry))
    const execArgv = [
      // never the eval options of `node -e code`: the child would run the program's code again, not the worker
      ...withoutEval(options.execArgv ?? process.execArgv.filter((arg) => !arg.startsWith("--inspect"))),
      `--title=${options.name ?? defaultName} worker ${id}`
    ]
    const heap = options.resourceLimits?.maxOldGenerationSizeMb
    if (heap !== undefined) execArgv.push(`--max-old-space-size=${heap}`)
    const child = ChildProcess.fork(entry, [...(options.argv ?? [])], {
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
    // the channel's end: every message the worker sent has been read (a child's exit can come first)
    const disconnected = new Promise<void>((resolve) => child.once("disconnect", () => resolve()))
    const exited = new Promise<ExitStatus>(
      (resolve) => {
        child.once("exit", (code, signal) => {
          // what it wrote last may still be on its way; a grandchild holding a pipe open must not hold us up
          const settle = () => resolve({ code, signal, detail: lastError(tail) })
          void Promise.all([within(drained, STDERR_GRACE_MS), within(disconnected, CHANNEL_GRACE_MS)]).then(settle)
        })
      }
    )
    const view = platformView(child, {
      send: (message) => child.send(message as any),
      kill: (signal) => child.kill(signal)
    })
    // what the worker sends before the pool listens (it may have been started early), in order
    let deliver: ((event: Early) => void) | undefined
    const early: Array<Early> = []
    const tell = (event: Early) => deliver === undefined ? early.push(event) : deliver(event)
    child.on("message", (message: unknown) => tell({ kind: "message", value: message }))
    catchInternal(child, (what) => tell({ kind: "faulty", value: what }))
    catchUnreadable(child, (error) => tell({ kind: "unreadable", value: error }))
    return {
      worker: view,
      raw: {
        post: (message) => {
          child.send([0, message])
        },
        listen: (listener) => {
          let count = 0
          let ready = false
          const onReady = () => {
            ready = true
            view.emit("message", [0])
          }
          deliver = (event) => {
            switch (event.kind) {
              case "message":
                count++
                return Boundary.receive(event.value, ready, onReady, listener)
              case "faulty":
                return listener.onFaulty(event.value as string)
              case "unreadable":
                return listener.onUnreadable(count++, event.value)
            }
          }
          for (const event of early.splice(0)) deliver(event)
        },
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
  })
})

/** Something a process worker sent, or its channel saw, kept until the pool listens. */
interface Early {
  readonly kind: "message" | "faulty" | "unreadable"
  readonly value: unknown
}

/**
 * Node's channel gives a message whose `cmd` starts with `NODE_` to its own
 * handle-passing code (as `internalMessage`), never to the pool's listener;
 * an acknowledgement of a handle nobody sent (`{ cmd: "NODE_HANDLE_ACK" }`)
 * fails an assertion there, an uncaught exception in this process. The pool
 * sends no handles, so any such message breaks the protocol: it is reported
 * to `onFaulty`, and Node's code sees a command it ignores instead
 * (a handle that came with it is closed).
 */
const catchInternal = (child: ChildProcess.ChildProcess, onFaulty: (what: string) => void): void => {
  const emit = child.emit as (this: unknown, event: string | symbol, ...args: Array<unknown>) => boolean
  child.emit = function(this: unknown, event: string | symbol, ...args: Array<any>) {
    if (event !== "internalMessage") return emit.call(this, event, ...args)
    onFaulty(`it sent ${Boundary.preview(args[0])}, a message of Node's own channel protocol`)
    try {
      args[1]?.close?.()
    } catch {
      // not ours to keep anyway
    }
    return emit.call(this, event, { cmd: "NODE_EFFECT_MULTIPROCESSING_IGNORED" }, undefined)
  } as typeof child.emit
}

/** How long to wait, after a worker exits, for the end of its IPC channel (its last messages). */
const CHANNEL_GRACE_MS = 2000

/** Resolves when `promise` does, or after `millis`, whichever comes first. */
const within = (promise: Promise<void>, millis: number): Promise<void> =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, millis)
    void promise.then(() => {
      clearTimeout(timer)
      resolve()
    })
  })

/**
 * Catches, at the IPC channel, a message this process cannot deserialize
 * (one nested deeper than this process's stack allows, from a worker started
 * with a larger `--stack-size`): Node's channel reader throws it from the
 * channel's read callback, an uncaught exception that would end this process.
 * `onUnreadable` is called instead, after the messages read before it have
 * been emitted (Node emits them on the next tick); the messages after it in
 * the same read are emitted with the next read (the pool's `RESEND` makes the
 * worker send one).
 *
 * Node keeps the channel's handle under an internal symbol, and the read
 * callback as its `onread`: without them (another Node), nothing is caught.
 */
const catchUnreadable = (child: ChildProcess.ChildProcess, onUnreadable: (error: unknown) => void): void => {
  const key = Object.getOwnPropertySymbols(child).find((symbol) => symbol.description === "kChannelHandle")
  const handle = key === undefined ? undefined : (child as any)[key] as { onread?: unknown } | undefined
  const onread = handle?.onread
  if (typeof onread !== "function") return
  const channel = handle as Record<PropertyKey, unknown>
  const buffered = Object.getOwnPropertySymbols(channel).find((symbol) => symbol.description === "kMessageBufferSize")
  channel.onread = function(this: unknown, ...args: Array<unknown>) {
    try {
      return onread.apply(this, args)
    } catch (error) {
      // the reader stopped before it noted whether part of a message is still to come, which its end waits on
      if (buffered !== undefined) channel.buffering = (channel[buffered] as number) > 0
      process.nextTick(onUnreadable, error)
    }
  }
}

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
