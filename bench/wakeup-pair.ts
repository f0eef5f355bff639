/**
 * Paired rounds for the wake-up fast path (issue 13, item 1): the latency of
 * one tiny `apply` at a time, with `fastWakeup` on and off, against the raw
 * one-worker `postMessage` round trip, and the two raw designs the fast path
 * was chosen between:
 * - doorbell: the worker waits in `Atomics.wait`, the caller posts and then
 *   `Atomics.notify`s, the worker takes the message with
 *   `receiveMessageOnPort` (what the pool does);
 * - ring: a shared-memory slot, `v8.serialize`d call and result, the worker in
 *   `Atomics.wait`, the caller on `Atomics.waitAsync`.
 *
 *   node bench/wakeup-pair.ts            (BENCH_WAKEUP_ROUNDS=30, BENCH_WAKEUP_N=400)
 *
 * Every round runs each contender once, in a shuffled order, `N` calls each
 * (after a warm-up); prints per contender the median µs per call and, paired
 * round by round, its ratio to raw: median (min–max), with the load average.
 */
import * as Os from "node:os"
import * as V8 from "node:v8"
import { isMainThread, parentPort, receiveMessageOnPort, Worker, workerData } from "node:worker_threads"

const WAIT_MS = 4

if (!isMainThread) {
  const port = parentPort!
  const data = workerData as { kind: "raw" | "bell" | "ring"; bell: Int32Array; ring: Int32Array }
  const add = (xs: [number, number]) => xs[0] + xs[1]
  if (data.kind === "raw") {
    port.on("message", (m: [number, [number, number]]) => port.postMessage([m[0], add(m[1])]))
  } else if (data.kind === "bell") {
    const bell = data.bell
    const onMessage = (m: [number, [number, number]]) => port.postMessage([m[0], add(m[1])])
    const park = () => {
      const seen = Atomics.load(bell, 0)
      let taken = receiveMessageOnPort(port)
      if (taken === undefined) {
        Atomics.store(bell, 1, 1)
        Atomics.wait(bell, 0, seen, WAIT_MS)
        Atomics.store(bell, 1, 0)
        taken = receiveMessageOnPort(port)
      }
      if (taken !== undefined) onMessage(taken.message)
      setImmediate(park)
    }
    port.on("message", onMessage)
    setImmediate(park)
  } else {
    // ring: [0] requests, [1] replies, [2] length, then bytes from offset 16
    const ring = data.ring
    const bytes = new Uint8Array(ring.buffer, 16)
    let seen = 0
    const loop = () => {
      while (Atomics.load(ring, 0) === seen) {
        if (Atomics.wait(ring, 0, seen, WAIT_MS) === "timed-out") return setImmediate(loop)
      }
      seen = Atomics.load(ring, 0)
      const call = V8.deserialize(bytes.subarray(0, ring[2])) as [number, number]
      const out = V8.serialize(add(call))
      bytes.set(out)
      ring[2] = out.length
      Atomics.add(ring, 1, 1)
      Atomics.notify(ring, 1)
      setImmediate(loop)
    }
    setImmediate(loop)
  }
  port.postMessage("ready")
} else {
  const { Effect, Exit, Scope } = await import("effect")
  const { WorkerPool } = await import("../src/index.ts")
  const { tasks } = await import("./tasks.ts")
  const ROUNDS = Number(process.env.BENCH_WAKEUP_ROUNDS ?? 30)
  const N = Number(process.env.BENCH_WAKEUP_N ?? 400)

  type Contender = { readonly id: string; readonly seq: (n: number) => Promise<number>; readonly close: () => Promise<void> }

  const rawWorker = async (kind: "raw" | "bell" | "ring"): Promise<Contender> => {
    const bell = new Int32Array(new SharedArrayBuffer(8))
    const ring = new Int32Array(new SharedArrayBuffer(16 + 1024))
    const worker = new Worker(new URL(import.meta.url), { workerData: { kind, bell, ring } })
    await new Promise((resolve) => worker.once("message", resolve))
    const pending = new Map<number, (value: number) => void>()
    worker.on("message", (m: [number, number]) => {
      pending.get(m[0])!(m[1])
      pending.delete(m[0])
    })
    let id = 0
    const post = (args: [number, number]) =>
      new Promise<number>((resolve) => {
        pending.set(id, resolve)
        worker.postMessage([id++, args])
        if (kind === "bell") {
          Atomics.add(bell, 0, 1)
          if (Atomics.load(bell, 1) !== 0) Atomics.notify(bell, 0, 1)
        }
      })
    const bytes = new Uint8Array(ring.buffer, 16)
    const ringCall = async (args: [number, number]) => {
      const seen = Atomics.load(ring, 1)
      const out = V8.serialize(args)
      bytes.set(out)
      ring[2] = out.length
      Atomics.add(ring, 0, 1)
      Atomics.notify(ring, 0)
      const wait = Atomics.waitAsync(ring, 1, seen)
      if (wait.async) await wait.value
      return V8.deserialize(bytes.subarray(0, ring[2])) as number
    }
    const call = kind === "ring" ? ringCall : post
    return {
      id: kind === "raw" ? "raw postMessage, one worker" : kind === "bell" ? "raw doorbell" : "raw ring (v8.serialize)",
      seq: async (n) => {
        let s = 0
        for (let i = 0; i < n; i++) s += await call([i, 1])
        return s
      },
      close: async () => void (await worker.terminate())
    }
  }

  const ours = async (fastWakeup: boolean): Promise<Contender> => {
    const scope = await Effect.runPromise(Scope.make())
    const pool = await Effect.runPromise(Scope.provide(WorkerPool.make({ size: 1, fastWakeup }), scope))
    return {
      id: `ours, fastWakeup ${fastWakeup ? "on" : "off"}`,
      seq: (n) =>
        Effect.runPromise(Effect.gen(function*() {
          let s = 0
          for (let i = 0; i < n; i++) s += yield* pool.apply(tasks.add, [i, 1])
          return s
        })),
      close: () => Effect.runPromise(Scope.close(scope, Exit.void))
    }
  }

  const contenders = [await rawWorker("raw"), await ours(true), await ours(false), await rawWorker("bell"), await rawWorker("ring")]
  const expected = (n: number) => (n * (n - 1)) / 2 + n
  for (const c of contenders) if ((await c.seq(N)) !== expected(N)) throw new Error(`${c.id}: wrong sum`)
  const times = new Map(contenders.map((c) => [c.id, [] as Array<number>]))
  const load0 = Os.loadavg()[0]
  for (let r = 0; r < ROUNDS; r++) {
    const order = [...contenders].sort(() => Math.random() - 0.5)
    for (const c of order) {
      const t0 = performance.now()
      await c.seq(N)
      times.get(c.id)!.push(((performance.now() - t0) * 1000) / N)
    }
  }
  const load1 = Os.loadavg()[0]
  for (const c of contenders) await c.close()
  const median = (xs: ReadonlyArray<number>) => {
    const s = [...xs].sort((a, b) => a - b)
    const m = s.length >> 1
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
  }
  const raw = times.get(contenders[0].id)!
  console.log(`${ROUNDS} rounds × ${N} sequential calls; load average ${load0.toFixed(1)} → ${load1.toFixed(1)} (${Os.availableParallelism()} CPUs)`)
  console.log(`${"contender".padEnd(30)} ${"median µs".padStart(10)} ${"min–max µs".padStart(14)}   ÷ raw, paired: median (min–max)`)
  for (const c of contenders) {
    const xs = times.get(c.id)!
    const ratios = xs.map((x, i) => x / raw[i])
    console.log(
      `${c.id.padEnd(30)} ${median(xs).toFixed(1).padStart(10)} ${`${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`.padStart(14)}   ` +
        `${median(ratios).toFixed(2)}× (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}×)`
    )
  }
}
