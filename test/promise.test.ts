/**
 * The Promise API (`effect-multiprocessing/promise`, src/Promise.ts) with real
 * workers on both backends: results, `for await` over the imap streams,
 * cancellation by `AbortSignal` reaching the worker, `await using`, the
 * errors as themselves, the lifecycle; and the Effect-native way to call a
 * pool from Promise code, a `ManagedRuntime` over `WorkerPool.layer`.
 */
import { afterEach, assert, describe, expectTypeOf, it } from "@effect/vitest"
import { Effect, ManagedRuntime } from "effect"
import * as fs from "node:fs"
import { WorkerPool } from "../src/index.ts"
import {
  type AsyncResult,
  IllegalArgumentError,
  Pool,
  PoolNotRunning,
  PoolStillRunning,
  PoolTerminated,
  TaskError,
  TimeoutError,
  WorkerCrashed
} from "../src/Promise.ts"
import * as Flags from "./fixtures/flags.ts"
import { tasks as promiseTasks } from "./fixtures/promise-tasks.ts"
import { Odd, tasks } from "./fixtures/tasks.ts"
import { backends, liveWorkers, load, open, runFixture, waitFor } from "./utils.ts"

/** The rejection of `promise` (failing the test if it resolves). */
const rejection = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    (value) => assert.fail(`expected a rejection, got ${String(value)}`),
    (error: unknown) => error
  )

describe("Promise API types", () => {
  it("calls are typed from the task, as in the Effect API", () => {
    // only type-checked: nothing here runs a pool
    const typeOnly = (_checks: (pool: Pool) => void) => {}
    typeOnly((pool) => {
      expectTypeOf(pool.apply(tasks.add, [1, 2])).toEqualTypeOf<Promise<number>>()
      expectTypeOf(pool.apply(tasks.sleepThen, [1])).toEqualTypeOf<Promise<number>>() // a Promise unwrapped
      expectTypeOf(pool.apply(tasks.half, [2])).toEqualTypeOf<Promise<number>>() // an Effect unwrapped
      expectTypeOf(pool.map(tasks.square, [1, 2])).toEqualTypeOf<Promise<Array<number>>>()
      expectTypeOf(pool.starmap(tasks.add, [[1, 2]])).toEqualTypeOf<Promise<Array<number>>>()
      expectTypeOf(pool.imap(tasks.square, [1, 2])).toEqualTypeOf<AsyncIterable<number>>()
      expectTypeOf(pool.imapUnordered(tasks.tagWithWorker, [1])).toEqualTypeOf<
        AsyncIterable<readonly [number, string]>
      >()
      expectTypeOf(pool.applyAsync(tasks.add, [1, 2])).toEqualTypeOf<Promise<AsyncResult<number>>>()
      // @ts-expect-error: add takes two numbers
      void pool.apply(tasks.add, [1, "2"])
      // @ts-expect-error: map needs a task callable with one argument
      void pool.map(tasks.add, [1, 2])
    })
    expectTypeOf<Awaited<ReturnType<typeof Pool.create>>>().toEqualTypeOf<Pool>()
  })
})

