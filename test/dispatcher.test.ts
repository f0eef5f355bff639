/**
 * Unit tests of the dispatcher's bookkeeping with in-memory workers: which
 * worker holds which task, batching, cancellation and crash isolation. The
 * same behaviour is tested end to end with real threads in the other files.
 */
import { assert, describe, it } from "@effect/vitest"
import { Exit } from "effect"
import { Task, WorkerCrashed } from "../src/index.ts"
import { Dispatcher } from "../src/internal/dispatcher.ts"
import { type Job, makeSlot } from "../src/internal/slot.ts"
import * as Protocol from "../src/internal/protocol.ts"
import { fakeWorker, reply, runIdsOf, settle } from "./fakeWorker.ts"

const tasks = Task.module("file:///virtual/dispatcher-tasks.ts", {
  add: (a: number, b: number) => a + b,
  slow: (x: number) => x
})

const outcomes = (jobs: ReadonlyArray<Job>) => {
  const seen = new Map<number, Exit.Exit<unknown, unknown>>()
  for (const job of jobs) job.waiter = (exit) => seen.set(job.id, exit)
  return seen
}


describe("dispatcher", () => {
  it("sends a task of unknown cost only to an idle worker, then batches once it is known to be cheap", async () => {
    const dispatcher = new Dispatcher()
    const a = fakeWorker(dispatcher, 1)
    const b = fakeWorker(dispatcher, 2)
    const jobs = Array.from({ length: 10 }, (_, i) => dispatcher.submit(tasks.add, Protocol.MODE_APPLY, [i, 1], 1))
    await settle()
    // unknown cost: one job per worker
    assert.deepStrictEqual([a.runIds(), b.runIds()], [[0], [1]])
    assert.strictEqual(a.posted[0][0], Protocol.OP_DEFINE, "the task is defined before its first run")
    reply(dispatcher, b.slot, jobs[1], 1, 2)
    // now known to take ~2µs, but worker 1 has not answered its first job of the module (it may be loading it):
    // worker 2 takes what fits, batched
    assert.deepStrictEqual(a.runIds(), [0], "nothing queued behind a first job of its module")
    assert.strictEqual(b.posted.length, 2)
    assert.strictEqual(b.posted[1][0], Protocol.OP_RUN, "no second DEFINE for the same worker")
    reply(dispatcher, a.slot, jobs[0], 1, 2)
    // the rest goes out batched, one message per worker, shared between them
    const all = [...a.runIds(), ...b.runIds()].sort((x, y) => x - y)
    assert.deepStrictEqual(all, jobs.map((job) => job.id), "each job sent once")
  })

  it("sends no second job of a task module to a worker until it has answered its first (it may be loading it)", async () => {
    const dispatcher = new Dispatcher()
    const a = fakeWorker(dispatcher, 1)
    const warm = dispatcher.submit(tasks.add, Protocol.MODE_APPLY, [0, 0], 1)
    await settle()
    reply(dispatcher, a.slot, warm, 0, 1) // measured as cheap on worker 1
    const b = fakeWorker(dispatcher, 2)
    dispatcher.removeSlot(a.slot, 0, null, "test") // only worker 2 is left, which has not loaded the module
    const jobs = Array.from({ length: 3 }, (_, i) => dispatcher.submit(tasks.add, Protocol.MODE_APPLY, [i, i], 1))
    await settle()
    assert.deepStrictEqual(b.runIds(), [jobs[0].id], "the first alone")
    reply(dispatcher, b.slot, jobs[0], 0, 1)
    assert.deepStrictEqual(b.runIds(), jobs.map((job) => job.id), "the rest batched once it answered")
  })

  it("gives an idle worker a job before batching more onto a busy one", async () => {
    const dispatcher = new Dispatcher()
    const a = fakeWorker(dispatcher, 1)
    const b = fakeWorker(dispatcher, 2)
    const warm = dispatcher.submit(tasks.add, Protocol.MODE_APPLY, [0, 0], 1)
    await settle()
    reply(dispatcher, a.slot, warm, 0, 1) // cheap: it could batch
    const pair = [0, 1].map((i) => dispatcher.submit(tasks.add, Protocol.MODE_APPLY, [i, i], 1))
    await settle()
    assert.deepStrictEqual([a.runIds().slice(1), b.runIds()], [[pair[0].id], [pair[1].id]])
  })

  it("tops a busy worker up once it holds at most half its window, in one message, not one per reply", async () => {
    const dispatcher = new Dispatcher()
    const a = fakeWorker(dispatcher, 1)
    const warm = dispatcher.submit(tasks.add, Protocol.MODE_APPLY, [0, 0], 1)
    await settle()
    reply(dispatcher, a.slot, warm, 0, 1) // cheap: 512 fit (the most a worker holds)
    const jobs = Array.from({ length: 600 }, (_, i) => dispatcher.submit(tasks.add, Protocol.MODE_APPLY, [i, 1], 1))
    await settle()
    assert.strictEqual(a.posted.length, 2)
    assert.strictEqual(runIdsOf(a.posted[1]).length, 512)
    for (let i = 0; i < 255; i++) reply(dispatcher, a.slot, jobs[i], i + 1, 1)
    assert.strictEqual(a.posted.length, 2, "more than half its window held: nothing sent")
    reply(dispatcher, a.slot, jobs[255], 256, 1)
    assert.strictEqual(a.posted.length, 3)
    assert.deepStrictEqual(runIdsOf(a.posted[2]), jobs.slice(512).map((job) => job.id), "the rest, in one message")
  })

  it("refills a worker from its batch of replies before it resumes the callers they answer", async () => {
    const dispatcher = new Dispatcher()
    const a = fakeWorker(dispatcher, 1)
    const first = dispatcher.submit(tasks.add, Protocol.MODE_APPLY, [0, 0], 1)
    await settle()
    const next = dispatcher.submit(tasks.add, Protocol.MODE_APPLY, [1, 1], 1)
    await settle()
    assert.deepStrictEqual(a.runIds(), [first.id], "unknown cost: one at a time")
    let sentWhenAnswered: Array<number> = []
    first.waiter = () => {
      sentWhenAnswered = a.runIds()
    }
    reply(dispatcher, a.slot, first, 0, 1)
    assert.deepStrictEqual(sentWhenAnswered, [first.id, next.id])
  })

  it("never queues a long task behind another while a worker is idle", async () => {
    const dispatcher = new Dispatcher()
    const a = fakeWorker(dispatcher, 1)
    const b = fakeWorker(dispatcher, 2)
    const first = dispatcher.submit(tasks.slow, Protocol.MODE_APPLY, [0], 1)
    await settle()
    reply(dispatcher, a.slot, first, 0, 50_000) // 50 ms: long
    const jobs = Array.from({ length: 4 }, (_, i) => dispatcher.submit(tasks.slow, Protocol.MODE_APPLY, [i], 1))
    await settle()
    assert.deepStrictEqual([a.runIds().slice(1), b.runIds()], [[jobs[0].id], [jobs[1].id]])
    reply(dispatcher, b.slot, jobs[1], 1, 50_000)
    assert.deepStrictEqual(b.runIds(), [jobs[1].id, jobs[2].id])
  })

  it("a dead worker fails exactly the jobs it held; queued jobs go to the others", async () => {
    const dispatcher = new Dispatcher()
    const a = fakeWorker(dispatcher, 1)
    const b = fakeWorker(dispatcher, 2)
    const jobs = Array.from({ length: 3 }, (_, i) => dispatcher.submit(tasks.slow, Protocol.MODE_APPLY, [i], 1))
    const seen = outcomes(jobs)
    await settle()
    assert.deepStrictEqual([a.runIds(), b.runIds()], [[0], [1]])
    a.state.started = 1 // it died while running job 0
    dispatcher.removeSlot(a.slot, 9, null, "test")
    const crashed = seen.get(0)
    assert.isTrue(crashed !== undefined && Exit.isFailure(crashed))
    const error = crashed!._tag === "Failure" ? crashed!.cause.reasons[0] : undefined
    assert.instanceOf(error?._tag === "Fail" ? error.error : undefined, WorkerCrashed)
    assert.isFalse(seen.has(1), "the other worker's job is untouched")
    reply(dispatcher, b.slot, jobs[1], "one")
    assert.deepStrictEqual(seen.get(1), Exit.succeed("one"))
    assert.deepStrictEqual(b.runIds(), [1, 2], "the queued job went to the surviving worker")
    reply(dispatcher, b.slot, jobs[2], "two")
    assert.strictEqual(dispatcher.outstanding, 0)
  })

  it("a dead worker fails the jobs it had started and re-queues, in order, the ones it had not", async () => {
    const dispatcher = new Dispatcher()
    const a = fakeWorker(dispatcher, 1)
    const warm = dispatcher.submit(tasks.add, Protocol.MODE_APPLY, [0, 0], 1)
    await settle()
    reply(dispatcher, a.slot, warm, 0, 1)
    const jobs = Array.from({ length: 4 }, (_, i) => dispatcher.submit(tasks.add, Protocol.MODE_APPLY, [i, i], 1))
    const seen = outcomes(jobs)
    await settle()
    assert.deepStrictEqual(a.runIds().slice(1), jobs.map((job) => job.id))
    a.state.started = 3 // the warm-up, then jobs[0] and jobs[1]: jobs[1] was running when it died
    dispatcher.removeSlot(a.slot, 1, null, "test")
    assert.isTrue(Exit.isFailure(seen.get(jobs[0].id)!))
    assert.isTrue(Exit.isFailure(seen.get(jobs[1].id)!))
    assert.isFalse(seen.has(jobs[2].id), "not started: not failed")
    assert.isFalse(seen.has(jobs[3].id))
    const b = fakeWorker(dispatcher, 2)
    assert.deepStrictEqual(b.runIds(), [jobs[2].id], "re-sent first (alone: the worker loads the module)")
    reply(dispatcher, b.slot, jobs[2], 4, 1)
    assert.deepStrictEqual(b.runIds(), [jobs[2].id, jobs[3].id], "re-sent, with their arguments, in order")
    assert.deepStrictEqual(
      b.posted[1].slice(-5),
      [Protocol.OP_RUN, jobs[3].id, jobs[3].kind.key, Protocol.MODE_APPLY, [3, 3]]
    )
  })

  it("cancelling a queued job means it is never sent; cancelling a running one sends CANCEL and keeps the worker busy", async () => {
    const dispatcher = new Dispatcher()
    const a = fakeWorker(dispatcher, 1)
    const running = dispatcher.submit(tasks.slow, Protocol.MODE_APPLY, [0], 1)
    const queued = dispatcher.submit(tasks.slow, Protocol.MODE_APPLY, [1], 1)
    await settle()
    dispatcher.cancel(queued)
    dispatcher.cancel(running)
    assert.deepStrictEqual(a.posted.at(-1), [Protocol.OP_CANCEL, running.id])
    assert.strictEqual(dispatcher.outstanding, 0, "both callers are answered at once")
    assert.strictEqual(a.slot.inflight.size, 1, "but the worker still holds the cancelled task")
    const next = dispatcher.submit(tasks.slow, Protocol.MODE_APPLY, [2], 1)
    await settle()
    assert.notInclude(a.runIds(), next.id, "no new work until the worker answers")
    dispatcher.onReplies(a.slot, [running.id, Protocol.STATUS_CANCELLED, undefined, 5])
    assert.deepStrictEqual(a.runIds(), [running.id, next.id])
    assert.notInclude(a.runIds(), queued.id)
  })

  it("keeps two chunks in flight on each worker, even when their learned cost is far above the window", async () => {
    const dispatcher = new Dispatcher()
    const a = fakeWorker(dispatcher, 1)
    const b = fakeWorker(dispatcher, 2)
    const warm = [a, b].map((worker) => dispatcher.submitTo(worker.slot, tasks.slow, Protocol.MODE_MAP, [0], 1))
    await settle()
    // 50 ms an item: each chunk below is 0.5 s, far above the 2 ms window
    reply(dispatcher, a.slot, warm[0], [0], 50_000)
    reply(dispatcher, b.slot, warm[1], [0], 50_000)
    const chunks = Array.from({ length: 6 }, (_, i) => dispatcher.submit(tasks.slow, Protocol.MODE_STARMAP, [[i]], 10))
    await settle()
    assert.deepStrictEqual(
      [a.runIds().slice(1), b.runIds().slice(1)],
      [[chunks[0].id, chunks[2].id], [chunks[1].id, chunks[3].id]],
      "the next chunk waits in the worker while it computes the first"
    )
    a.state.started = 2
    reply(dispatcher, a.slot, chunks[0], [0], 500_000)
    assert.deepStrictEqual(a.runIds().slice(1), [chunks[0].id, chunks[2].id, chunks[4].id], "refilled to two")
    // a long apply still goes one per worker, and no chunk waits behind one
    const applies = Array.from({ length: 3 }, (_, i) => dispatcher.submit(tasks.slow, Protocol.MODE_APPLY, [i], 1))
    await settle()
    assert.notInclude([...a.runIds(), ...b.runIds()], applies[0].id, "both workers hold a chunk already")
  })

  it("while a worker of the pool is still to come (a replacement, or a dynamic pool growing), a chunk waits for it", async () => {
    const dispatcher = new Dispatcher()
    dispatcher.poolSize = 2
    const a = fakeWorker(dispatcher, 1)
    const warm = dispatcher.submitTo(a.slot, tasks.slow, Protocol.MODE_MAP, [0], 1)
    await settle()
    reply(dispatcher, a.slot, warm, [0], 50_000)
    // chunks of tasks that wait for each other (a barrier): queued behind the first, the second would never run
    const chunks = [0, 1].map((i) => dispatcher.submit(tasks.slow, Protocol.MODE_MAP, [i], 1))
    await settle()
    assert.deepStrictEqual(a.runIds(), [warm.id, chunks[0].id])
    const b = fakeWorker(dispatcher, 2)
    assert.deepStrictEqual(b.runIds(), [chunks[1].id], "the worker to come takes it")
    reply(dispatcher, b.slot, chunks[1], [1], 50_000)
    const more = [2, 3, 4].map((i) => dispatcher.submit(tasks.slow, Protocol.MODE_MAP, [i], 1))
    await settle()
    assert.deepStrictEqual(
      [a.runIds().slice(1), b.runIds()],
      [[chunks[0].id, more[1].id], [chunks[1].id, more[0].id, more[2].id]],
      "complete: two each"
    )
  })

  it("sends no chunk behind an apply or a cancelled job; a process worker holds one job at a time", async () => {
    const dispatcher = new Dispatcher()
    const a = fakeWorker(dispatcher, 1)
    const warm = dispatcher.submit(tasks.slow, Protocol.MODE_APPLY, [0], 1)
    await settle()
    reply(dispatcher, a.slot, warm, 0, 50_000)
    const long = dispatcher.submit(tasks.slow, Protocol.MODE_APPLY, [1], 1)
    const chunk = dispatcher.submit(tasks.slow, Protocol.MODE_MAP, [1, 2], 2)
    await settle()
    assert.deepStrictEqual(a.runIds(), [warm.id, long.id], "not behind a long apply")
    reply(dispatcher, a.slot, long, 0, 50_000)
    assert.deepStrictEqual(a.runIds().at(-1), chunk.id)
    dispatcher.cancel(chunk) // cancelled while it runs: the worker is busy until it answers
    const next = dispatcher.submit(tasks.slow, Protocol.MODE_MAP, [3], 1)
    await settle()
    assert.notInclude(a.runIds(), next.id, "not behind a cancelled chunk")
    dispatcher.onReplies(a.slot, [chunk.id, Protocol.STATUS_CANCELLED, undefined, 5])
    assert.deepStrictEqual(a.runIds().at(-1), next.id)
    const process = makeSlot(3, () => {}, () => undefined, 1)
    dispatcher.removeSlot(a.slot, 0, null, "test")
    dispatcher.addSlot(process)
    dispatcher.markReady(process)
    const more = [4, 5].map((i) => dispatcher.submit(tasks.slow, Protocol.MODE_MAP, [i], 1))
    await settle()
    assert.deepStrictEqual(Array.from(process.inflight.keys()), [next.id], "a process worker holds one job at a time")
    assert.isTrue(more.every((job) => job.slot === undefined))
  })

  it("posts each large chunk in a message of its own, every worker's first chunk first", async () => {
    const dispatcher = new Dispatcher()
    const log: Array<readonly [number, Array<number>]> = []
    const slots = [1, 2].map((workerId) => {
      const slot = makeSlot(workerId, (message) => {
        log.push([workerId, runIdsOf(message)])
      }, () => ({ started: 0, running: undefined, cancelsRead: 0 }))
      dispatcher.addSlot(slot)
      dispatcher.markReady(slot)
      return slot
    })
    const warm = slots.map((slot) => dispatcher.submitTo(slot, tasks.slow, Protocol.MODE_MAP, [0], 1))
    await settle()
    warm.forEach((job, i) => reply(dispatcher, slots[i], job, [0], 0)) // measured as free: everything fits the window
    log.length = 0
    const rows = Array.from({ length: 1000 }, (_, i) => i)
    const chunks = [0, 1, 2, 3].map(() => dispatcher.submit(tasks.slow, Protocol.MODE_MAP, rows, rows.length))
    const small = [0, 1, 2, 3].map((i) => dispatcher.submit(tasks.slow, Protocol.MODE_MAP, [i], 1))
    await settle()
    assert.deepStrictEqual(log, [
      [1, [chunks[0].id]],
      [2, [chunks[1].id]],
      [1, [chunks[2].id]],
      [2, [chunks[3].id]],
      [1, [small[0].id, small[2].id]], // small jobs still travel together
      [2, [small[1].id, small[3].id]]
    ])
  })

  it("a job no worker has room for goes to one whose jobs have all started and none holds the thread", async () => {
    const dispatcher = new Dispatcher()
    const a = fakeWorker(dispatcher, 1)
    const b = fakeWorker(dispatcher, 2)
    const warm = [a, b].map((worker) => dispatcher.submitTo(worker.slot, tasks.slow, Protocol.MODE_APPLY, [0], 1))
    await settle()
    reply(dispatcher, a.slot, warm[0], 0, 50_000)
    reply(dispatcher, b.slot, warm[1], 0, 50_000)
    // each worker holds a long async task that ends only when the caller says so (after its next call, say)
    const waiting = [0, 1].map((i) => dispatcher.submit(tasks.slow, Protocol.MODE_APPLY, [i], 1))
    await settle()
    assert.deepStrictEqual([a.runIds(), b.runIds()], [[warm[0].id, waiting[0].id], [warm[1].id, waiting[1].id]])
    a.state.started = 2
    b.state.started = 2
    b.state.running = Protocol.runningSlot(waiting[1].id) // worker 2 is still in its synchronous part
    // a task never measured: it would wait for an idle worker, for ever
    const call = dispatcher.submit(tasks.add, Protocol.MODE_APPLY, [1, 2], 1)
    await settle()
    assert.deepStrictEqual(a.runIds(), [warm[0].id, waiting[0].id, call.id], "worker 1's thread is free")
    const second = dispatcher.submit(tasks.add, Protocol.MODE_APPLY, [3, 4], 1)
    await settle()
    assert.isUndefined(second.slot, "worker 1 has not started the call; worker 2 holds its thread")
    b.state.running = undefined
    // the next dispatch (a liveness PONG, at the latest) sends it
    dispatcher.onReplies(b.slot, [-1, Protocol.STATUS_PONG, 1, 0])
    assert.deepStrictEqual(b.runIds(), [warm[1].id, waiting[1].id, second.id])
  })

  it("…but not to one that holds short calls (it answers them soon) or has not started all it holds", async () => {
    const dispatcher = new Dispatcher()
    const a = fakeWorker(dispatcher, 1)
    const warm = dispatcher.submitTo(a.slot, tasks.add, Protocol.MODE_APPLY, [0, 0], 1)
    await settle()
    reply(dispatcher, a.slot, warm, 0, 1_500) // 1.5 ms: one fits the window, two do not
    const calls = [0, 1].map((i) => dispatcher.submit(tasks.add, Protocol.MODE_APPLY, [i, i], 1))
    await settle()
    a.state.started = 2
    assert.deepStrictEqual(a.runIds(), [warm.id, calls[0].id], "the second waits for the first's answer")
    dispatcher.onReplies(a.slot, [-1, Protocol.STATUS_PONG, 1, 0])
    assert.isUndefined(calls[1].slot)
  })

  it("once the pool has stopped, new jobs are settled at once with the pool's error", () => {
    const dispatcher = new Dispatcher()
    dispatcher.rejectWith = Exit.fail("stopped")
    const job = dispatcher.submit(tasks.add, Protocol.MODE_APPLY, [1, 2], 1)
    assert.deepStrictEqual(job.exit, Exit.fail("stopped"))
    assert.strictEqual(dispatcher.outstanding, 0)
  })
})
