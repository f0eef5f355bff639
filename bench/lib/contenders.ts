/**
 * Every pool the benchmark compares, behind one small interface
 * (`contender.ts`; the raw baselines are in `raw.ts`, re-exported here).
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
import * as Url from "node:url"
import { Worker } from "node:worker_threads"
import { Piscina } from "piscina"
import { FixedThreadPool } from "poolifier"
import { Tinypool } from "tinypool"
import workerpool from "workerpool"
import { type AsyncResult, type DispatchError, WorkerPool } from "../../src/index.ts"
import { Rpcs } from "../peers/effect-rpc.ts"
import { tasks } from "../tasks.ts"
import { type Contender, fromCall, type Kind, peerFile, range, type Rows, sum } from "./contender.ts"
import { chunk } from "./data.ts"
import { rawOneAtATime, rawPipelined } from "./raw.ts"
import { sleep } from "./stats.ts"

export * from "./contender.ts"
export * from "./raw.ts"

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
