/**
 * Test helpers for the Postgres cluster tests: a fresh database per test (so test files running in
 * parallel never share cluster tables), runner processes started and signalled by pid (the real node
 * process), and the side effects tasks leave.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import { Effect, Layer, Redacted, type Scope } from "effect"
import { SqlClient } from "effect/sql"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { inject } from "vitest"

/** The server's URL ("" when there is none: the tests skip, see postgres-setup.ts), and why not. */
export const postgresUrl = inject("postgresUrl")
export const skipReason = inject("postgresSkipReason")

let counter = 0

/** Runs one SQL statement on the server's maintenance database. */
const admin = (statement: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql.unsafe(statement)
  }).pipe(
    Effect.provide(PgClient.layer({ url: Redacted.make(postgresUrl), maxConnections: 1 }).pipe(Layer.fresh)),
    Effect.orDie
  )

/** A new, empty database on the test server, dropped (with its connections) when the scope closes. */
export const freshDatabase: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.gen(function*() {
    const name = `t_${process.pid}_${Date.now()}_${counter++}`
    yield* admin(`CREATE DATABASE ${name}`)
    const url = new URL(postgresUrl)
    url.pathname = `/${name}`
    return { name, url: url.toString() }
  }),
  ({ name }) => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
).pipe(Effect.map(({ url }) => url))

/** Runs `statement` on the database at `url`, answering its rows. */
export const query = <A extends object>(url: string, statement: string): Effect.Effect<ReadonlyArray<A>> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    return yield* sql.unsafe<A>(statement)
  }).pipe(
    Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 }).pipe(Layer.fresh)),
    Effect.orDie
  )

/** A free TCP port on loopback. */
export const freePort: Effect.Effect<number> = Effect.callback<number>((resume) => {
  const server = net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** A temporary directory, removed when the scope closes. */
export const tempDir: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "effect-mp-cluster-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

const runnerMain = fileURLToPath(new URL("../fixtures/cluster-pg-runner.ts", import.meta.url))
const cliMain = fileURLToPath(new URL("../../src/bin/effect-multiprocessing.ts", import.meta.url))
const testRoot = fileURLToPath(new URL("../", import.meta.url))

/** The runner's command line: the fixture program, or the package's CLI with `--postgres`. */
const argvOf = (how: "program" | "cli", port: number, url: string, size: number) =>
  how === "program"
    ? [runnerMain, String(port), url, String(size)]
    : [cliMain, "runner", "--port", String(port), "--postgres", url, "--size", String(size), "--root", testRoot]

/** A runner process: the real node process (no npx or shell in between), so a signal reaches it. */
export interface RunnerProcess {
  readonly pid: number
  readonly port: number
  readonly child: ChildProcess
  /** Resolves with the exit code and signal once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Everything it wrote so far. */
  readonly output: () => string
}

const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port })
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })

/**
 * Starts a runner of the Postgres cluster at `url` (test/fixtures/cluster-pg-runner.ts, or the CLI)
 * on a free port, with worker threads, and waits until it listens; killed (SIGKILL) when the scope
 * closes if still alive.
 */
export const startRunner = (
  url: string,
  options: {
    readonly size?: number
    readonly how?: "program" | "cli"
    readonly env?: Record<string, string>
  } = {}
): Effect.Effect<RunnerProcess, Error, Scope.Scope> =>
  Effect.flatMap(freePort, (port) =>
    Effect.acquireRelease(
      Effect.tryPromise({
        try: async () => {
          const child = spawn(process.execPath, argvOf(options.how ?? "program", port, url, options.size ?? 4), {
            stdio: ["ignore", "pipe", "pipe"],
            env: { ...process.env, ...options.env }
          })
          const chunks: Array<string> = []
          child.stdout!.on("data", (chunk: Buffer) => chunks.push(chunk.toString("utf8")))
          child.stderr!.on("data", (chunk: Buffer) => chunks.push(chunk.toString("utf8")))
          const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
            child.once("exit", (code, signal) => resolve({ code, signal }))
          )
          const runner: RunnerProcess = { pid: child.pid!, port, child, exited, output: () => chunks.join("") }
          for (let attempt = 0; attempt < 3000; attempt++) {
            if (child.exitCode !== null) break
            if (await accepts(port)) return runner
            await new Promise((resolve) => setTimeout(resolve, 10))
          }
          child.kill("SIGKILL")
          throw new Error(`runner on ${port} did not start:\n${runner.output()}`)
        },
        catch: (error) => error as Error
      }),
      (runner) =>
        Effect.promise(async () => {
          if (runner.child.exitCode === null && runner.child.signalCode === null) runner.child.kill("SIGKILL")
          await runner.exited
        })
    ))

/** One line a task left (test/fixtures/cluster-pg-tasks.ts). */
export interface Run {
  readonly event: "start" | "end"
  readonly id: number
  readonly pid: number
}

/** The side effects tasks left in `dir`, from every `runs-*.log`. */
export const readRuns = (dir: string): Array<Run> =>
  fs.readdirSync(dir).filter((file) => file.startsWith("runs-")).flatMap((file) =>
    fs.readFileSync(path.join(dir, file), "utf8").split("\n").filter((line) => line.length > 0).map((line) => {
      const [event, id, pid] = line.split(" ")
      return { event: event as Run["event"], id: Number(id), pid: Number(pid) }
    })
  )

/** Per task id: the pids it started on, and the pids it finished on. */
export const tally = (dir: string): Map<number, { starts: Array<number>; ends: Array<number> }> => {
  const byId = new Map<number, { starts: Array<number>; ends: Array<number> }>()
  for (const run of readRuns(dir)) {
    const entry = byId.get(run.id) ?? { starts: [], ends: [] }
    ;(run.event === "start" ? entry.starts : entry.ends).push(run.pid)
    byId.set(run.id, entry)
  }
  return byId
}
