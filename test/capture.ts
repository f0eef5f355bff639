/**
 * For tests that provoke output they expect (a worker process's crash report,
 * Node's "bad option", a logged error): capture it, so that a green run of
 * `npm test` prints no alarms, and let the test assert on it.
 */
import { Effect, Logger } from "effect"

/**
 * Runs `effect` while collecting what is written to this process's stderr
 * (where a process pool passes its workers' stderr through) instead of
 * printing it; returns its result and the text written.
 */
export const captureStderr = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<readonly [A, string], E, R> =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const original = process.stderr.write
      const chunks: Array<string> = []
      process.stderr.write = ((chunk: string | Uint8Array, ...rest: Array<unknown>) => {
        chunks.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"))
        const callback = rest.find((arg) => typeof arg === "function") as (() => void) | undefined
        callback?.()
        return true
      }) as typeof process.stderr.write
      return { original, chunks }
    }),
    ({ chunks }) => Effect.map(effect, (a) => [a, chunks.join("")] as const),
    ({ original }) => Effect.sync(() => void (process.stderr.write = original))
  )

/**
 * Runs `effect` with its log messages (and those of the fibers it starts)
 * collected instead of printed; returns its result and the messages, each
 * with its level.
 */
export const captureLogs = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<readonly [A, ReadonlyArray<{ readonly level: string; readonly message: string }>], E, R> =>
  Effect.suspend(() => {
    const logs: Array<{ readonly level: string; readonly message: string }> = []
    const collector = Logger.make((options) => {
      const parts = Array.isArray(options.message) ? options.message : [options.message]
      logs.push({ level: options.logLevel, message: parts.map(String).join(" ") })
    })
    return effect.pipe(
      Effect.provideService(Logger.CurrentLoggers, new Set([collector])),
      Effect.map((a) => [a, logs] as const)
    )
  })
