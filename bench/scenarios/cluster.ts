/**
 * Scenario 9: a `ClusterPool` over runner processes on loopback against the
 * local pool, in the same run: the throughput of a `map` of tiny tasks
 * (tasks/s) and the latency of one call at a time (µs per call), with 2 and 3
 * runners (each a CLI runner, `effect-multiprocessing runner --size 1`).
 *
 *   npx node bench/scenarios/cluster.ts                  # this scenario alone (prints only)
 *   BENCH_QUICK=1 npx node bench/scenarios/cluster.ts    # a smoke run: does it run
 *
 * (In `npm run bench` once bench/run.ts lists it.)
 */
import { Effect, Exit, Scope } from "effect"
import { spawn } from "node:child_process"
import * as Net from "node:net"
import { fileURLToPath } from "node:url"
import * as ClusterPool from "../../src/ClusterPool.ts"
import { WorkerPool } from "../../src/index.ts"
import { log, QUICK, SIZE, thousands } from "../lib/config.ts"
import { type Entry, interleave } from "../lib/interleave.ts"
import { assert, perSecond, sumOfAdds } from "../lib/pools.ts"
import { med, type Series } from "../lib/report.ts"
import { emit } from "../lib/results.ts"
import type { Scenario } from "../lib/scenario.ts"
import { tasks } from "../tasks.ts"

const title = "a ClusterPool over runners on loopback vs the local pool"
const root = new URL("../", import.meta.url) // bench/: tasks.ts is `tasks.ts` on both sides
const cli = fileURLToPath(new URL("../../src/bin/effect-multiprocessing.ts", import.meta.url))

const items = QUICK ? 20_000 : 100_000
const sequential = QUICK ? 300 : 2_000

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = Net.connect({ host: "127.0.0.1", port })
    socket.once("connect", () => {
      socket.destroy()
      resolve(true)
    })
    socket.once("error", () => resolve(false))
  })

/** `count` CLI runners (one worker each) that know each other, stopped with SIGTERM when the scope closes. */
const runners = (count: number): Effect.Effect<ReadonlyArray<string>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const ports = yield* Effect.promise(() => Promise.all(Array.from({ length: count }, freePort)))
    const peers = ports.map((port) => `127.0.0.1:${port}`)
    for (const port of ports) {
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          const args = ["runner", "--port", String(port), "--peers", peers.join(","), "--size", "1"]
          const output: Array<string> = []
          const child = spawn(process.execPath, [cli, ...args, "--root", fileURLToPath(root)], { stdio: "pipe" })
          child.stdout.on("data", (chunk) => output.push(String(chunk)))
          child.stderr.on("data", (chunk) => output.push(String(chunk)))
          return { child, output }
        }),
        ({ child }) =>
          Effect.promise(() =>
            new Promise<void>((resolve) => {
              if (child.exitCode !== null) return resolve()
              child.once("exit", () => resolve())
              child.kill("SIGTERM")
            })
          )
      ).pipe(Effect.tap(({ output }) =>
        Effect.promise(async () => {
          for (let i = 0; i < 3000 && !(await accepts(port)); i++) await new Promise((r) => setTimeout(r, 10))
          if (!(await accepts(port))) throw new Error(`runner on ${port} did not start:\n${output.join("")}`)
        })
      ))
    }
    return peers
  })

