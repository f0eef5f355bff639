/**
 * Paired rounds of scenario 4 (CPU-bound) and scenario 7 (the seed's 2,000,000
 * rows in shared memory), between checkouts of this package: one process per
 * checkout, both kept warm, driven in lock-step (A/B, then B/A…).
 *
 *   node bench/paired-maps.ts <A dir> [<B dir>]
 *
 * Each round runs, in each checkout, on a pool of 2 thread workers, in an order
 * that alternates from round to round:
 * - `cpu:seq`, `cpu:forEach`, `cpu:starmap`, `cpu:raw`: the 64 tasks of
 *   scenario 4 (bench/work.ts `cpu`, ~`BENCH_PM_CPU_SECONDS` (1.2) s in all)
 *   sequentially, with `Effect.forEach(apply)` unbounded, with `starmap`, and
 *   with raw pipelined `postMessage` (this checkout's raw pool for every side);
 * - `shared:seq`, `shared:map`: the 2,000,000 rows × 5 int32 of scenario 7, the
 *   loop over the Int32Array and `Shared.map` with its default ranges.
 * A full GC goes before every run; the outputs are cleared before it and checked after it, outside the timing. Per run it records the wall time, the main
 * thread's CPU time and the whole process's CPU time (workers included).
 *
 * Prints each one's paired speedup over its loop in the same round (median,
 * min, max), and with two checkouts the paired ratio B/A, with the load average.
 * `BENCH_PM_ROUNDS` (8), `BENCH_PM_ONLY=cpu` (or `shared`).
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Url from "node:url"
import * as V8 from "node:v8"
import * as Vm from "node:vm"

type Sample = { wall: number; main: number; cpu: number }
const kinds = {
  cpu: ["seq", "forEach", "starmap", "raw"],
  shared: ["seq", "map"]
} as const
type Group = keyof typeof kinds
const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const self = Url.fileURLToPath(import.meta.url)
const here = Path.dirname(self)
const TASKS = 64
const ROWS = 2_000_000

if (process.argv[2] === "--child") {
  const dir = process.argv[3]!
  const iterations = Number(process.argv[4])
  V8.setFlagsFromString("--expose-gc")
  const gc = Vm.runInNewContext("gc") as () => void
  const { Effect, Exit, Scope } = await import(Url.pathToFileURL(Path.join(dir, "node_modules/effect/dist/index.js")).href)
  const { Shared, WorkerPool } = await import(Url.pathToFileURL(Path.join(dir, "src/index.ts")).href)
  const { tasks } = await import(Url.pathToFileURL(Path.join(dir, "bench/tasks.ts")).href)
  const Example = await import(Url.pathToFileURL(Path.join(dir, "examples/shared-memory-tasks.ts")).href)
  const Raw = await import(Url.pathToFileURL(Path.join(here, "lib/raw.ts")).href)
  const Data = await import(Url.pathToFileURL(Path.join(here, "lib/data.ts")).href)
  const Work = await import(Url.pathToFileURL(Path.join(here, "work.ts")).href)
  const scope = await Effect.runPromise(Scope.make())
  const pool = await Effect.runPromise(Scope.provide(WorkerPool.make({ size: 2, backend: "threads" }), scope))
  const raw = await Raw.rawPipelined.start(2)
  const seeds = Array.from({ length: TASKS }, (_, i) => i + 1)
  const tuples = seeds.map((seed) => [seed, iterations] as const)
  const cpuSum = seeds.reduce((a, seed) => (a + Work.cpu(seed, iterations)) % 1e9, 0)
  const input = Effect.runSync(Shared.make("Int32", ROWS, 5))
  input.data.set(Data.packedRows(ROWS))
  const output = Effect.runSync(Shared.make("Int32", ROWS))
  const loopOut = new Int32Array(ROWS)
  Example.countWithinRange(input.data, ROWS, 5, loopOut, 4, 8)
  const sharedSum = loopOut.reduce((a: number, b: number) => a + b, 0)
  const sum = (xs: ArrayLike<number>) => {
    let s = 0
    for (let i = 0; i < xs.length; i++) s = (s + xs[i]) % 1e9
    return s
  }
  const run = async (group: Group, kind: string): Promise<number> => {
    if (group === "cpu") {
      switch (kind) {
        case "seq":
          return sum(seeds.map((seed) => Work.cpu(seed, iterations)))
        case "forEach":
          return sum(
            await Effect.runPromise(
              Effect.forEach(seeds, (seed: number) => pool.apply(tasks.cpu, [seed, iterations]), {
                concurrency: "unbounded"
              })
            )
          )
        case "starmap":
          return sum(await Effect.runPromise(pool.starmap(tasks.cpu, tuples)))
        default:
          return sum(await raw.cpu(seeds, iterations))
      }
    }
    if (kind === "seq") {
      Example.countWithinRange(input.data, ROWS, 5, loopOut, 4, 8)
      return 0
    }
    await Effect.runPromise(Shared.map(pool, Example.tasks.countWithinRange, { input, output, args: [4, 8] }))
    return 0
  }
  /** Clears the output before a run, outside the timing (as the scenario's `prepare`). */
  const prepare = (group: Group, kind: string) => {
    if (group === "shared") (kind === "seq" ? loopOut : output.data).fill(0)
  }
  /** The result of a run, checked outside the timing. */
  const result = (group: Group, kind: string, out: number): number =>
    group === "cpu" ? out : (kind === "seq" ? loopOut : output.data).reduce((a: number, b: number) => a + b, 0)
  const expected = { cpu: cpuSum, shared: sharedSum }
  process.on("message", async (message: { group: Group | "close"; kind: string }) => {
    if (message.group === "close") {
      await raw.close()
      await Effect.runPromise(Scope.close(scope, Exit.void))
      process.exit(0)
    }
    prepare(message.group, message.kind)
    gc()
    const main0 = process.threadCpuUsage()
    const cpu0 = process.cpuUsage()
    const t = performance.now()
    const done = await run(message.group, message.kind)
    const wall = performance.now() - t
    const main = process.threadCpuUsage(main0)
    const cpu = process.cpuUsage(cpu0)
    const out = result(message.group, message.kind, done)
    if (out !== expected[message.group]) throw new Error(`${message.group} ${message.kind}: wrong results`)
    process.send!({ wall, main: (main.user + main.system) / 1000, cpu: (cpu.user + cpu.system) / 1000 } satisfies Sample)
  })
  process.send!("ready")
} else {
  const dirs = process.argv.slice(2).map((dir) => Path.resolve(dir))
  if (dirs.length === 0) throw new Error("usage: node bench/paired-maps.ts <A dir> [<B dir>]")
  const rounds = Number(process.env.BENCH_PM_ROUNDS ?? 8)
  const only = (process.env.BENCH_PM_ONLY ?? "cpu,shared").split(",") as Array<Group>
  // the same calibration for every side: iterations for ~1.2 s of sequential work
  const Work = await import(Url.pathToFileURL(Path.join(here, "work.ts")).href)
  Work.cpu(1, 2_000_000)
  const t0 = performance.now()
  Work.cpu(2, 10_000_000)
  const nsPerIteration = ((performance.now() - t0) * 1e6) / 10_000_000
  const iterations = Math.round((Number(process.env.BENCH_PM_CPU_SECONDS ?? 1.2) * 1e9) / TASKS / nsPerIteration)
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
  const ask = (i: number, group: Group | "close", kind: string): Promise<Sample> => {
    const answer = next(children[i])
    children[i].send({ group, kind })
    return answer
  }
  const samples = new Map<string, Array<Sample>>()
  const key = (i: number, group: Group, kind: string) => `${i} ${group} ${kind}`
  const loads: Array<number> = []
  for (const group of only) {
    for (let w = 0; w < 2; w++) {
      for (let i = 0; i < dirs.length; i++) for (const kind of kinds[group]) await ask(i, group, kind)
    }
    for (let r = 0; r < rounds; r++) {
      loads.push(Number(Fs.readFileSync("/proc/loadavg", "utf8").split(" ")[0]))
      const order = r % 2 === 0 ? dirs.map((_, i) => i) : dirs.map((_, i) => i).reverse()
      const ks = r % 2 === 0 ? [...kinds[group]] : [...kinds[group]].reverse()
      for (const i of order) {
        for (const kind of ks) {
          const sample = await ask(i, group, kind)
          const k = key(i, group, kind)
          samples.set(k, [...(samples.get(k) ?? []), sample])
        }
      }
    }
  }
  for (const child of children) {
    const exited = new Promise((resolve) => child.once("exit", resolve))
    child.send({ group: "close", kind: "" })
    await exited
  }
  const fmt = (x: number) => x.toFixed(3)
  const spread = (ratios: ReadonlyArray<number>) =>
    `median ${fmt(median(ratios))}  min ${fmt(Math.min(...ratios))}  max ${fmt(Math.max(...ratios))}`
  console.log(
    `${dirs.map((dir, i) => `${"AB"[i]} = ${dir}`).join("\n")}\nthreads, 2 workers, ${rounds} rounds, ${iterations} iterations per cpu task, load average ${
      Math.min(...loads)
    }–${Math.max(...loads)}`
  )
  for (const group of only) {
    for (let i = 0; i < dirs.length; i++) {
      const seq = samples.get(key(i, group, "seq"))!
      for (const kind of kinds[group]) {
        const runs = samples.get(key(i, group, kind))!
        const line = `${group.padEnd(6)} ${"AB"[i]} ${kind.padEnd(8)} ms ${median(runs.map((s) => s.wall)).toFixed(2).padStart(8)}` +
          `  main cpu ${median(runs.map((s) => s.main)).toFixed(2).padStart(7)}  cpu ${median(runs.map((s) => s.cpu)).toFixed(2).padStart(8)}`
        if (kind === "seq") {
          console.log(line)
          continue
        }
        console.log(`${line}   speedup paired: ${spread(runs.map((s, r) => seq[r].wall / s.wall))}`)
      }
    }
    if (dirs.length === 2) {
      for (const kind of kinds[group]) {
        const a = samples.get(key(0, group, kind))!
        const b = samples.get(key(1, group, kind))!
        console.log(`${group.padEnd(6)} B/A ${kind.padEnd(8)} wall paired: ${spread(a.map((s, r) => b[r].wall / s.wall))}`)
      }
    }
  }
  if (process.env.BENCH_PM_JSON !== undefined) {
    Fs.writeFileSync(process.env.BENCH_PM_JSON, JSON.stringify(Object.fromEntries(samples)))
  }
}
