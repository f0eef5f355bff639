/**
 * How long each worker idles between two long calls of scenario 4
 * (`Effect.forEach(apply)` over 64 CPU-bound calls, unbounded, pool of 2
 * thread workers), between checkouts of this package, in alternating rounds.
 * Each call records in its worker when it started and ended
 * (bench/lib/timed-tasks.ts); a worker's gap is the time from the end of one
 * of its calls to the start of its next. The gaps are measured in the workers,
 * so they say where the time goes even on a loaded machine, where the
 * speedup itself cannot be read.
 *
 *   node bench/call-gaps.ts <A dir> [<B dir>]
 *
 * Prints per checkout the gaps' p10, p25, median and p90 (ms), and the idle
 * time of both workers per run (from the start of the run to each worker's
 * first call, plus its gaps), median over the rounds, with the load average.
 * `BENCH_CG_ROUNDS` (6), `BENCH_CG_ITERATIONS` (10,000,000: ~18 ms a call).
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Url from "node:url"

const self = Url.fileURLToPath(import.meta.url)
const here = Path.dirname(self)
const quantile = (sorted: ReadonlyArray<number>, q: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]

if (process.argv[2] === "--child") {
  const dir = process.argv[3]!
  const iterations = Number(process.argv[4])
  const { Effect, Exit, Scope } = await import(Url.pathToFileURL(Path.join(dir, "node_modules/effect/dist/index.js")).href)
  const { WorkerPool } = await import(Url.pathToFileURL(Path.join(dir, "src/index.ts")).href)
  // this checkout's task module for every side (the same timing code)
  const { tasks } = await import(Url.pathToFileURL(Path.join(here, "lib/timed-tasks.ts")).href)
  const scope = await Effect.runPromise(Scope.make())
  const pool = await Effect.runPromise(Scope.provide(WorkerPool.make({ size: 2, backend: "threads" }), scope))
  const seeds = Array.from({ length: 64 }, (_, i) => i + 1)
  const once = (): Promise<Array<readonly [number, number, number, number]>> =>
    Effect.runPromise(
      Effect.forEach(seeds, (seed: number) => pool.apply(tasks.timedCpu, [seed, iterations]), { concurrency: "unbounded" })
    )
  process.on("message", async (message: "run" | "close") => {
    if (message === "close") {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      process.exit(0)
    }
    const start = performance.timeOrigin + performance.now()
    const calls = await once()
    const byWorker = new Map<number, Array<readonly [number, number]>>()
    for (const [thread, started, ended] of calls) byWorker.set(thread, [...(byWorker.get(thread) ?? []), [started, ended]])
    const gaps: Array<number> = []
    let idle = 0
    for (const runs of byWorker.values()) {
      runs.sort((a, b) => a[0] - b[0])
      idle += runs[0][0] - start
      for (let i = 1; i < runs.length; i++) {
        gaps.push(runs[i][0] - runs[i - 1][1])
        idle += runs[i][0] - runs[i - 1][1]
      }
    }
    process.send!({ gaps, idle })
  })
  await once() // warm-up: measured, loaded everywhere
  await once()
  process.send!("ready")
} else {
  const dirs = process.argv.slice(2).map((dir) => Path.resolve(dir))
  if (dirs.length === 0) throw new Error("usage: node bench/call-gaps.ts <A dir> [<B dir>]")
  const rounds = Number(process.env.BENCH_CG_ROUNDS ?? 6)
  const iterations = Number(process.env.BENCH_CG_ITERATIONS ?? 10_000_000)
  const children = dirs.map((dir) => ChildProcess.fork(self, ["--child", dir, String(iterations)], { stdio: "inherit" }))
  const next = (child: ChildProcess.ChildProcess) =>
    new Promise<any>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`child exited with ${code}`))
      child.once("exit", onExit)
      child.once("message", (message) => {
        child.off("exit", onExit)
        resolve(message)
      })
    })
  await Promise.all(children.map(next))
  const gaps = dirs.map(() => [] as Array<number>)
  const idle = dirs.map(() => [] as Array<number>)
  const loads: Array<number> = []
  for (let r = 0; r < rounds; r++) {
    loads.push(Number(Fs.readFileSync("/proc/loadavg", "utf8").split(" ")[0]))
    const order = r % 2 === 0 ? dirs.map((_, i) => i) : dirs.map((_, i) => i).reverse()
    for (const i of order) {
      const answer = next(children[i])
      children[i].send("run")
      const sample = await answer
      gaps[i].push(...sample.gaps)
      idle[i].push(sample.idle)
    }
  }
  for (const child of children) {
    const exited = new Promise((resolve) => child.once("exit", resolve))
    child.send("close")
    await exited
  }
  console.log(`${dirs.map((dir, i) => `${"AB"[i]} = ${dir}`).join("\n")}\n64 calls of ${iterations} iterations, 2 thread workers, ${rounds} rounds, load average ${
    Math.min(...loads)
  }–${Math.max(...loads)}`)
  for (let i = 0; i < dirs.length; i++) {
    const sorted = [...gaps[i]].sort((a, b) => a - b)
    const fmt = (q: number) => quantile(sorted, q).toFixed(3)
    console.log(
      `${"AB"[i]} gap per call ms: p10 ${fmt(0.1)}  p25 ${fmt(0.25)}  median ${fmt(0.5)}  p90 ${fmt(0.9)}` +
        `   idle per run (both workers) ms: median ${quantile([...idle[i]].sort((a, b) => a - b), 0.5).toFixed(1)}`
    )
  }
}
