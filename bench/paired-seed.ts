/**
 * Paired rounds of the seed's map (scenario 3) between checkouts of this
 * package, and against raw `worker_threads` with the same chunks: one process
 * per checkout, both kept warm, driven in lock-step (A/B, then B/A…), so that
 * each pair of runs is measured within a second or so of each other, under
 * the same load of a shared machine.
 *
 *   node bench/paired-seed.ts <A dir> [<B dir>]
 *
 * Each round runs, in each checkout, on pools of 2 thread workers:
 * - `map`: `pool.map(howManyWithinRangeRow, rows)` over `BENCH_PS_SEED` rows
 *   (20,000: the seed) and `BENCH_PS_LARGE` rows (2,000,000), default chunksize;
 * - `starmap`: `pool.starmap(howManyWithinRange, [row, 4, 8] tuples)` over the
 *   seed rows (tuples built before the timing);
 * - `imap`: `pool.imap(howManyWithinRangeRow, rows, { chunksize: 1_000 })`,
 *   collected, over both;
 * - `raw`: raw pipelined `postMessage` with the same chunks (every chunk sent
 *   at once, round robin, one message per chunk each way: bench/lib/raw.ts),
 *   the raw pool taken from THIS checkout for every side, so that the baseline
 *   is the same code.
 * The order of `map` / `raw` alternates within a process too; a full GC goes
 * before every run. Per run it records the wall time, the main thread's CPU
 * time (so the fraction of the run the caller was idle) and the CPU time of
 * the whole process, workers included (less sensitive to the machine's load
 * than the wall time).
 *
 * Prints, per side, the paired ratio of each (`map / raw`, …) to raw in the
 * same round (median, min, max), and, with two checkouts, the paired ratio
 * B/A of each of them, with the load average over the rounds.
 * `BENCH_PS_ROUNDS` (10), `BENCH_PS_LARGE_ROUNDS` (5), `BENCH_PS_ONLY=seed`
 * (or `large`), `BENCH_PS_NO_GC=1` (no full GC before each run).
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Url from "node:url"
import * as V8 from "node:v8"
import * as Vm from "node:vm"

type Kind = "map" | "starmap" | "imap" | "raw"
type Size = "seed" | "large"
type Sample = { wall: number; main: number; cpu: number }
const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const self = Url.fileURLToPath(import.meta.url)
const here = Path.dirname(self)

if (process.argv[2] === "--child") {
  const dir = process.argv[3]!
  const sizes = { seed: Number(process.argv[4]), large: Number(process.argv[5]) }
  V8.setFlagsFromString("--expose-gc")
  const gc = Vm.runInNewContext("gc") as () => void
  const { Effect, Exit, Scope, Stream } = await import(Url.pathToFileURL(Path.join(dir, "node_modules/effect/dist/index.js")).href)
  const { WorkerPool } = await import(Url.pathToFileURL(Path.join(dir, "src/index.ts")).href)
  const { tasks } = await import(Url.pathToFileURL(Path.join(dir, "bench/tasks.ts")).href)
  // the same raw baseline and data for every side: this checkout's
  const Raw = await import(Url.pathToFileURL(Path.join(here, "lib/raw.ts")).href)
  const Data = await import(Url.pathToFileURL(Path.join(here, "lib/data.ts")).href)
  const Work = await import(Url.pathToFileURL(Path.join(here, "work.ts")).href)
  const scope = await Effect.runPromise(Scope.make())
  const pool = await Effect.runPromise(Scope.provide(WorkerPool.make({ size: 2, backend: "threads" }), scope))
  const raw = await Raw.rawPipelined.start(2)
  const packed = Data.packedRows(Math.max(sizes.seed, sizes.large))
  const rows = { seed: Data.unpackRows(packed, sizes.seed), large: Data.unpackRows(packed, sizes.large) }
  const tuples = rows.seed.map((row: Array<number>) => [row, 4, 8] as const)
  const sums = {
    seed: rows.seed.map(Work.howManyWithinRangeRow).reduce((a: number, b: number) => a + b, 0),
    large: rows.large.map(Work.howManyWithinRangeRow).reduce((a: number, b: number) => a + b, 0)
  }
  const run = (kind: Kind, size: Size): Promise<Array<number>> => {
    switch (kind) {
      case "map":
        return Effect.runPromise(pool.map(tasks.howManyWithinRangeRow, rows[size]))
      case "starmap":
        return Effect.runPromise(pool.starmap(tasks.howManyWithinRange, tuples))
      case "imap":
        return Effect.runPromise(
          Effect.map(Stream.runCollect(pool.imap(tasks.howManyWithinRangeRow, rows[size], { chunksize: 1_000 })), Array.from)
        )
      case "raw":
        return raw.rows(rows[size], Data.defaultChunksize(rows[size].length, 2))
    }
  }
  process.on("message", async (message: { kind: Kind | "close"; size: Size }) => {
    if (message.kind === "close") {
      await raw.close()
      await Effect.runPromise(Scope.close(scope, Exit.void))
      process.exit(0)
    }
    if (process.env.BENCH_PS_NO_GC === undefined) gc()
    const main0 = process.threadCpuUsage()
    const cpu0 = process.cpuUsage()
    const t = performance.now()
    const out = await run(message.kind, message.size)
    const wall = performance.now() - t
    const main = process.threadCpuUsage(main0)
    const cpu = process.cpuUsage(cpu0)
    const sum = out.reduce((a, b) => a + b, 0)
    if (out.length !== rows[message.size].length || sum !== sums[message.size]) {
      throw new Error(`${message.kind} ${message.size}: wrong results`)
    }
    process.send!({ wall, main: (main.user + main.system) / 1000, cpu: (cpu.user + cpu.system) / 1000 } satisfies Sample)
  })
  process.send!("ready")
} else {
  const dirs = process.argv.slice(2).map((dir) => Path.resolve(dir))
  if (dirs.length === 0) throw new Error("usage: node bench/paired-seed.ts <A dir> [<B dir>]")
  const seedRows = Number(process.env.BENCH_PS_SEED ?? 20_000)
  const largeRows = Number(process.env.BENCH_PS_LARGE ?? 2_000_000)
  const rounds = { seed: Number(process.env.BENCH_PS_ROUNDS ?? 10), large: Number(process.env.BENCH_PS_LARGE_ROUNDS ?? 5) }
  const only = (process.env.BENCH_PS_ONLY ?? "seed,large").split(",") as Array<Size>
  const children = dirs.map((dir) =>
    ChildProcess.fork(self, ["--child", dir, String(seedRows), String(largeRows)], { stdio: "inherit" })
  )
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
  const ask = (i: number, kind: Kind | "close", size: Size): Promise<Sample> => {
    const answer = next(children[i])
    children[i].send({ kind, size })
    return answer
  }
  const kindsOf = (size: Size): Array<Kind> => size === "seed" ? ["map", "raw", "starmap", "imap"] : ["map", "raw", "imap"]
  const samples = new Map<string, Array<Sample>>()
  const key = (i: number, size: Size, kind: Kind) => `${i} ${size} ${kind}`
  const loads: Array<number> = []
  for (const size of only) {
    // warm-up: each side twice
    for (let w = 0; w < 2; w++) {
      for (let i = 0; i < dirs.length; i++) for (const kind of kindsOf(size)) await ask(i, kind, size)
    }
    for (let r = 0; r < rounds[size]; r++) {
      loads.push(Number(Fs.readFileSync("/proc/loadavg", "utf8").split(" ")[0]))
      const order = r % 2 === 0 ? dirs.map((_, i) => i) : dirs.map((_, i) => i).reverse()
      const kinds = r % 2 === 0 ? kindsOf(size) : [...kindsOf(size)].reverse()
      for (const i of order) {
        for (const kind of kinds) {
          const sample = await ask(i, kind, size)
          const k = key(i, size, kind)
          samples.set(k, [...(samples.get(k) ?? []), sample])
        }
      }
    }
  }
  for (const child of children) {
    const exited = new Promise((resolve) => child.once("exit", resolve))
    child.send({ kind: "close" })
    await exited
  }
  const fmt = (x: number) => x.toFixed(3)
  const spread = (ratios: ReadonlyArray<number>) =>
    `median ${fmt(median(ratios))}  min ${fmt(Math.min(...ratios))}  max ${fmt(Math.max(...ratios))}`
  console.log(
    `${dirs.map((dir, i) => `${"AB"[i]} = ${dir}`).join("\n")}\nthreads, 2 workers, seed ${seedRows} rows (${
      rounds.seed
    } rounds), large ${largeRows} rows (${rounds.large} rounds), load average ${Math.min(...loads)}–${Math.max(...loads)}`
  )
  for (const size of only) {
    for (let i = 0; i < dirs.length; i++) {
      const rawRuns = samples.get(key(i, size, "raw"))!
      for (const kind of kindsOf(size)) {
        const runs = samples.get(key(i, size, kind))!
        const idle = runs.map((s) => 1 - s.main / s.wall)
        const line = `${size.padEnd(5)} ${"AB"[i]} ${kind.padEnd(7)} ms ${median(runs.map((s) => s.wall)).toFixed(2).padStart(8)}` +
          `  caller idle ${(median(idle) * 100).toFixed(1).padStart(5)}%  caller cpu ms ${
            median(runs.map((s) => s.main)).toFixed(2)
          }${kind === "raw" ? "" : ` (/raw paired ${spread(runs.map((s, r) => s.main / rawRuns[r].main))})`}`
        if (kind === "raw") {
          console.log(line)
          continue
        }
        console.log(`${line}   /raw paired: ${spread(runs.map((s, r) => s.wall / rawRuns[r].wall))}`)
        console.log(
          `${" ".repeat(17)}cpu ms ${median(runs.map((s) => s.cpu)).toFixed(2).padStart(8)}  (raw ${
            median(rawRuns.map((s) => s.cpu)).toFixed(2)
          })   /raw paired: ${spread(runs.map((s, r) => s.cpu / rawRuns[r].cpu))}`
        )
      }
    }
    if (dirs.length === 2) {
      for (const kind of kindsOf(size)) {
        const a = samples.get(key(0, size, kind))!
        const b = samples.get(key(1, size, kind))!
        console.log(`${size.padEnd(5)} B/A ${kind.padEnd(7)} wall paired: ${spread(a.map((s, r) => b[r].wall / s.wall))}`)
        console.log(`${size.padEnd(5)} B/A ${kind.padEnd(7)} cpu  paired: ${spread(a.map((s, r) => b[r].cpu / s.cpu))}`)
      }
    }
  }
  if (process.env.BENCH_PS_JSON !== undefined) {
    Fs.writeFileSync(process.env.BENCH_PS_JSON, JSON.stringify(Object.fromEntries(samples)))
  }
}
