/**
 * Every pool the benchmark compares, behind one small interface.
 *
 * Each contender is used the way its documentation shows: our pool and
 * effect's RPC pool through Effect programs (one `Effect.runPromise` per
 * measured run), the promise-based pools through their `run` / `execute` /
 * `exec` with one task per call, and raw `worker_threads` with one
 * `postMessage` per task.
 */
import * as NodeWorker from "@effect/platform-node/NodeWorker"
import { Effect, Exit, Layer, Scope, Stream } from "effect"
import { RpcClient } from "effect/rpc"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Url from "node:url"
import { Worker } from "node:worker_threads"
import { Piscina } from "piscina"
import { FixedThreadPool } from "poolifier"
import { Tinypool } from "tinypool"
import workerpool from "workerpool"
import { type AsyncResult, type DispatchError, WorkerPool } from "../../src/index.ts"
import { Rpcs } from "../peers/effect-rpc.ts"
import { tasks } from "../tasks.ts"
import { chunk } from "./data.ts"
import { sleep } from "./stats.ts"

export type Rows = ReadonlyArray<ReadonlyArray<number>>
export type Floats = Float64Array<ArrayBuffer>

/** A started pool, with one method per scenario. Each returns what it computed, for checking. */
export interface Contender {
  /** Scenario 1: `n` tiny `add(i, 1)` tasks submitted at once; returns the sum of the results. */
  readonly burst: (n: number) => Promise<number>
  /** Scenario 2: `n` tiny `add(i, 1)` tasks, each awaited before the next is sent; returns the sum. */
  readonly oneAtATime: (n: number) => Promise<number>
  /** Scenario 3 (pools without `map`): the rows in chunks of `chunksize`, one task per chunk. */
  readonly rows: (rows: Rows, chunksize: number) => Promise<Array<number>>
  /** Scenario 4: one `cpu(seed, iterations)` task per seed, all submitted at once. */
  readonly cpu: (seeds: ReadonlyArray<number>, iterations: number) => Promise<Array<number>>
  /** Scenario 5: every array processed in a worker and returned; moved rather than copied with `transfer`. */
  readonly payload: (arrays: ReadonlyArray<Floats>, transfer: boolean) => Promise<Array<Floats>>
  /** Scenario 6: the first result of a new pool. */
  readonly first: () => Promise<number>
  readonly close: () => Promise<void>
}

/** A kind of pool: how to start one of a given size. */
export interface Kind<C extends Contender = Contender> {
  readonly id: string
  readonly label: string
  readonly start: (size: number) => Promise<C>
}

type Fn = "add" | "howManyWithinRangeRows" | "cpu" | "scaleCopy" | "scaleTransfer"
type Call = (fn: Fn, data: unknown, transfer?: Array<ArrayBuffer>) => Promise<any>

const peerFile = (name: string) => new URL(`../peers/${name}`, import.meta.url)

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

const sum = (xs: ReadonlyArray<number>) => {
  let s = 0
  for (let i = 0; i < xs.length; i++) s += xs[i]
  return s
}

/** A contender over a promise-returning `call`: one task per call. */
const fromCall = (call: Call, close: () => Promise<unknown>): Contender => ({
  burst: async (n) => {
    const pending = new Array<Promise<number>>(n)
    for (let i = 0; i < n; i++) pending[i] = call("add", [i, 1])
    return sum(await Promise.all(pending))
  },
  oneAtATime: async (n) => {
    let s = 0
    for (let i = 0; i < n; i++) s += await call("add", [i, 1])
    return s
  },
  rows: async (rows, chunksize) =>
    (await Promise.all(chunk(rows, chunksize).map((c) => call("howManyWithinRangeRows", c) as Promise<Array<number>>)))
      .flat(),
  cpu: (seeds, iterations) => Promise.all(seeds.map((seed) => call("cpu", [seed, iterations]))),
  payload: (arrays, transfer) =>
    Promise.all(arrays.map((a) => transfer ? call("scaleTransfer", a, [a.buffer]) : call("scaleCopy", a))),
  first: () => call("add", [1, 2]),
  close: async () => {
    await close()
  }
})

// ---------------------------------------------------------------------------
// effect-multiprocessing (ours)
// ---------------------------------------------------------------------------

