/**
 * The tiny-task targets of issue 13 (scenarios 1 and 2), paired against the
 * raw baselines in the same process, for one or more checkouts of this
 * package:
 *
 *   node bench/hot-pair.ts <dir> [<dir> …]
 *
 * One child process per checkout, each with our pool (size 2, threads) and
 * the raw baselines of bench/lib/raw.ts (this checkout's): pipelined
 * `postMessage` on 2 workers for the burst, one worker for the round trip.
 * Each round runs, in every child in turn, each contender once in a rotated
 * order, with a full GC before each run: a burst of `BENCH_HOT_BURST` tiny
 * `add` tasks with `Effect.forEach(apply)` unbounded and with `applyAsync`
 * then `get`, and `BENCH_HOT_SEQ` calls one at a time. Prints, per checkout,
 * the paired ratios (ours' time per task ÷ raw's in the same round: < 1 is
 * faster than raw), median (min–max), the CPU time per task of the main
 * thread and of the whole process (all threads: on a loaded machine the
 * steadier measure), and the load average.
 * `BENCH_HOT_ONLY=burst` (or `seq`) runs one of the two.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Url from "node:url"
import * as V8 from "node:v8"
import * as Vm from "node:vm"

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
const expected = (n: number) => (n * (n - 1)) / 2 + n

type Kind = "burst" | "seq"
/** µs per task of each contender in one round, and ours' main-thread CPU µs per task. */
type Round = Record<string, number>

