/**
 * Raw designs for one tiny call at a time (issue 13, scenario 2's 0.6× target), paired by round against the raw
 * one-worker `postMessage` round trip: what the caller's side of a round trip could gain.
 * - raw: both sides in their event loops;
 * - bell: the worker waits in `Atomics.wait` and is rung after each `postMessage` (the pool's doorbell), its reply
 *   reaching the caller's event loop;
 * - syncwait: the same, the worker replying on a MessageChannel of its own and bumping a reply cell; the caller
 *   blocks in `Atomics.wait` on that cell (at most 1 ms) and takes the reply with `receiveMessageOnPort`;
 * - asyncwait: the same with the caller on `Atomics.waitAsync`.
 *
 *   node bench/caller-wait-pair.ts        (ROUNDS=20, N=2000; KINDS=raw,bell,syncwait,asyncwait)
 *
 * Prints per design the median µs per call and its paired ratio to raw: median (min–max).
 */
import { isMainThread, parentPort, receiveMessageOnPort, Worker, workerData, MessageChannel, MessagePort } from "node:worker_threads"
const WAIT_MS = 4
if (!isMainThread) {
  const port = parentPort!
  const data = workerData as { kind: string; bell: Int32Array; back: Int32Array; reply?: MessagePort }
  const out: MessagePort = data.reply ?? port
  const back = data.back
  const add = (xs: [number, number]) => xs[0] + xs[1]
  const answer = (m: [number, [number, number]]) => {
    out.postMessage([m[0], add(m[1])])
    if (data.kind !== "raw" && data.kind !== "bell") { Atomics.add(back, 0, 1); if (Atomics.load(back, 1) !== 0) Atomics.notify(back, 0) }
  }
  if (data.kind === "raw") port.on("message", answer)
  else {
    const bell = data.bell
    const park = () => {
      const seen = Atomics.load(bell, 0)
      let taken = receiveMessageOnPort(port)
      if (taken === undefined) {
        Atomics.store(bell, 1, 1)
        Atomics.wait(bell, 0, seen, WAIT_MS)
        Atomics.store(bell, 1, 0)
        taken = receiveMessageOnPort(port)
      }
      if (taken !== undefined) answer(taken.message)
      setImmediate(park)
    }
    port.on("message", answer)
    setImmediate(park)
  }
} else {
  const kinds = (process.env.KINDS ?? "raw,bell,syncwait,asyncwait").split(",")
  const N = Number(process.env.N ?? 2000), ROUNDS = Number(process.env.ROUNDS ?? 20)
  const make = async (kind: string) => {
    const bell = new Int32Array(new SharedArrayBuffer(8)), back = new Int32Array(new SharedArrayBuffer(8))
    const ch = kind === "syncwait" || kind === "asyncwait" ? new MessageChannel() : undefined
    const w = new Worker(new URL(import.meta.url), { workerData: { kind, bell, back, reply: ch?.port2 }, transferList: ch ? [ch.port2] : [] })
    const inbox: MessagePort | Worker = ch?.port1 ?? w
    let pending: ((v: number) => void) | undefined
    let stash: number | undefined
    inbox.on("message", (m: [number, number]) => { const p = pending; pending = undefined; if (p) p(m[1]); else stash = m[1] })
    const wait = () => stash !== undefined ? (() => { const v = stash; stash = undefined; return v })() : new Promise<number>((r) => { pending = r })
    const post = (i: number) => { w.postMessage([i, [i, 1]]); if (kind !== "raw") { Atomics.add(bell, 0, 1); if (Atomics.load(bell, 1) !== 0) Atomics.notify(bell, 0, 1) } }
    const call = (i: number): Promise<number> | number => {
      if (kind === "syncwait") {
        const seen = Atomics.load(back, 0)
        post(i)
        Atomics.store(back, 1, 1)
        Atomics.wait(back, 0, seen, 1)
        Atomics.store(back, 1, 0)
        const got = receiveMessageOnPort(ch!.port1)
        if (got !== undefined) return got.message[1]
        return wait()
      }
      if (kind === "asyncwait") {
        const seen = Atomics.load(back, 0)
        post(i)
        Atomics.store(back, 1, 1)
        const w = Atomics.waitAsync(back, 0, seen, 5)
        const got0 = receiveMessageOnPort(ch!.port1)
        if (got0 !== undefined) { Atomics.store(back, 1, 0); return got0.message[1] }
        return (w.async ? w.value : Promise.resolve()).then(() => {
          Atomics.store(back, 1, 0)
          const got = receiveMessageOnPort(ch!.port1)
          if (got !== undefined) return got.message[1]
          return wait()
        })
      }
      return new Promise((r) => { pending = r; post(i) })
    }
    await new Promise((r) => setTimeout(r, 100))
    return { run: async () => { const t = performance.now(); let s = 0; for (let i = 0; i < N; i++) s += await call(i); if (s !== N * (N - 1) / 2 + N) throw new Error("sum"); return (performance.now() - t) * 1000 / N }, close: () => w.terminate() }
  }
  const cs = Object.fromEntries(await Promise.all(kinds.map(async (k) => [k, await make(k)] as const)))
  for (const k of kinds) { await cs[k].run(); await cs[k].run() }
  const res: Record<string, number[]> = Object.fromEntries(kinds.map((k) => [k, []]))
  for (let r = 0; r < ROUNDS; r++) { const order = [...kinds].sort(() => Math.random() - 0.5); for (const k of order) res[k].push(await cs[k].run()) }
  const med = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[s.length >> 1] }
  for (const k of kinds) { const ratios = res[k].map((x, i) => x / res.raw[i]); console.log(k.padEnd(10), med(res[k]).toFixed(1).padStart(6), "µs  /raw", med(ratios).toFixed(2), `(${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`) }
  for (const k of kinds) await cs[k].close()
}
