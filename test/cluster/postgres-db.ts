/**
 * Test helpers for the Postgres cluster tests: a fresh database per test (so test files running in
 * parallel never share cluster tables), runner processes started and killed by pid, and the side
 * effects tasks leave.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import { Effect, Layer, Redacted, type Scope } from "effect"
import { SqlClient } from "effect/sql"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
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

/** A runner process: the real node process (no npx or shell in between), so `kill` reaches it. */
export interface RunnerProcess {
  readonly pid: number
  readonly port: number
  readonly child: ChildProcess
  /** Resolves with the exit code / signal when the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Everything it wrote to stderr so far. */
  readonly stderr: () => string
}

/**
 * Starts `node <script> ...args` and waits until it prints `READY`; killed (SIGKILL) when the scope
 * closes if still alive.
 */
export const startRunner = (script: string, args: ReadonlyArray<string>, port: number) =>
  Effect.acquireRelease(
    Effect.callback<RunnerProcess, Error>((resume) => {
      const child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "pipe", "pipe"] })
      let err = ""
      let out = ""
      child.stderr!.on("data", (chunk) => (err += chunk))
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once("exit", (code, signal) => resolve({ code, signal }))
      )
      const onData = (chunk: Buffer) => {
        out += chunk
        if (out.includes("READY")) {
          child.stdout!.off("data", onData)
          resume(Effect.succeed({ pid: child.pid!, port, child, exited, stderr: () => err }))
        }
      }
      child.stdout!.on("data", onData)
      exited.then(({ code, signal }) => resume(Effect.fail(new Error(`runner exited (${code ?? signal}): ${err}`))))
    }),
    (runner) =>
      Effect.promise(async () => {
        if (runner.child.exitCode === null && runner.child.signalCode === null) runner.child.kill("SIGKILL")
        await runner.exited
      })
  )

/** The side effects tasks left in `dir`: one line `<id> <pid>` per run, from every `runs-*.log`. */
export const readRuns = (dir: string): Array<{ id: number; pid: number }> =>
  fs.readdirSync(dir).filter((file) => file.startsWith("runs-")).flatMap((file) =>
    fs.readFileSync(path.join(dir, file), "utf8").split("\n").filter((line) => line.length > 0).map((line) => {
      const [id, pid] = line.split(" ")
      return { id: Number(id), pid: Number(pid) }
    })
  )
