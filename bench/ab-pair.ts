/**
 * A/B of the tiny-task hot path between two checkouts of this package: one
 * process per checkout, both kept warm, driven in lock-step (A/B/B/A/A/B…),
 * so that each pair of runs is measured within a second or so of each other,
 * under the same load of a shared machine, and no checkout shares a process
 * (or a heap, or a JIT) with the other.
 *
 *   node bench/ab-pair.ts <A dir> <B dir> [threads|processes]
 *
 * Each round runs, in each checkout, a burst of `BENCH_AB_BURST` tiny `add`
 * tasks (`Effect.forEach(apply)` unbounded, as bench/run.ts scenario 1) and
 * `BENCH_AB_SEQ` calls one at a time (scenario 2), on a pool of 2 workers,
 * with a full GC before each run; it records the wall time, the CPU time of
 * the process (all its threads, and its child processes for the processes
 * backend), of its main thread (the pool side), and of the pool's workers.
 * Prints, per metric, the paired ratios B/A of the cost per task (> 1: B is
 * slower): median, min and max over `BENCH_AB_ROUNDS` rounds, with the load
 * average (the workers' CPU, read in 10 ms ticks, as the ratio of the totals).
 * `BENCH_AB_ONLY=burst` (or `seq`) runs one of the two.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Url from "node:url"
import * as V8 from "node:v8"
import * as Vm from "node:vm"

type Sample = { wall: number; cpu: number; main: number; workers: number }
const expected = (n: number) => (n * (n - 1)) / 2 + n
const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

if (process.argv[2] === "--child") {
  // one checkout's side: starts its pool, then runs what the driver asks
  const dir = process.argv[3]!
  const backend = process.argv[4] as "threads" | "processes"
  V8.setFlagsFromString("--expose-gc")
  const gc = Vm.runInNewContext("gc") as () => void
  const { Effect, Exit, Scope } = await import(Url.pathToFileURL(Path.join(dir, "node_modules/effect/dist/index.js")).href)
  const { WorkerPool } = await import(Url.pathToFileURL(Path.join(dir, "src/index.ts")).href)
  const { tasks } = await import(Url.pathToFileURL(Path.join(dir, "bench/tasks.ts")).href)
  const scope = await Effect.runPromise(Scope.make())
  const pool = await Effect.runPromise(Scope.provide(WorkerPool.make({ size: 2, backend }), scope))
  const range = (n: number) => Array.from({ length: n }, (_, i) => i)
  const run = {
    burst: (n: number): Promise<number> =>
      Effect.runPromise(Effect.map(
        Effect.forEach(range(n), (i: number) => pool.apply(tasks.add, [i, 1]), { concurrency: "unbounded" }),
        (xs: Array<number>) => xs.reduce((a, b) => a + b, 0)
      )),
    seq: (n: number): Promise<number> =>
      Effect.runPromise(Effect.gen(function*() {
        let s = 0
        for (let i = 0; i < n; i++) s += yield* pool.apply(tasks.add, [i, 1])
        return s
      }))
  }
  const statMs = (file: string): number => {
    try {
      const fields = Fs.readFileSync(file, "utf8").split(") ")[1].split(" ")
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
    } catch {
      return 0 // gone
    }
  }
  /** CPU ms of the pool's worker threads (named after the pool), from /proc (10 ms ticks). */
  const threadsMs = (): number => {
    let ms = 0
    for (const tid of Fs.readdirSync("/proc/self/task")) {
      try {
        if (Fs.readFileSync(`/proc/self/task/${tid}/comm`, "utf8").startsWith("effect-multipro")) {
          ms += statMs(`/proc/self/task/${tid}/stat`)
        }
      } catch {
        // gone
      }
    }
    return ms
  }
  /** CPU ms of this process's child processes (process workers), from /proc (10 ms ticks). */
  const childrenMs = (): number => {
    let ms = 0
    for (const tid of Fs.readdirSync("/proc/self/task")) {
      let children = ""
      try {
        children = Fs.readFileSync(`/proc/self/task/${tid}/children`, "utf8")
      } catch {
        continue
      }
      for (const pid of children.split(" ").filter((x) => x.trim() !== "")) {
        try {
          const fields = Fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ")
          ms += ((Number(fields[11]) + Number(fields[12])) * 1000) / 100
        } catch {
          // gone
        }
      }
    }
    return ms
  }
  process.on("message", async (message: { kind: "burst" | "seq" | "close"; n: number; measure: boolean }) => {
    if (message.kind === "close") {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      process.exit(0)
    }
    gc()
    const cpu0 = process.cpuUsage()
    const main0 = process.threadCpuUsage()
    const children0 = childrenMs()
    const threads0 = threadsMs()
    const t = performance.now()
    const sum = await run[message.kind](message.n)
    const wall = performance.now() - t
    const cpu = process.cpuUsage(cpu0)
    const main = process.threadCpuUsage(main0)
    const children = childrenMs() - children0
    const threads = threadsMs() - threads0
    if (sum !== expected(message.n)) throw new Error(`${message.kind}: wrong sum ${sum}`)
    const sample: Sample = {
      wall: (wall * 1000) / message.n,
      cpu: (cpu.user + cpu.system + children * 1000) / message.n,
      main: (main.user + main.system) / message.n,
      workers: ((children + threads) * 1000) / message.n
    }
    process.send!(sample)
  })
  process.send!("ready")
} else {
  const dirs = [Path.resolve(process.argv[2]!), Path.resolve(process.argv[3]!)]
  const backend = (process.argv[4] ?? "threads") as "threads" | "processes"
  const burst = Number(process.env.BENCH_AB_BURST ?? (backend === "threads" ? 50_000 : 10_000))
  const seq = Number(process.env.BENCH_AB_SEQ ?? 5_000)
  const rounds = Number(process.env.BENCH_AB_ROUNDS ?? 10)
  const kinds = (process.env.BENCH_AB_ONLY ?? "burst,seq").split(",") as Array<"burst" | "seq">
  const self = Url.fileURLToPath(import.meta.url)
  const children = dirs.map((dir) => ChildProcess.fork(self, ["--child", dir, backend], { stdio: "inherit" }))
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
  const ask = (i: number, kind: "burst" | "seq" | "close", n: number): Promise<Sample> => {
    const answer = next(children[i])
    children[i].send({ kind, n })
    return answer
  }
  // warm-up: both, twice
  for (let w = 0; w < 2; w++) {
    for (let i = 0; i < 2; i++) {
      for (const kind of kinds) await ask(i, kind, Math.min(kind === "burst" ? burst : seq, 10_000))
    }
  }
  const samples: Record<string, Array<Array<Sample>>> = { burst: [[], []], seq: [[], []] }
  const loads: Array<number> = []
  for (let r = 0; r < rounds; r++) {
    loads.push(Number(Fs.readFileSync("/proc/loadavg", "utf8").split(" ")[0]))
    const order = r % 2 === 0 ? [0, 1] : [1, 0]
    for (const kind of kinds) {
      for (const i of order) samples[kind][i].push(await ask(i, kind, kind === "burst" ? burst : seq))
    }
  }
  for (const child of children) {
    const exited = new Promise((resolve) => child.once("exit", resolve))
    child.send({ kind: "close", n: 0 })
    await exited
  }
  const fmt = (x: number) => x.toFixed(3)
  console.log(
    `A = ${dirs[0]}\nB = ${dirs[1]}\n${backend}, burst ${burst}, seq ${seq}, ${rounds} rounds, load average ${
      Math.min(...loads)
    }–${Math.max(...loads)}`
  )
  for (const kind of kinds) {
    for (const metric of ["wall", "cpu", "main", "workers"] as const) {
      const a = samples[kind][0].map((s) => s[metric])
      const b = samples[kind][1].map((s) => s[metric])
      const ratios = a.map((x, i) => b[i] / x)
      if (metric === "workers") {
        // 10 ms ticks: too coarse for one run; the ratio of the totals
        const total = (xs: ReadonlyArray<number>) => xs.reduce((x, y) => x + y, 0)
        console.log(
          `${kind.padEnd(5)} ${metric} µs/task A ${(total(a) / a.length).toFixed(2)}  B ${(total(b) / b.length).toFixed(2)}` +
            `   B/A of the totals ${fmt(total(b) / total(a))}`
        )
        continue
      }
      console.log(
        `${kind.padEnd(5)} ${metric.padEnd(4)} µs/task A ${median(a).toFixed(2).padStart(7)}  B ${
          median(b).toFixed(2).padStart(7)
        }   B/A paired: median ${fmt(median(ratios))}  min ${fmt(Math.min(...ratios))}  max ${fmt(Math.max(...ratios))}`
      )
    }
  }
  if (process.env.BENCH_AB_JSON !== undefined) Fs.writeFileSync(process.env.BENCH_AB_JSON, JSON.stringify({ samples, loads }))
}