/** Our pool: the scenarios as Effect programs over `WorkerPool`, as a user writes them. */
export interface Ours extends Contender {
  /** Scenario 1 with `applyAsync`: submit all, then `get` each result. */
  readonly burstAsync: (n: number) => Promise<number>
  /** Scenario 3: `map` with the default chunksize. */
  readonly map: (rows: Rows) => Promise<Array<number>>
  /** Scenario 3: `starmap` over `[row, 4, 8]` tuples, default chunksize. */
  readonly starmap: (tuples: ReadonlyArray<readonly [ReadonlyArray<number>, number, number]>) => Promise<Array<number>>
  /** Scenario 3: `imap` collected, with the given chunksize. */
  readonly imap: (rows: Rows, chunksize: number) => Promise<Array<number>>
  /** Scenario 4 with `starmap` (default chunksize) instead of one `apply` per task. */
  readonly cpuStarmap: (seeds: ReadonlyArray<number>, iterations: number) => Promise<Array<number>>
}

export const ours: Kind<Ours> = {
  id: "ours",
  label: "effect-multiprocessing",
  start: async (size) => {
    const scope = await Effect.runPromise(Scope.make())
    const pool = await Effect.runPromise(Scope.provide(WorkerPool.make({ size }), scope))
    const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)
    return {
      burst: (n) =>
        run(Effect.map(
          Effect.forEach(range(n), (i) => pool.apply(tasks.add, [i, 1]), { concurrency: "unbounded" }),
          sum
        )),
      burstAsync: (n) =>
        run(Effect.gen(function*() {
          const results = new Array<AsyncResult.AsyncResult<number, DispatchError>>(n)
          for (let i = 0; i < n; i++) results[i] = yield* pool.applyAsync(tasks.add, [i, 1])
          let s = 0
          for (let i = 0; i < n; i++) s += yield* results[i].get()
          return s
        })),
      oneAtATime: (n) =>
        run(Effect.gen(function*() {
          let s = 0
          for (let i = 0; i < n; i++) s += yield* pool.apply(tasks.add, [i, 1])
          return s
        })),
      rows: (rows, chunksize) => run(pool.map(tasks.howManyWithinRangeRow, rows, { chunksize })),
      map: (rows) => run(pool.map(tasks.howManyWithinRangeRow, rows)),
      starmap: (tuples) => run(pool.starmap(tasks.howManyWithinRange, tuples)),
      imap: (rows, chunksize) => run(Stream.runCollect(pool.imap(tasks.howManyWithinRangeRow, rows, { chunksize }))),
      cpu: (seeds, iterations) =>
        run(Effect.forEach(seeds, (seed) => pool.apply(tasks.cpu, [seed, iterations]), { concurrency: "unbounded" })),
      cpuStarmap: (seeds, iterations) => run(pool.starmap(tasks.cpu, seeds.map((seed) => [seed, iterations] as const))),
      payload: (arrays, transfer) =>
        run(Effect.forEach(
          arrays,
          (a) =>
            transfer
              ? pool.apply(tasks.scaleTransfer, [a], { transfer: [a.buffer] })
              : pool.apply(tasks.scaleCopy, [a]),
          { concurrency: "unbounded" }
        )),
      first: () => run(pool.apply(tasks.add, [1, 2])),
      close: () => run(Scope.close(scope, Exit.void))
    }
  }
}

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

export const rawOneAtATime: Kind = {
  id: "raw1",
  label: "raw worker_threads (1 in flight per thread)",
  start: async (size) => rawPool(size, false)
}

// ---------------------------------------------------------------------------
// the npm peers
// ---------------------------------------------------------------------------

const piscinaKind = (concurrentTasksPerWorker: number | undefined): Kind => ({
  id: concurrentTasksPerWorker === undefined ? "piscina" : `piscina${concurrentTasksPerWorker}`,
  label: concurrentTasksPerWorker === undefined ? "piscina" : `piscina (${concurrentTasksPerWorker} tasks/worker)`,
  start: async (size) => {
    const pool = new Piscina({
      filename: peerFile("piscina-worker.ts").href,
      minThreads: size,
      maxThreads: size,
      idleTimeout: 60_000,
      ...(concurrentTasksPerWorker === undefined ? {} : { concurrentTasksPerWorker })
    })
    return fromCall(
      (fn, data, transfer) => pool.run(data, { name: fn, ...(transfer ? { transferList: transfer } : {}) }),
      () => pool.destroy()
    )
  }
})

export const piscina = piscinaKind(undefined)
/** piscina's best setting for tiny tasks (measured in FACTS.md). */
export const piscina64 = piscinaKind(64)