for (const backend of backends) {
  describe(`Promise API (${backend})`, () => {
    const made: Array<Flags.Flags> = []
    /** Fresh flags, removed after the test. */
    const flags = (length = 4): Flags.Flags => {
      const handle = Flags.make(backend, length)
      made.push(handle)
      return handle
    }
    /** Waits until flag `index` is set (or counter `index` reaches `atLeast`): `waitFor` of test/utils.ts. */
    const reached = (handle: Flags.Flags, index: number, atLeast = 1) =>
      Effect.runPromise(waitFor(handle, index, atLeast))
    afterEach(() => {
      for (const handle of made.splice(0)) {
        if (handle._tag === "Files") fs.rmSync(handle.dir, { recursive: true, force: true })
      }
    })

    it("apply, map and starmap resolve with the results", async () => {
      await using pool = await Pool.create({ size: 2, backend })
      assert.strictEqual(pool.size, 2)
      assert.strictEqual(await pool.apply(tasks.add, [2, 3]), 5)
      assert.deepStrictEqual(await pool.map(tasks.square, [1, 2, 3, 4, 5], { chunksize: 2 }), [1, 4, 9, 16, 25])
      assert.deepStrictEqual(await pool.starmap(tasks.add, [[1, 2], [3, 4]]), [3, 7])
      assert.deepStrictEqual(await pool.map(tasks.square, []), [])
      assert.deepStrictEqual(await pool.broadcast(tasks.square, [3]), [9, 9])
      // a call has handed its tasks to the pool by the time it returns
      const pending = pool.map(tasks.square, [1, 2, 3], { chunksize: 1 })
      assert.strictEqual(pool.stats.queued + pool.stats.running, 3)
      assert.deepStrictEqual(await pending, [1, 4, 9])
      const stats = pool.stats
      assert.strictEqual(stats.workers.idle + stats.workers.busy + stats.workers.starting, 2)
      assert.isAtLeast(stats.succeeded, 4)
    })

    it("for await over imap yields in input order, over imapUnordered in completion order", async () => {
      await using pool = await Pool.create({ size: 2, backend })
      const ordered: Array<number> = []
      for await (const n of pool.imap(tasks.square, [1, 2, 3, 4, 5, 6])) ordered.push(n)
      assert.deepStrictEqual(ordered, [1, 4, 9, 16, 25, 36])

      // the input is [1, 0]; item 1 is held at its gate until item 0 has been received: completion order is 0, 1
      const gates = flags(2)
      open(gates, 0)
      const unordered: Array<number> = []
      for await (const index of pool.imapUnordered(tasks.gatedFromTuple, [[gates, 1], [gates, 0]] as const)) {
        unordered.push(index)
        if (index === 0) open(gates, 1)
      }
      assert.deepStrictEqual(unordered, [0, 1])
    })

    it("imap reads an async iterable lazily; its error ends the loop as itself", async () => {
      await using pool = await Pool.create({ size: 2, backend })
      async function* numbers() {
        yield 1
        yield 2
        yield 3
      }
      const results: Array<number> = []
      for await (const n of pool.imap(tasks.square, numbers())) results.push(n)
      assert.deepStrictEqual(results, [1, 4, 9])

      const broken = new RangeError("the input broke")
      async function* failing() {
        yield 1
        throw broken
      }
      const seen: Array<number> = []
      const error = await rejection((async () => {
        for await (const n of pool.imap(tasks.square, failing())) seen.push(n)
      })())
      assert.strictEqual(error, broken)
    })

    it("breaking out of a for await over imap cancels the work still in flight, in the workers", async () => {
      await using pool = await Pool.create({ size: 2, backend })
      const shared = flags(2)
      const items = Array.from({ length: 100 }, (_, i) => [shared, i] as const)
      const received: Array<number> = []
      for await (const n of pool.imap(promiseTasks.firstOrWait, items)) {
        received.push(n)
        break // item 0 returned once another item had started: that one is waiting for its signal
      }
      assert.deepStrictEqual(received, [0])
      await reached(shared, 1) // its AbortSignal fired in the worker
      assert.isBelow(load(shared, 0), items.length - 1, "the rest of the input never ran")
      // the stream let go of the pool: a close then join does not wait for the abandoned input
      await pool.close()
      await pool.join()
    })

    it("aborting a signal aborts an async task's Task.signal() in its worker; the call rejects with the reason", async () => {
      await using pool = await Pool.create({ size: 1, backend })
      const shared = flags()
      const controller = new AbortController()
      const call = pool.apply(tasks.abortable, [shared], { signal: controller.signal })
      await reached(shared, 0)
      const reason = new Error("the user left")
      controller.abort(reason)
      assert.strictEqual(await rejection(call), reason)
      await reached(shared, 1) // the task saw its signal abort
      assert.strictEqual(await pool.apply(tasks.square, [4]), 16, "the worker is free again")
    })

    it("aborting a signal interrupts an Effect task's fiber in its worker; without a reason, an AbortError", async () => {
      await using pool = await Pool.create({ size: 1, backend })
      const shared = flags()
      const controller = new AbortController()
      const call = pool.apply(tasks.interruptible, [shared], { signal: controller.signal })
      await reached(shared, 0)
      controller.abort()
      const error = await rejection(call)
      assert.instanceOf(error, DOMException)
      assert.strictEqual((error as DOMException).name, "AbortError")
      await reached(shared, 1) // the worker-side fiber ran its onInterrupt
      assert.strictEqual(await pool.apply(tasks.square, [5]), 25)
    })

    it("a signal aborted already rejects every call without running anything", async () => {
      await using pool = await Pool.create({ size: 1, backend })
      const shared = flags()
      const reason = new Error("too late")
      const signal = AbortSignal.abort(reason)
      assert.strictEqual(await rejection(pool.apply(tasks.interruptible, [shared], { signal })), reason)
      assert.strictEqual(await rejection(pool.map(tasks.gatedFromTuple, [[shared, 0]], { signal })), reason)
      assert.strictEqual(await rejection(pool.applyAsync(tasks.interruptible, [shared], { signal })), reason)
      const looped = rejection((async () => {
        for await (const _ of pool.imap(tasks.gatedFromTuple, [[shared, 0]], { signal })) assert.fail("no result")
      })())
      assert.strictEqual(await looped, reason)
      assert.strictEqual(await pool.apply(tasks.square, [2]), 4)
      assert.strictEqual(load(shared, 0), 0, "no task of those calls started")
      assert.strictEqual(pool.stats.succeeded, 1, "only the last call reached a worker")
    })

    it("aborting the signal of a map or an imap loop cancels its tasks in the workers", async () => {
      await using pool = await Pool.create({ size: 2, backend })
      const mapFlags = flags()
      const mapController = new AbortController()
      const mapping = pool.map(tasks.abortable, [mapFlags], { signal: mapController.signal })
      await reached(mapFlags, 0)
      mapController.abort("stop")
      assert.strictEqual(await rejection(mapping), "stop")
      await reached(mapFlags, 1)

      const loopFlags = flags()
      const loopController = new AbortController()
      const looping = rejection((async () => {
        for await (const _ of pool.imap(tasks.abortable, [loopFlags], { signal: loopController.signal })) {
          assert.fail("no result")
        }
      })())
      await reached(loopFlags, 0)
      loopController.abort("stop the loop")
      assert.strictEqual(await looping, "stop the loop")
      await reached(loopFlags, 1)
    })

    it("applyAsync: an AsyncResult with Python's get / wait / ready / successful, callbacks, and a signal", async () => {
      await using pool = await Pool.create({ size: 2, backend })
      const values: Array<number> = []
      const result = await pool.applyAsync(tasks.add, [20, 22], { callback: (value) => values.push(value) })
      await result.wait()
      assert.isTrue(result.ready())
      assert.isTrue(result.successful())
      assert.strictEqual(await result.get(), 42)
      assert.deepStrictEqual(values, [42])

      const errors: Array<unknown> = []
      const failed = await pool.starmapAsync(tasks.failAt, [[1, 2], [2, 2]], { errorCallback: (error) => errors.push(error) })
      assert.instanceOf(await rejection(failed.get()), TaskError) // read only when asked: no unhandled rejection
      assert.isFalse(failed.successful())
      assert.instanceOf(errors[0], TaskError)
      assert.deepStrictEqual(await (await pool.mapAsync(tasks.square, [1, 2])).get(), [1, 4])

      const gate = flags()
      const waiting = await pool.applyAsync(tasks.waitForRelease, [gate])
      await reached(gate, 0)
      assert.isFalse(waiting.ready())
      assert.instanceOf(await rejection(waiting.get({ timeout: "1 millis" })), TimeoutError)
      open(gate, 1)
      assert.strictEqual(await waiting.get(), "released", "the task kept running after the timeout")

      const shared = flags()
      const controller = new AbortController()
      const cancelled = await pool.applyAsync(tasks.abortable, [shared], { signal: controller.signal })
      await reached(shared, 0)
      controller.abort("cancelled")
      await reached(shared, 1) // the task saw its signal abort
      assert.strictEqual(await rejection(cancelled.get()), "cancelled")
    })

    it("await using terminates the pool and waits until its workers have exited", async () => {
      // this pool's workers, told apart from any an earlier test's pool is still letting go of
      const workersBefore = new Set(liveWorkers(backend))
      const shared = flags()
      let running: Promise<unknown> | undefined
      let ours: Array<number> = []
      {
        await using pool = await Pool.create({ size: 2, backend })
        ours = liveWorkers(backend).filter((id) => !workersBefore.has(id))
        assert.strictEqual(ours.length, 2)
        running = rejection(pool.apply(tasks.waitForRelease, [shared]))
        await reached(shared, 0)
      }
      const alive = new Set(liveWorkers(backend))
      assert.deepStrictEqual(ours.filter((id) => alive.has(id)), [], "no worker is left")
      assert.instanceOf(await running, PoolTerminated, "the task it was running rejects")
    })

    it("errors reject as themselves: TaskError with the remote message, a declared error, WorkerCrashed", async () => {
      await using pool = await Pool.create({ size: 2, backend })
      const thrown = await rejection(pool.apply(tasks.boom, ["out of range"]))
      assert.instanceOf(thrown, TaskError)
      assert.strictEqual((thrown as TaskError).remoteName, "RangeError")
      assert.strictEqual((thrown as TaskError).remoteMessage, "out of range")

      const declared = await rejection(pool.apply(tasks.half, [3]))
      assert.instanceOf(declared, Odd)
      assert.strictEqual((declared as Odd).n, 3)

      const mapped = await rejection(pool.starmap(tasks.failAt, [[1, 2], [2, 2], [3, 2]], { chunksize: 1 }))
      assert.instanceOf(mapped, TaskError)
      assert.strictEqual((mapped as TaskError).remoteMessage, "failed at 2")
      const looped = await rejection((async () => {
        for await (const _ of pool.imap(tasks.half, [2, 5])) {
          // the first result arrives; the second fails the loop
        }
      })())
      assert.instanceOf(looped, Odd)

      const crashed = await rejection(pool.apply(tasks.exit, [7]))
      assert.instanceOf(crashed, WorkerCrashed)
      assert.strictEqual((crashed as WorkerCrashed).exitCode, 7)
      assert.strictEqual(await pool.apply(tasks.square, [3]), 9, "the worker was replaced")
    })

    it("close and join: join rejects before close; close then join waits for the submitted tasks", async () => {
      const workersBefore = liveWorkers(backend)
      const pool = await Pool.create({ size: 2, backend })
      assert.instanceOf(await rejection(pool.join()), PoolStillRunning)
      const gate = flags()
      const slow = pool.apply(tasks.waitForRelease, [gate])
      await reached(gate, 0)
      await pool.close()
      assert.instanceOf(await rejection(pool.apply(tasks.square, [1])), PoolNotRunning)
      assert.instanceOf(await rejection(pool.map(tasks.square, [])), PoolNotRunning)
      let joined = false
      const joining = pool.join().then(() => {
        joined = true
      })
      await new Promise((resolve) => setImmediate(resolve))
      assert.isFalse(joined, "join waits while a task still runs")
      open(gate, 1)
      assert.strictEqual(await slow, "released")
      await joining
      assert.deepStrictEqual(liveWorkers(backend), workersBefore, "no worker is left")
      await pool.join() // again: at once
      await pool.terminate() // after join: nothing left to do
    })

    it("bad options and arguments reject with IllegalArgumentError", async () => {
      for (const size of [0, 1.5, -1]) {
        assert.instanceOf(await rejection(Pool.create({ size, backend })), IllegalArgumentError)
      }
      await using pool = await Pool.create({ size: 1, backend })
      assert.instanceOf(await rejection(pool.map(tasks.square, [1], { chunksize: 0 })), IllegalArgumentError)
      assert.instanceOf(await rejection(pool.apply((() => 1) as never, [])), IllegalArgumentError)
    })

    it("a script that never terminates its pool still exits", async () => {
      const output = await Effect.runPromise(runFixture("promise-forgotten.ts", [backend]))
      assert.strictEqual(output, "result 49\nimap 1,4,9\ncrash true\n")
    })

    it("the Effect-native way: runtime.runPromise(WorkerPool.map(...)) on a ManagedRuntime over WorkerPool.layer", async () => {
      const workersBefore = liveWorkers(backend)
      const runtime = ManagedRuntime.make(WorkerPool.layer({ size: 2, backend }))
      assert.deepStrictEqual(await runtime.runPromise(WorkerPool.map(tasks.square, [1, 2, 3])), [1, 4, 9])
      assert.strictEqual(await runtime.runPromise(WorkerPool.apply(tasks.add, [1, 2])), 3)
      // runPromise rejects with the error itself too (effect 4 has no FiberFailure)
      assert.instanceOf(await rejection(runtime.runPromise(WorkerPool.apply(tasks.boom, ["no"]))), TaskError)
      assert.instanceOf(await rejection(runtime.runPromise(WorkerPool.apply(tasks.half, [1]))), Odd)
      // its signal option interrupts the call, which cancels the task in the worker
      const shared = flags()
      const controller = new AbortController()
      const call = runtime.runPromise(WorkerPool.apply(tasks.abortable, [shared]), { signal: controller.signal })
      await reached(shared, 0)
      controller.abort()
      const interrupted = await rejection(call) // an interruption, not the signal's reason
      assert.strictEqual((interrupted as Error).message, "All fibers interrupted without error")
      await reached(shared, 1)
      await runtime.dispose() // the layer's scope closes: the pool is terminated
      assert.deepStrictEqual(liveWorkers(backend), workersBefore, "no worker is left")
    })
  })
}