if (process.argv[2] === "--child") {
  const dir = process.argv[3]!
  V8.setFlagsFromString("--expose-gc")
  const gc = Vm.runInNewContext("gc") as () => void
  const { Effect, Exit, Scope } = await import(Url.pathToFileURL(Path.join(dir, "node_modules/effect/dist/index.js")).href)
  const { WorkerPool } = await import(Url.pathToFileURL(Path.join(dir, "src/index.ts")).href)
  const { tasks } = await import(Url.pathToFileURL(Path.join(dir, "bench/tasks.ts")).href)
  const Raw = await import(new URL("./lib/raw.ts", import.meta.url).href)
  const scope = await Effect.runPromise(Scope.make())
  const pool = await Effect.runPromise(Scope.provide(WorkerPool.make({ size: 2, backend: "threads" }), scope))
  const raw = await Raw.rawPipelined.start(2)
  const raw1 = await Raw.rawOneWorker.start(1)
  const range = (n: number) => Array.from({ length: n }, (_, i) => i)
  const runs: Record<string, (n: number) => Promise<number>> = {
    forEach: (n) =>
      Effect.runPromise(Effect.map(
        Effect.forEach(range(n), (i: number) => pool.apply(tasks.add, [i, 1]), { concurrency: "unbounded" }),
        (xs: Array<number>) => xs.reduce((a, b) => a + b, 0)
      )),
    async: (n) =>
      Effect.runPromise(Effect.gen(function*() {
        const results = new Array(n)
        for (let i = 0; i < n; i++) results[i] = yield* pool.applyAsync(tasks.add, [i, 1])
        let s = 0
        for (let i = 0; i < n; i++) s += yield* results[i].get()
        return s
      })),
    raw: (n) => raw.burst(n),
    seq: (n) =>
      Effect.runPromise(Effect.gen(function*() {
        let s = 0
        for (let i = 0; i < n; i++) s += yield* pool.apply(tasks.add, [i, 1])
        return s
      })),
    raw1: (n) => raw1.oneAtATime(n)
  }
  const contenders: Record<Kind, Array<string>> = { burst: ["forEach", "async", "raw"], seq: ["seq", "raw1"] }
  process.on("message", async (message: { kind: Kind | "close"; n: number; round: number }) => {
    if (message.kind === "close") {
      await raw.close()
      await raw1.close()
      await Effect.runPromise(Scope.close(scope, Exit.void))
      process.exit(0)
    }
    const names = contenders[message.kind]
    const result: Round = {}
    for (let k = 0; k < names.length; k++) {
      const name = names[(k + message.round) % names.length]
      gc()
      const main0 = process.threadCpuUsage()
      const all0 = process.cpuUsage()
      const t = performance.now()
      const sum = await runs[name](message.n)
      const wall = performance.now() - t
      const main = process.threadCpuUsage(main0)
      const all = process.cpuUsage(all0)
      if (sum !== expected(message.n)) throw new Error(`${name}: wrong sum ${sum}`)
      result[name] = (wall * 1000) / message.n
      result[`${name}.cpu`] = (main.user + main.system) / message.n
      result[`${name}.all`] = (all.user + all.system) / message.n
    }
    process.send!(result)
  })
  process.send!("ready")
} else {
  const dirs = process.argv.slice(2).map((dir) => Path.resolve(dir))
  if (dirs.length === 0) dirs.push(Path.resolve(Url.fileURLToPath(new URL("..", import.meta.url))))
  const burst = Number(process.env.BENCH_HOT_BURST ?? 50_000)
  const seq = Number(process.env.BENCH_HOT_SEQ ?? 5_000)
  const rounds = Number(process.env.BENCH_HOT_ROUNDS ?? 10)
  const kinds = (process.env.BENCH_HOT_ONLY ?? "burst,seq").split(",") as Array<Kind>
  const self = Url.fileURLToPath(import.meta.url)
  const children = dirs.map((dir) => ChildProcess.fork(self, ["--child", dir], { stdio: "inherit" }))
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
  const ask = (i: number, kind: Kind | "close", n: number, round: number): Promise<Round> => {
    const answer = next(children[i])
    children[i].send({ kind, n, round })
    return answer
  }
  for (let w = 0; w < 2; w++) {
    for (let i = 0; i < children.length; i++) {
      for (const kind of kinds) await ask(i, kind, Math.min(kind === "burst" ? burst : seq, 10_000), w)
    }
  }
  const samples: Array<Record<Kind, Array<Round>>> = dirs.map(() => ({ burst: [], seq: [] }))
  const loads: Array<number> = []
  for (let r = 0; r < rounds; r++) {
    loads.push(Number(Fs.readFileSync("/proc/loadavg", "utf8").split(" ")[0]))
    for (let k = 0; k < children.length; k++) {
      const i = (k + r) % children.length
      for (const kind of kinds) samples[i][kind].push(await ask(i, kind, kind === "burst" ? burst : seq, r))
    }
  }
  for (const child of children) {
    const exited = new Promise((resolve) => child.once("exit", resolve))
    child.send({ kind: "close", n: 0, round: 0 })
    await exited
  }
  const fmt = (x: number) => x.toFixed(3)
  const stat = (xs: ReadonlyArray<number>) => `${fmt(median(xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`
  console.log(`burst ${burst}, seq ${seq}, ${rounds} rounds, load average ${Math.min(...loads)}–${Math.max(...loads)}`)
  const ratios: Array<Record<string, Array<number>>> = []
  dirs.forEach((dir, i) => {
    console.log(dir)
    const mine: Record<string, Array<number>> = {}
    ratios.push(mine)
    const pairs: Array<[Kind, string, string]> = [
      ["burst", "forEach", "raw"],
      ["burst", "async", "raw"],
      ["seq", "seq", "raw1"]
    ]
    for (const [kind, ours, base] of pairs) {
      if (!kinds.includes(kind)) continue
      const rs = samples[i][kind]
      mine[ours] = rs.map((s) => s[ours] / s[base])
      console.log(
        `  ${ours.padEnd(8)} µs/task ${median(rs.map((s) => s[ours])).toFixed(2).padStart(7)}  ${base} ${
          median(rs.map((s) => s[base])).toFixed(2).padStart(7)
        }  ours/raw time ${stat(mine[ours])}  raw/ours rate ${stat(rs.map((s) => s[base] / s[ours]))}\n` +
          `           CPU µs/task: main ${median(rs.map((s) => s[`${ours}.cpu`])).toFixed(2)} (raw ${
            median(rs.map((s) => s[`${base}.cpu`])).toFixed(2)
          }), all threads ${median(rs.map((s) => s[`${ours}.all`])).toFixed(2)} (raw ${
            median(rs.map((s) => s[`${base}.all`])).toFixed(2)
          }); ours/raw all threads, paired ${stat(rs.map((s) => s[`${ours}.all`] / s[`${base}.all`]))}`
      )
    }
  })
  if (dirs.length === 2) {
    console.log(`B/A of the ours/raw ratios, paired by round (B = ${dirs[1]}):`)
    for (const key of Object.keys(ratios[0])) {
      console.log(`  ${key.padEnd(8)} ${stat(ratios[0][key].map((a, r) => ratios[1][key][r] / a))}`)
    }
  }
  if (process.env.BENCH_HOT_JSON !== undefined) Fs.writeFileSync(process.env.BENCH_HOT_JSON, JSON.stringify({ samples, loads }))
}
