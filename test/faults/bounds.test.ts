/**
 * Fault injection, SEMANTICS.md 30: no call waits without bound on something
 * that cannot happen. An initializer that never finishes makes `make` fail
 * within `startTimeout`; a cancelled task that never stops has its worker
 * replaced after `cancelGracePeriod`; an argument that kills every worker that
 * receives it fails its call after two attempts. Timeouts run on the
 * TestClock, so these tests wait on events only. With worker threads and child
 * processes where the case applies.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Fiber, Scope } from "effect"
import * as TestClock from "effect/testing/TestClock"
import { SerializationError, Task, WorkerPool, WorkerStartFailed } from "../../src/index.ts"
import { Dispatcher } from "../../src/internal/dispatcher.ts"
import type { Job, Slot } from "../../src/internal/slot.ts"
import * as Protocol from "../../src/internal/protocol.ts"
import { fakeWorker, reply as replyWith, settle } from "../fakeWorker.ts"
import { tasks as bounds } from "../fixtures/bounds-tasks.ts"
import { tasks } from "../fixtures/tasks.ts"

const virtual = Task.module("file:///virtual/bounds-dispatcher-tasks.ts", { add: (a: number, b: number) => a + b })
import { backends, dispatched, eventually, liveWorkers, makeFlags, open, waitFor } from "../utils.ts"

/** Swallows what is written on stderr while the scope is open (a worker's expected dying words), and returns it. */
const captureStderr = Effect.acquireRelease(
  Effect.sync(() => {
    const original = process.stderr.write
    const captured: Array<string> = []
    process.stderr.write = ((chunk: string | Uint8Array) => {
      captured.push(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8"))
      return true
    }) as typeof process.stderr.write
    return { captured, original }
  }),
  ({ original }) => Effect.sync(() => void (process.stderr.write = original))
).pipe(Effect.map(({ captured }) => captured))

/** Whether the pool's workers alive at `during` (those not alive `before` it) have all exited. */
const gone = (during: ReadonlyArray<number>, before: ReadonlyArray<number>, backend: typeof backends[number]) => {
  const now = liveWorkers(backend)
  return during.every((id) => before.includes(id) || !now.includes(id))
}

for (const backend of backends) {
  describe(`start timeout (${backend})`, () => {
    for (const hang of ["hangSync", "hangAsync"] as const) {
      it.effect(`30. an initializer that never finishes (${hang}) makes make fail within startTimeout; no worker is left`, () =>
        Effect.gen(function*() {
          const workersBefore = liveWorkers(backend)
          const flags = yield* makeFlags(backend)
          const scope = yield* Scope.make()
          const making = yield* Effect.forkChild(
            WorkerPool.make({
              size: 2,
              backend,
              initializer: bounds[hang],
              initargs: [flags],
              startTimeout: "500 millis"
            }).pipe(Scope.provide(scope))
          )
          yield* waitFor(flags, 0) // an initializer is running
          yield* TestClock.adjust("500 millis")
          const exit = yield* Fiber.await(making)
          assert.isTrue(Exit.isFailure(exit))
          const error = yield* Effect.flip(Fiber.join(making))
          assert.instanceOf(error, WorkerStartFailed)
          assert.include(error.message, "timed out")
          assert.include(error.message, "500ms")
          // none of its workers is alive (a worker of an earlier test may have finished exiting meanwhile)
          assert.deepStrictEqual(liveWorkers(backend).filter((id) => !workersBefore.includes(id)), [], "no worker left alive")
          yield* Scope.close(scope, Exit.void)
        }))
    }

    it.effect("30. replacements whose initializer hangs are killed after startTimeout; three in a row break the pool", () =>
      Effect.gen(function*() {
        const flags = yield* makeFlags(backend)
        // the first worker's initializer returns; once flag 1 is set, every new worker's hangs (counted in cell 0)
        const pool = yield* WorkerPool.make({
          size: 1,
          backend,
          initializer: bounds.hangOnceSet,
          initargs: [flags],
          startTimeout: "500 millis"
        })
        assert.strictEqual(yield* pool.apply(tasks.square, [3]), 9)
        open(flags, 1)
        assert.isTrue(Exit.isFailure(yield* Effect.exit(pool.apply(tasks.exit, [1]))))
        const next = yield* Effect.forkChild(pool.apply(tasks.square, [4]))
        for (let attempt = 1; attempt <= 3; attempt++) {
          yield* waitFor(flags, 0, attempt) // replacement number `attempt` hangs in its initializer
          yield* TestClock.adjust("500 millis")
        }
        const error = yield* Effect.flip(Fiber.join(next))
        assert.instanceOf(error, WorkerStartFailed)
        assert.include(error.message, "was not ready within 500ms")
      }))
  })

  describe(`cancelled tasks that never stop (${backend})`, () => {
    it.effect("30. a cancelled async task that ignores its signal: after cancelGracePeriod its worker is replaced", () =>
      Effect.gen(function*() {
        const workersBefore = liveWorkers(backend)
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const firstWorker = yield* pool.apply(tasks.workerId, [])
        const flags = yield* makeFlags(backend)
        const caller = yield* Effect.forkChild(pool.apply(bounds.ignoreForever, [flags]))
        yield* waitFor(flags, 0)
        yield* Fiber.interrupt(caller)
        yield* waitFor(flags, 2) // the worker read the CANCEL and fired the signal, which the task ignores
        const during = liveWorkers(backend)
        yield* TestClock.adjust("250 millis") // the default grace period passes
        yield* eventually(() => gone(during, workersBefore, backend), "the old worker is gone")
        assert.notStrictEqual(yield* pool.apply(tasks.workerId, []), firstWorker, "a pool of one keeps serving, on a replacement")
      }))

    it.effect("30. a cancelled Effect task that is uninterruptible forever: its worker is replaced", () =>
      Effect.gen(function*() {
        const workersBefore = liveWorkers(backend)
        const pool = yield* WorkerPool.make({ size: 1, backend, cancelGracePeriod: "1 second" })
        const firstWorker = yield* pool.apply(tasks.workerId, [])
        const flags = yield* makeFlags(backend)
        const caller = yield* Effect.forkChild(pool.apply(bounds.uninterruptibleForever, [flags]))
        yield* waitFor(flags, 0)
        yield* Fiber.interrupt(caller)
        const during = liveWorkers(backend)
        yield* TestClock.adjust("999 millis")
        yield* dispatched
        assert.strictEqual(Effect.runSync(pool.stats).running, 1, "within the grace period it still holds its worker")
        yield* TestClock.adjust("1 millis")
        yield* eventually(() => gone(during, workersBefore, backend), "the old worker is gone")
        assert.notStrictEqual(yield* pool.apply(tasks.workerId, []), firstWorker)
      }))
  })
}

describe("arguments a worker cannot receive (threads)", () => {
  // processes: a process worker holds one job at a time and counts it as started when it is sent, so a worker that
  // dies receiving it fails it with WorkerCrashed at once (there is no requeue, so no loop to bound)
  it.effect("30. an argument that kills every worker receiving it fails with SerializationError after two attempts", () =>
    Effect.gen(function*() {
      const stderr = yield* captureStderr // each worker dies saying so (a messageerror)
      const pool = yield* WorkerPool.make({ size: 2, backend: "threads", resourceLimits: { stackSizeMb: 0.5 } })
      assert.strictEqual(yield* pool.apply(bounds.depthOf, [[[1]]]), 2)
      let nested: unknown = []
      for (let i = 0; i < 3000; i++) nested = [nested]
      const error = yield* Effect.flip(pool.apply(bounds.depthOf, [nested]))
      assert.instanceOf(error, SerializationError)
      assert.strictEqual(error.direction, "argument")
      assert.include(error.message, "2 workers died receiving it")
      assert.deepStrictEqual(yield* pool.map(tasks.square, [1, 2, 3, 4, 5, 6], { chunksize: 1 }), [1, 4, 9, 16, 25, 36])
      assert.strictEqual(yield* pool.apply(tasks.square, [7]), 49, "the pool keeps serving")
      assert.isTrue(stderr.some((line) => line.includes("messageerror")), `each worker said why it died: ${JSON.stringify(stderr)}`)
    }))
})

// The bookkeeping behind it, with in-memory workers (as in test/dispatcher.test.ts): which deaths count against a
// job, and how a suspect is sent alone so that an innocent batch-mate is never blamed.
describe("deaths before a job starts (dispatcher)", () => {
  const fake = fakeWorker
  const reply = (dispatcher: Dispatcher, slot: Slot, job: Job) => replyWith(dispatcher, slot, job, job.id)

  it("30. a worker that dies having started nothing blames its jobs; the next death of a suspect, alone, fails it", async () => {
    const dispatcher = new Dispatcher()
    const a = fake(dispatcher, 1)
    const warm = dispatcher.submit(virtual.add, Protocol.MODE_APPLY, [0, 0], 1)
    await settle()
    a.state.started = 1
    reply(dispatcher, a.slot, warm) // measured as cheap: the next jobs are batched
    const jobs = [0, 1, 2].map((i) => dispatcher.submit(virtual.add, Protocol.MODE_APPLY, [i, i], 1))
    const seen = new Map<number, Exit.Exit<unknown, unknown>>()
    for (const job of jobs) job.waiter = (exit) => seen.set(job.id, exit)
    await settle()
    assert.deepStrictEqual(a.runIds().slice(1), jobs.map((job) => job.id), "one batch")
    dispatcher.removeSlot(a.slot, 1, null, "died receiving them") // it started none of them
    assert.strictEqual(seen.size, 0, "all requeued")
    const b = fake(dispatcher, 2)
    assert.deepStrictEqual(b.runIds(), [jobs[0].id], "a suspect goes alone")
    b.state.started = 1
    reply(dispatcher, b.slot, jobs[0])
    assert.deepStrictEqual(b.runIds(), [jobs[0].id, jobs[1].id], "then the next, alone")
    dispatcher.removeSlot(b.slot, 1, null, "died receiving it") // jobs[1] is the culprit: its second death
    const failed = seen.get(jobs[1].id)
    assert.isTrue(failed !== undefined && Exit.isFailure(failed))
    const error = Cause.squash((failed as Exit.Failure<unknown, unknown>).cause)
    assert.instanceOf(error, SerializationError)
    assert.include((error as SerializationError).message, "2 workers died receiving it")
    const c = fake(dispatcher, 3)
    c.state.started = 1
    reply(dispatcher, c.slot, jobs[2])
    assert.deepStrictEqual(seen.get(jobs[0].id), Exit.succeed(jobs[0].id), "the innocent ones succeed")
    assert.deepStrictEqual(seen.get(jobs[2].id), Exit.succeed(jobs[2].id))
  })

  it("30. a death explained by a started job, or by the pool's own kill, does not count against the jobs not started", async () => {
    for (const how of ["a started job", "the pool's kill"] as const) {
      const dispatcher = new Dispatcher()
      const a = fake(dispatcher, 1)
      const warm = dispatcher.submit(virtual.add, Protocol.MODE_APPLY, [0, 0], 1)
      await settle()
      a.state.started = 1
      reply(dispatcher, a.slot, warm) // measured as cheap: the next jobs are batched
      const [first, second] = [1, 2].map((i) => dispatcher.submit(virtual.add, Protocol.MODE_APPLY, [i, i], 1))
      first.waiter = () => {}
      await settle()
      assert.deepStrictEqual(a.runIds().slice(1), [first.id, second.id])
      if (how === "a started job") a.state.started = 2 // first was running: it may be what killed the worker
      else a.slot.killed = true
      dispatcher.removeSlot(a.slot, 1, null, how)
      assert.isUndefined(second.exit, `${how}: requeued`)
      assert.strictEqual(second.deaths, 0, how)
      const b = fake(dispatcher, 2)
      if (how === "the pool's kill") reply(dispatcher, b.slot, first) // requeued too; answered, the module is loaded
      assert.include(b.runIds(), second.id, `${how}: re-sent as usual`)
    }
  })
})
