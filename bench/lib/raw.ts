/**
 * The raw `worker_threads` baselines (one `postMessage` per task each way, no
 * pool logic) and the bare worker threads that start-up and memory are
 * compared with.
 */
import * as Os from "node:os"
import * as Path from "node:path"
import { Worker } from "node:worker_threads"
import { type Call, type Contender, type Fn, fromCall, type Kind, peerFile, range } from "./contender.ts"

// ---------------------------------------------------------------------------
// raw worker_threads
// ---------------------------------------------------------------------------

/**
 * The raw baseline: `size` threads, one `postMessage` per task. `pipelined`
 * sends every task at once, round robin; otherwise each thread has at most one
 * task in flight and the rest wait in a queue on the main thread.
 */
const rawPool = (size: number, pipelined: boolean, env?: Record<string, string | undefined>): Contender => {
  const pending = new Map<number, (value: any) => void>()
  // a FIFO with a moving head: Array#shift is O(n) on large arrays
  let queue: Array<[number, Fn, unknown, Array<ArrayBuffer> | undefined]> = []
  let head = 0
  const idle: Array<Worker> = []
  let nextId = 0
  let next = 0
  const workers = range(size).map(() => {
    const worker = new Worker(peerFile("raw-worker.ts"), env === undefined ? {} : { env })
    worker.on("message", (message: "ready" | [number, unknown]) => {
      if (message === "ready") return
      const resolve = pending.get(message[0])!
      pending.delete(message[0])
      if (!pipelined) {
        if (head === queue.length) {
          idle.push(worker)
        } else {
          const job = queue[head++]
          if (head === queue.length) {
            queue = []
            head = 0
          }
          worker.postMessage([job[0], job[1], job[2]], job[3])
        }
      }
      resolve(message[1])
    })
    idle.push(worker)
    return worker
  })
  const call: Call = (fn, data, transfer) =>
    new Promise((resolve) => {
      const id = nextId++
      pending.set(id, resolve)
      if (pipelined) {
        workers[next++ % size].postMessage([id, fn, data], transfer)
      } else {
        const worker = idle.pop()
        if (worker === undefined) queue.push([id, fn, data, transfer])
        else worker.postMessage([id, fn, data], transfer)
      }
    })
  return fromCall(call, () => Promise.all(workers.map((w) => w.terminate())))
}

export const rawPipelined: Kind = {
  id: "raw",
  label: "raw worker_threads (pipelined)",
  start: async (size) => rawPool(size, true)
}

/**
 * Scenario 6's second raw reference: raw workers with Node's on-disk compile
 * cache on (`NODE_COMPILE_CACHE`, as our pool sets for its workers), so that
 * neither compiles nor strips the types of its `.ts` files again. Its ratio to
 * ours shows what is left of our start-up once both use the cache.
 */
export const rawCompileCache: Kind = {
  id: "raw-cc",
  label: "raw worker_threads with Node's compile cache",
  start: async (size) =>
    rawPool(size, true, {
      ...process.env,
      NODE_COMPILE_CACHE: process.env.NODE_COMPILE_CACHE ?? Path.join(Os.tmpdir(), "node-compile-cache")
    })
}

/**
 * The strongest one-at-a-time baseline (scenario 2): one raw worker, one
 * `postMessage` round trip per call. Round robin over more workers, each
 * worker sits idle through the others' round trips before its next call,
 * which measured 1.6–1.7× slower per call (issue 13): a weaker reference.
 */
export const rawOneWorker: Kind = {
  id: "raw",
  label: "raw worker_threads (one worker, one postMessage round trip)",
  start: async () => rawPool(1, true)
}

/** Scenario 2's former raw reference, for comparison: calls alternate between `size` raw workers. */
export const rawAlternating: Kind = {
  id: "raw-alternating",
  label: "raw worker_threads (round robin over the pool's workers)",
  start: async (size) => rawPool(size, true)
}

export const rawOneAtATime: Kind = {
  id: "raw1",
  label: "raw worker_threads (1 in flight per thread)",
  start: async (size) => rawPool(size, false)
}


// ---------------------------------------------------------------------------
// bare worker threads (references for start-up and memory)
// ---------------------------------------------------------------------------

/**
 * `size` plain worker threads running `bench/peers/<file>`, each answering one
 * message: the floor that start-up and memory are compared with. Only `first`,
 * `cpu` (one message per thread) and `close` are meaningful.
 */
export const bare = (id: string, label: string, file: string): Kind => ({
  id,
  label,
  start: async (size) => {
    const workers = range(size).map(() => new Worker(peerFile(file)))
    const ask = (worker: Worker, n: number) =>
      new Promise<number>((resolve) => {
        worker.once("message", resolve)
        worker.postMessage(n)
      })
    const unsupported = () => Promise.reject(new Error(`${label} runs no tasks`))
    return {
      burst: unsupported,
      oneAtATime: unsupported,
      rows: unsupported,
      payload: unsupported,
      cpu: async (seeds) => {
        await Promise.all(workers.map((w) => ask(w, 1)))
        return seeds.map(() => 0)
      },
      first: () => ask(workers[0], 2),
      close: async () => {
        await Promise.all(workers.map((w) => w.terminate()))
      }
    }
  }
})

export const bareWorker = bare("bare", "bare worker thread (imports nothing)", "bare-worker.ts")
export const bareEffectWorker = bare("bare-effect", "bare worker thread that imports effect", "bare-effect-worker.ts")
export const bareTasksWorker = bare(
  "bare-tasks",
  "bare worker thread that imports bench/tasks.ts (our task module) through the real package index",
  "bare-tasks-worker.ts"
)

