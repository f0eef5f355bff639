/**
 * Real runner processes for the cluster tests, on loopback: started on free
 * ports (test/cluster/fixtures/runner.ts, with `test/` as their root), each
 * ready once its port accepts a connection, their output captured (printed
 * only if one fails to start), and stopped with SIGTERM when the scope
 * closes (SIGKILL if one has not exited 10 s later).
 */
import { Context, Effect, Layer, type Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as Net from "node:net"
import { fileURLToPath } from "node:url"

/** The test's root: the runners' root too, so `test/fixtures/tasks.ts` is `fixtures/tasks.ts` on both sides. */
export const root = new URL("../", import.meta.url)

const runnerMain = fileURLToPath(new URL("./fixtures/runner.ts", import.meta.url))
const cliMain = fileURLToPath(new URL("../../src/bin/effect-multiprocessing.ts", import.meta.url))

/** How a runner is started: the test fixture (`ClusterPool.runner` in a program), or the package's CLI. */
export type How = "program" | "cli"

const argvOf = (how: How, port: number, peers: ReadonlyArray<string>, backend: string, size: number) =>
  how === "program"
    ? [runnerMain, String(port), peers.join(","), backend, String(size)]
    : [
      cliMain,
      "runner",
      "--port",
      String(port),
      "--peers",
      peers.join(","),
      "--backend",
      backend,
      "--size",
      String(size),
      "--root",
      fileURLToPath(root)
    ]

/** Free loopback ports (each was free a moment ago: the OS hands out ephemeral ports in turn). */
export const freePorts = (count: number): Promise<Array<number>> =>
  Promise.all(Array.from({ length: count }, () =>
    new Promise<number>((resolve, reject) => {
      const server = Net.createServer()
      server.once("error", reject)
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as Net.AddressInfo
        server.close(() => resolve(port))
      })
    })))

const accepts = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = Net.connect({ host: "127.0.0.1", port })
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })

/** One runner process. */
export interface Runner {
  readonly port: number
  readonly address: string
  readonly process: ChildProcess
  /** What it wrote to stdout and stderr so far. */
  readonly output: () => string
}

/** The runners of one test cluster. */
export interface Runners {
  readonly peers: ReadonlyArray<string>
  readonly runners: ReadonlyArray<Runner>
}

/** The runners as a service, for a block of tests that shares them. */
export class ClusterRunners extends Context.Service<ClusterRunners, Runners>()("test/cluster/ClusterRunners") {}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once("exit", () => resolve())
  })

const stop = (runner: Runner) =>
  Effect.promise(async () => {
    if (runner.process.exitCode !== null || runner.process.signalCode !== null) return
    runner.process.kill("SIGTERM")
    const timer = setTimeout(() => runner.process.kill("SIGKILL"), 10_000)
    await exited(runner.process)
    clearTimeout(timer)
  })

/**
 * Starts `backends.length` runners (one per backend given, each with a local
 * pool of `size` workers) that know each other, and waits until all listen.
 */
export const start = (
  backends: ReadonlyArray<"threads" | "processes">,
  size = 2,
  how: How = "program"
): Effect.Effect<Runners, never, Scope.Scope> =>
  Effect.flatMap(Effect.promise(() => freePorts(backends.length)), (ports) => startOn(ports, backends, size, how))

/** `start` on the given ports, one runner per port. */
export const startOn = (
  ports: ReadonlyArray<number>,
  backends: ReadonlyArray<"threads" | "processes">,
  size = 2,
  how: How = "program"
): Effect.Effect<Runners, never, Scope.Scope> =>
  Effect.gen(function*() {
    const peers = ports.map((port) => `127.0.0.1:${port}`)
    const runners = yield* Effect.forEach(backends, (backend, i) =>
      Effect.acquireRelease(
        Effect.sync((): Runner => {
          const chunks: Array<string> = []
          const child = spawn(process.execPath, argvOf(how, ports[i], peers, backend, size), {
            stdio: ["ignore", "pipe", "pipe"]
          })
          child.stdout!.on("data", (chunk: Buffer) => chunks.push(chunk.toString("utf8")))
          child.stderr!.on("data", (chunk: Buffer) => chunks.push(chunk.toString("utf8")))
          return { port: ports[i], address: peers[i], process: child, output: () => chunks.join("") }
        }),
        stop
      ))
    yield* Effect.forEach(runners, (runner) =>
      Effect.promise(async () => {
        for (let attempt = 0; attempt < 3000; attempt++) {
          if (runner.process.exitCode !== null) break
          if (await accepts(runner.port)) return
          await new Promise((resolve) => setTimeout(resolve, 10))
        }
        throw new Error(`runner ${runner.address} did not start:\n${runner.output()}`)
      }), { concurrency: "unbounded" })
    return { peers, runners }
  })

/** Stops a runner with SIGTERM and waits until it has exited: its exit code, or the signal that ended it. */
export const terminate = (runner: Runner): Effect.Effect<number | string> =>
  Effect.promise(async () => {
    runner.process.kill("SIGTERM")
    await exited(runner.process)
    return runner.process.exitCode ?? runner.process.signalCode!
  })

/** `start` as a layer. */
export const layer = (backends: ReadonlyArray<"threads" | "processes">, size = 2): Layer.Layer<ClusterRunners> =>
  Layer.effect(ClusterRunners, start(backends, size))
