/**
 * Paired rounds for start-up (issue 13, "ready means ready"): from nothing to
 * the first result of a new pool of `SIZE` threads (`WorkerPool.make`, then
 * `apply(add, [1, 2])`), against raw `worker_threads` with Node's compile
 * cache (scenario 6a's `raw-cc` row, the strongest raw reference).
 *
 *   node bench/startup-pair.ts [warm|fresh|both] [base checkout]   (BENCH_STARTUP_ROUNDS=20, BENCH_SIZE=2)
 *
 * - warm: both in this process, one after the other in a shuffled order each
 *   round (as scenario 6 runs them: the caller's code is warm after round 1);
 * - fresh: a new Node.js process per run, which imports everything first and
 *   then times the start-up (the caller's code as cold as in a user's program).
 *
 * Prints per contender the median ms, and paired round by round the ratio
 * ours / raw-cc: median (min–max), with the load average. Ours also reports
 * how long `make` took (ready) out of the whole. Given another checkout of the
 * project (with its `node_modules`), its pool runs in the same rounds, as
 * `base`, and the paired ratio ours / base is printed too.
 */
import * as ChildProcess from "node:child_process"
import * as Os from "node:os"
import * as Url from "node:url"

const SIZE = Number(process.env.BENCH_SIZE ?? 2)
const ROUNDS = Number(process.env.BENCH_STARTUP_ROUNDS ?? 20)

type Sample = { readonly total: number; readonly make?: number }
type Who = "ours" | "raw-cc" | "base"

const probing = process.argv[2] === "probe"
const baseDir = probing ? process.argv[4] : process.argv[3]
const base = baseDir === undefined ? undefined : Url.pathToFileURL(`${baseDir}/`).href
const who: ReadonlyArray<Who> = base === undefined ? ["ours", "raw-cc"] : ["ours", "raw-cc", "base"]

const once = async (who: Who): Promise<Sample> => {
  const C = await import("./lib/contenders.ts")
  if (who === "raw-cc") {
    const t0 = performance.now()
    const pool = await C.rawCompileCache.start(SIZE)
    const value = await pool.first()
    const total = performance.now() - t0
    if (value !== 3) throw new Error(`first result ${value}`)
    await pool.close()
    return { total }
  }
  const { Effect, Scope, Exit } = await import("effect")
  const root = who === "base" ? base! : new URL("../", import.meta.url).href
  const { WorkerPool } = await import(`${root}src/index.ts`)
  const { tasks } = await import(`${root}bench/tasks.ts`)
  const t0 = performance.now()
  const scope = await Effect.runPromise(Scope.make())
  const pool = await Effect.runPromise(Scope.provide(WorkerPool.make({ size: SIZE }), scope)) as {
    apply: (task: unknown, args: ReadonlyArray<unknown>) => import("effect").Effect.Effect<number>
  }
  const t1 = performance.now()
  const value = await Effect.runPromise(pool.apply(tasks.add, [1, 2]))
  const total = performance.now() - t0
  if (value !== 3) throw new Error(`first result ${value}`)
  await Effect.runPromise(Scope.close(scope, Exit.void))
  return { total, make: t1 - t0 }
}

const self = Url.fileURLToPath(import.meta.url)

const fresh = (who: Who): Promise<Sample> =>
  new Promise((resolve, reject) => {
    const args = [...process.execArgv, self, "probe", who, ...(baseDir === undefined ? [] : [baseDir])]
    ChildProcess.execFile(process.execPath, args, (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stderr}`))
      else resolve(JSON.parse(stdout.trim().split("\n").pop()!))
    })
  })

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const f = (x: number) => x.toFixed(x < 10 ? 2 : 1)

const shuffled = <A>(xs: ReadonlyArray<A>): Array<A> => {
  const out = [...xs]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

const rounds = async (mode: "warm" | "fresh") => {
  const run = mode === "warm" ? once : (w: Who) => fresh(w)
  // one unmeasured run of each: fills the compile cache, loads the modules
  for (const w of who) await run(w)
  const samples = new Map<Who, Array<Sample>>(who.map((w) => [w, []]))
  for (let r = 0; r < ROUNDS; r++) {
    for (const w of shuffled(who)) samples.get(w)!.push(await run(w))
  }
  const totals = (w: Who) => samples.get(w)!.map((s) => s.total)
  const paired = (a: Who, b: Who) => {
    const ratios = totals(a).map((x, i) => x / totals(b)[i])
    return `paired ${a}/${b} ${f(median(ratios))}× (${f(Math.min(...ratios))}–${f(Math.max(...ratios))})`
  }
  const line = who.map((w) => {
    const make = w === "raw-cc" ? "" : ` (make ${f(median(samples.get(w)!.map((s) => s.make!)))})`
    return `${w} ${f(median(totals(w)))} ms${make}`
  })
  const pairs = [paired("ours", "raw-cc"), ...(base === undefined ? [] : [paired("base", "raw-cc"), paired("ours", "base")])]
  console.log(
    `${mode} (${ROUNDS} rounds, size ${SIZE}): ${line.join(", ")}; ${pairs.join("; ")}; load ${
      Os.loadavg().map((l) => l.toFixed(2)).join(" ")
    }`
  )
}

if (probing) {
  console.log(JSON.stringify(await once(process.argv[3] as Who)))
} else {
  const mode = process.argv[2] ?? "both"
  if (mode === "warm" || mode === "both") await rounds("warm")
  if (mode === "fresh" || mode === "both") await rounds("fresh")
}