export const tinypool: Kind = {
  id: "tinypool",
  label: "tinypool",
  start: async (size) => {
    const pool = new Tinypool({ filename: peerFile("tinypool-worker.ts").href, minThreads: size, maxThreads: size })
    return fromCall(
      (fn, data, transfer) => pool.run(data, { name: fn, ...(transfer ? { transferList: transfer } : {}) }),
      () => pool.destroy()
    )
  }
}

/** How many times poolifier's `destroy` did not finish within 2 s in this run. */
export let poolifierDestroyHangs = 0

export const poolifier: Kind = {
  id: "poolifier",
  label: "poolifier",
  start: async (size) => {
    const pool = new FixedThreadPool<unknown, any>(size, Url.fileURLToPath(peerFile("poolifier-worker.ts")), {
      errorHandler: (error) => console.error("poolifier worker error", error)
    })
    return fromCall(
      (fn, data, transfer) => pool.execute(data, fn, undefined, transfer),
      // poolifier 5.3's destroy sometimes waits forever (about 1 in 10 here): its worker answers the kill
      // message and closes its port at once, and the answer can be lost. Don't let that stall the run.
      () =>
        Promise.race([
          pool.destroy(),
          sleep(2_000).then(() => {
            poolifierDestroyHangs++
          })
        ])
    )
  }
}

export const workerpoolKind: Kind = {
  id: "workerpool",
  label: "workerpool",
  start: async (size) => {
    const pool = workerpool.pool(Url.fileURLToPath(peerFile("workerpool-worker.ts")), {
      minWorkers: size,
      maxWorkers: size,
      workerType: "thread"
    })
    return fromCall(
      (fn, data, transfer) => pool.exec(fn, [data], transfer ? { transfer } : undefined) as Promise<any>,
      async () => {
        await pool.terminate()
      }
    )
  }
}

// ---------------------------------------------------------------------------
// effect's RPC worker pool
// ---------------------------------------------------------------------------

/**
 * `RpcClient.layerProtocolWorker({ size })` with its default concurrency (one
 * request in flight per worker), over `NodeWorker` threads running an
 * `RpcServer`. Closing terminates the threads first: its graceful close waits
 * 5 s per pool (NodeWorker's fixed timeout), which would only slow the run.
 */
export const effectRpc: Kind = {
  id: "rpc",
  label: "effect RPC worker pool",
  start: async (size) => {
    const threads: Array<Worker> = []
    const protocol = RpcClient.layerProtocolWorker({ size }).pipe(
      Layer.provide(NodeWorker.layer(() => {
        const worker = new Worker(peerFile("effect-rpc-worker.ts"))
        threads.push(worker)
        return worker
      }))
    )
    const scope = await Effect.runPromise(Scope.make())
    const client = await Effect.runPromise(
      Effect.gen(function*() {
        const context = yield* Layer.build(protocol)
        return yield* Effect.provideContext(RpcClient.make(Rpcs), context)
      }).pipe(Scope.provide(scope))
    )
    const run = <A, E>(effect: Effect.Effect<A, E>) => Effect.runPromise(effect)
    return {
      burst: (n) =>
        run(Effect.map(
          Effect.forEach(range(n), (i) => client.add({ args: [i, 1] }), { concurrency: "unbounded" }),
          sum
        )),
      oneAtATime: (n) =>
        run(Effect.gen(function*() {
          let s = 0
          for (let i = 0; i < n; i++) s += yield* client.add({ args: [i, 1] })
          return s
        })),
      rows: (rows, chunksize) =>
        run(Effect.map(
          Effect.forEach(chunk(rows, chunksize), (c) => client.howManyWithinRangeRows({ rows: c }), {
            concurrency: "unbounded"
          }),
          (parts) => parts.flat()
        )),
      cpu: (seeds, iterations) =>
        run(Effect.forEach(seeds, (seed) => client.cpu({ args: [seed, iterations] }), { concurrency: "unbounded" })),
      payload: (arrays, transfer) =>
        run(Effect.forEach(
          arrays,
          (values) => transfer ? client.scaleTransfer({ values }) : client.scaleCopy({ values }),
          { concurrency: "unbounded" }
        )),
      first: () => run(client.add({ args: [1, 2] })),
      close: async () => {
        await Promise.all(threads.map((t) => t.terminate()))
        await run(Scope.close(scope, Exit.void))
      }
    }
  }
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

/** Every pool but ours, in table order. */
export const peers: ReadonlyArray<Kind> = [
  rawPipelined,
  rawOneAtATime,
  piscina,
  piscina64,
  poolifier,
  tinypool,
  workerpoolKind,
  effectRpc
]