/** A pool kept open across the scenario's runs, with promise-returning methods for the harness. */
const open = async (make: Effect.Effect<WorkerPool.Pool, unknown, Scope.Scope>) => {
  const scope = Effect.runSync(Scope.make())
  const pool = await Effect.runPromise(make.pipe(Scope.provide(scope)))
  const inputs = Array.from({ length: items }, (_, i) => [i, 1] as const)
  return {
    map: () => Effect.runPromise(pool.starmap(tasks.add, inputs)),
    oneAtATime: async (n: number) => {
      let sum = 0
      for (let i = 0; i < n; i++) sum += await Effect.runPromise(pool.apply(tasks.add, [i, 1]))
      return sum
    },
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

const run = async () => {
  log(`\nScenario 9: ${title}`)
  // the runners live in `outer`, closed (SIGTERM to each) however the scenario ends
  const outer = Effect.runSync(Scope.make())
  try {
    return await measure(outer)
  } finally {
    await Effect.runPromise(Scope.close(outer, Exit.void))
  }
}

const measure = async (outer: Scope.Closeable) => {
  const peersOf = (count: number) => Effect.runPromise(runners(count).pipe(Scope.provide(outer)))
  const two = await peersOf(2)
  const three = await peersOf(3)
  const pools = {
    local: await open(WorkerPool.make({ size: SIZE })),
    two: await open(ClusterPool.make({ peers: two, root })),
    three: await open(ClusterPool.make({ peers: three, root }))
  }
  const labels = {
    local: `local pool, ${SIZE} threads`,
    two: "ClusterPool, 2 runners × 1 thread",
    three: "ClusterPool, 3 runners × 1 thread"
  }
  const keys = ["local", "two", "three"] as const
  const throughput: Array<Entry> = keys.map((key) => ({
    key,
    label: `${labels[key]}: starmap of ${thousands(items)} adds`,
    run: () => pools[key].map(),
    check: (results: ReadonlyArray<number>) => assert(results.length === items && results[items - 1] === items, "results"),
    metric: perSecond(items)
  }))
  const latency: Array<Entry> = keys.map((key) => ({
    key,
    label: `${labels[key]}: apply, awaited each time`,
    run: () => pools[key].oneAtATime(sequential),
    check: (sum: number) => assert(sum === sumOfAdds(sequential), `sum ${sum}`),
    metric: (ms) => (ms * 1000) / sequential
  }))
  const tput = await interleave("scenario 9 (throughput)", throughput)
  const lat = await interleave("scenario 9 (latency)", latency)
  for (const pool of Object.values(pools)) await pool.close()
  const notes = [
    `Runners and client on one ${SIZE}-core machine over loopback TCP: the cluster's figures are its overhead ` +
    `(serialization, sockets, the engine's routing), not a speed-up; on separate machines each runner adds its cores.`
  ]
  emit({
    id: "s9-throughput",
    title: `Scenario 9: ${thousands(items)} tiny tasks in one starmap (default chunksize)`,
    unit: "tasks/s",
    better: "higher",
    reference: "local",
    rows: tput,
    notes
  })
  emit({
    id: "s9-latency",
    title: `Scenario 9: one tiny task at a time (${thousands(sequential)} per run)`,
    unit: "µs per call",
    better: "lower",
    reference: "local",
    rows: lat,
    notes
  })
  return { tput, lat }
}

export const cluster: Scenario = {
  number: 9,
  name: "cluster",
  title,
  tables: ["s9-throughput", "s9-latency"],
  method: () =>
    `A \`ClusterPool\` with 2 and with 3 runner processes (the CLI, one worker thread each) on loopback, this
process as the client, against the local pool of ${SIZE} threads, interleaved as the other scenarios are: the
throughput of one \`starmap\` of tiny tasks (chunks of the default size cross as one RPC each, a bounded number in
flight) and the round-trip latency of one \`apply\` at a time.`,
  run: async () => {
    await run()
  }
}

if (import.meta.main) {
  const print = (series: ReadonlyArray<Series>, unit: string) =>
    series.forEach((s) =>
      log(`  ${s.label}: ${med(s).toFixed(1)} ${unit} (runs ${s.samples.map((x) => x.toFixed(1)).join(", ")})`)
    )
  run().then(({ lat, tput }) => {
    print(tput, "tasks/s")
    print(lat, "µs per call")
    process.exit(0)
  }, (error) => {
    log(String(error))
    process.exit(1)
  })
}
