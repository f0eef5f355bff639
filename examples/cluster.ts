/**
 * The seed's workload on a cluster: 3 runner processes on this machine
 * (loopback), each started with the package's CLI and hosting its own local
 * pool, and this program as the client, using the very `WorkerPool` calls of
 * `seed.ts`, provided by `ClusterPool.layer` instead of `WorkerPool.layer`.
 *
 * Run it with `npx node examples/cluster.ts`. On real machines, start each
 * runner where the code is deployed:
 *
 * ```sh
 * npx effect-multiprocessing runner --host 10.0.0.1 --port 4000 \
 *   --peers 10.0.0.1:4000,10.0.0.2:4000,10.0.0.3:4000 --root /srv/app/examples --size 8
 * ```
 *
 * and give the client the same peers and a root at the same place in its copy of the code.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Effect, Stream } from "effect"
import { spawn } from "node:child_process"
import * as Net from "node:net"
import { fileURLToPath } from "node:url"
import * as ClusterPool from "../src/ClusterPool.ts"
import { WorkerPool } from "../src/index.ts"
import { howManyWithinRange, mulberry32, tasks } from "./seed-tasks.ts"

/** The directory the task modules are found under, here and on every runner: this one. */
const root = new URL(".", import.meta.url)
const cli = fileURLToPath(new URL("../src/bin/effect-multiprocessing.ts", import.meta.url))
/** Three ports free on this machine (a deployment names fixed ones: `--port 4000`). */
const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })
const ports = await Promise.all([freePort(), freePort(), freePort()])
const peers = ports.map((port) => `127.0.0.1:${port}`)

const random = mulberry32(100)
const data = Array.from({ length: 20_000 }, () => Array.from({ length: 5 }, () => Math.floor(random() * 10)))
const expected = data.map((row) => howManyWithinRange(row, 4, 8))

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = Net.connect({ host: "127.0.0.1", port })
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })

/** One runner: `effect-multiprocessing runner`, stopped with SIGTERM (a graceful shutdown) when the scope closes. */
const runner = (port: number) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const child = spawn(process.execPath, [
        cli,
        "runner",
        "--port",
        String(port),
        "--peers",
        peers.join(","),
        "--size",
        "1",
        "--root",
        fileURLToPath(root)
      ], { stdio: ["ignore", "ignore", "inherit"] })
      while (!(await accepts(port))) {
        if (child.exitCode !== null) throw new Error(`the runner on port ${port} exited (code ${child.exitCode})`)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      return child
    }),
    (child) =>
      Effect.promise(() =>
        new Promise<void>((resolve) => {
          child.once("exit", () => resolve())
          child.kill("SIGTERM")
        })
      )
  )

/** Fails unless `actual` is the loop's result. */
const check = (method: string, actual: ReadonlyArray<number>) =>
  actual.length === expected.length && actual.every((n, i) => n === expected[i])
    ? Effect.void
    : Effect.die(new Error(`${method} gave different results`))

const timed = <A, E, R>(method: string, effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const started = performance.now()
    const result = yield* effect
    console.log(`${method.padEnd(14)} ${(performance.now() - started).toFixed(0).padStart(6)} ms`)
    return result
  })

/** The seed's methods, written against `WorkerPool` as for a local pool. */
const seed = Effect.gen(function*() {
  const pool = yield* WorkerPool.WorkerPool
  const tuples = data.map((row) => [row, 4, 8] as const)
  console.log(`Results of the first 10 rows: ${expected.slice(0, 10).join(", ")}\n`)
  yield* check("map", yield* timed("map", WorkerPool.map(tasks.howManyWithinRangeRow, data)))
  yield* check("starmap", yield* timed("starmap", WorkerPool.starmap(tasks.howManyWithinRange, tuples)))
  yield* check(
    "starmapAsync",
    yield* timed("starmapAsync", Effect.flatMap(pool.starmapAsync(tasks.howManyWithinRange, tuples), (r) => r.get()))
  )
  yield* check(
    "imap",
    yield* timed("imap", Stream.runCollect(WorkerPool.imap(tasks.howManyWithinRangeRow, data, { chunksize: 500 })))
  )
  yield* check(
    "apply (×1000)",
    yield* timed(
      "apply (×1000)",
      Effect.forEach(data.slice(0, 1000), (row) => WorkerPool.apply(tasks.howManyWithinRange, [row, 4, 8]), {
        concurrency: 64
      })
    ).pipe(Effect.map((results) => [...results, ...expected.slice(1000)]))
  )
  console.log("\nEvery method gave the loop's results.")
})

const program = Effect.gen(function*() {
  console.log(`Starting 3 runners on ${peers.join(", ")}…`)
  yield* Effect.forEach(ports, runner, { concurrency: "unbounded" })
  yield* seed.pipe(Effect.provide(ClusterPool.layer({ peers, root })))
}).pipe(Effect.scoped)

NodeRuntime.runMain(program)
