/**
 * What tracing costs on the tiny-task hot path, in paired rounds in one
 * process: a burst of `BENCH_TRACING_BURST` tiny `add` tasks
 * (`Effect.forEach(apply)` unbounded, as bench/ab-pair.ts) with effect's
 * default tracer (nothing recorded: what every caller without a tracer pays)
 * and with a recording tracer (effect's `NativeSpan`s, made and dropped: the
 * pool's work of a traced call, without an exporter's), alternating
 * (off/on/on/off…), with a full GC before each run. Prints the paired ratios
 * on/off of the main thread's CPU time and of the wall time per task: median,
 * min and max over `BENCH_TRACING_ROUNDS` rounds.
 *
 *   node bench/tracing-pair.ts [threads|processes]
 */
import * as Os from "node:os"
import * as V8 from "node:v8"
import * as Vm from "node:vm"
import { Effect, Scope, Tracer } from "effect"
import { WorkerPool } from "../src/index.ts"
import { tasks } from "./tasks.ts"

V8.setFlagsFromString("--expose-gc")
const gc = Vm.runInNewContext("gc") as () => void
const backend = (process.argv[2] ?? "threads") as "threads" | "processes"
const burst = Number(process.env.BENCH_TRACING_BURST ?? (backend === "threads" ? 20_000 : 5_000))
const rounds = Number(process.env.BENCH_TRACING_ROUNDS ?? 10)

let spans = 0
const recording = Tracer.make({
  span: (options) => {
    spans++
    return new Tracer.NativeSpan(options)
  }
})

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

const scope = await Effect.runPromise(Scope.make())
const pool = await Effect.runPromise(Scope.provide(WorkerPool.make({ size: 2, backend }), scope))
const range = Array.from({ length: burst }, (_, i) => i)
const run = (traced: boolean) => {
  const program = Effect.forEach(range, (i) => pool.apply(tasks.add, [i, 1]), { concurrency: "unbounded", discard: true })
  gc()
  const main0 = process.threadCpuUsage()
  const t = performance.now()
  return Effect.runPromise(traced ? Effect.provideService(program, Tracer.Tracer, recording) : program).then(() => {
    const main = process.threadCpuUsage(main0)
    return { wall: ((performance.now() - t) * 1000) / burst, main: (main.user + main.system) / burst }
  })
}

await run(false) // warm up
await run(true)
const ratios = { wall: [] as Array<number>, main: [] as Array<number> }
const totals = { off: { wall: 0, main: 0 }, on: { wall: 0, main: 0 } }
const load0 = Os.loadavg()[0]
for (let round = 0; round < rounds; round++) {
  const order = round % 2 === 0 ? [false, true] : [true, false]
  const samples: Record<string, { wall: number; main: number }> = {}
  for (const traced of order) samples[traced ? "on" : "off"] = await run(traced)
  for (const key of ["wall", "main"] as const) {
    ratios[key].push(samples.on[key] / samples.off[key])
    totals.off[key] += samples.off[key] / rounds
    totals.on[key] += samples.on[key] / rounds
  }
}
console.log(`${backend}, burst ${burst}, ${rounds} rounds, load average ${load0.toFixed(2)}–${Os.loadavg()[0].toFixed(2)}`)
for (const key of ["main", "wall"] as const) {
  console.log(
    `${key.padEnd(4)} µs/task off ${totals.off[key].toFixed(2).padStart(6)}  on ${totals.on[key].toFixed(2).padStart(6)}` +
      `   on/off paired: median ${median(ratios[key]).toFixed(3)}  min ${Math.min(...ratios[key]).toFixed(3)}` +
      `  max ${Math.max(...ratios[key]).toFixed(3)}`
  )
}
console.log(`spans made: ${spans}`)
await Effect.runPromise(Scope.close(scope, { _tag: "Success", value: undefined } as never))
process.exit(0)
