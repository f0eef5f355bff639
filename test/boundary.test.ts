/**
 * Unit tests of the boundary's checks (src/internal/boundary.ts) and of how
 * the dispatcher uses them, with in-memory workers. The same cases run end to
 * end with real workers in test/faults/protocol.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Exit } from "effect"
import { SerializationError, Task, WorkerCrashed } from "../src/index.ts"
import * as Boundary from "../src/internal/boundary.ts"
import { Dispatcher } from "../src/internal/dispatcher.ts"
import { type Job, makeSlot } from "../src/internal/slot.ts"
import * as Protocol from "../src/internal/protocol.ts"

const tasks = Task.module("file:///virtual/boundary-tasks.ts", {
  add: (a: number, b: number) => a + b
})

/** What `Boundary.receive` made of a message. */
const received = (message: unknown, readySeen = false) => {
  const seen: Array<string> = []
  Boundary.receive(message, readySeen, () => seen.push("ready"), {
    onReplies: (replies) => seen.push(`replies ${replies.length}`),
    onFaulty: (what) => seen.push(`faulty ${what}`),
    onUnreadable: () => seen.push("unreadable")
  })
  return seen
}

const fakeWorker = (dispatcher: Dispatcher, maxInflight?: number) => {
  const posted: Array<Array<unknown>> = []
  const slot = makeSlot(1, (message) => {
    posted.push([...message]) // a copy, as postMessage makes: the dispatcher reuses its array
  }, () => undefined, maxInflight)
  dispatcher.addSlot(slot)
  dispatcher.markReady(slot)
  return { slot, posted }
}

const outcomes = (jobs: ReadonlyArray<Job>) => {
  const seen = new Map<number, Exit.Exit<unknown, unknown>>()
  for (const job of jobs) job.waiter = (exit) => seen.set(job.id, exit)
  return seen
}

const settle = () => new Promise<void>((resolve) => queueMicrotask(resolve))

const failure = (exit: Exit.Exit<unknown, unknown> | undefined) =>
  exit !== undefined && Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined

describe("boundary", () => {
  it("checks the envelope: only [0] once, then [1, replies]", () => {
    assert.deepStrictEqual(received([0]), ["ready"])
    assert.deepStrictEqual(received([1, [1, 0, 2, 3]], true), ["replies 4"])
    assert.deepStrictEqual(received(null), ["faulty it sent null, not [1, replies]"])
    assert.deepStrictEqual(received([1, null]), ["faulty it sent [1, null], not [1, replies]"])
    assert.deepStrictEqual(received([0], true), ["faulty it sent [0], a second ready signal"])
    assert.deepStrictEqual(received({ 0: 1, length: 2 ** 32 - 1 }), [
      "faulty it sent {0: 1, length: 4294967295}, not [1, replies]"
    ])
    assert.deepStrictEqual(received([1, { length: 1e9 }]), ["faulty it sent [1, {length: 1000000000}], not [1, replies]"])
    assert.deepStrictEqual(received("hello"), ["faulty it sent \"hello\", not [1, replies]"])
  })

  it("checks a batch's length before reading any reply of it", () => {
    assert.isUndefined(Boundary.checkReplies([1, 0, 2, 3], 1))
    assert.include(Boundary.checkReplies([1, 0, 2], 1)!, "not whole replies")
    const sparse: Array<unknown> = []
    sparse.length = 2 ** 32 - 4
    assert.include(Boundary.checkReplies(sparse, 3)!, "replies at once while it held 3 jobs")
  })

  it("checks each reply's status, id, payload and time", () => {
    const held = { declared: 2 }
    /** A reply about the job `held`, or about none (`unheld`). */
    const check = (reply: Array<unknown>, unheld?: "unheld") =>
      Boundary.checkReply(reply, 0, unheld === undefined ? held : undefined, 3, 5)
    assert.isUndefined(check([7, Protocol.STATUS_OK, { any: "thing" }, 10]))
    assert.isUndefined(check([7, Protocol.STATUS_FAILED, { name: "E", message: "m", stack: undefined }, 0]))
    assert.isUndefined(check([7, Protocol.STATUS_DECLARED, [1, {}], 0]))
    assert.isUndefined(check([7, Protocol.STATUS_UNCLONEABLE, "why", 0]))
    assert.isUndefined(check([7, Protocol.STATUS_CANCELLED, undefined, 0]))
    assert.isUndefined(check([-1, Protocol.STATUS_PROGRESS, 3, 0], "unheld"))
    assert.isUndefined(check([-1, Protocol.STATUS_STARTED, 5, 0], "unheld"))
    assert.isUndefined(check([-1, Protocol.STATUS_RESENT, [4, [1, 2]], 0], "unheld"))
    assert.include(check([7, Protocol.STATUS_OK, 1, 0], "unheld")!, "it holds no job 7")
    assert.include(check([7, 42, 1, 0])!, "unknown status")
    assert.include(check([7, Protocol.STATUS_OK, 1, -1])!, "its time is not a duration")
    assert.include(check([7, Protocol.STATUS_OK, 1, Number.NaN])!, "its time is not a duration")
    assert.include(check([7, Protocol.STATUS_FAILED, { name: 1, message: "m" }, 0])!, "not {name, message, stack}")
    assert.include(check([7, Protocol.STATUS_FAILED, null, 0])!, "not {name, message, stack}")
    assert.include(check([7, Protocol.STATUS_DECLARED, "x", 0])!, "not [index, encoded]")
    assert.include(check([7, Protocol.STATUS_DECLARED, [2, {}], 0])!, "the index of a declared error")
    assert.include(check([7, Protocol.STATUS_UNCLONEABLE, {}, 0])!, "without its message")
    assert.include(check([7, Protocol.STATUS_PROGRESS, 1, 0])!, "id -1")
    assert.include(check([-1, Protocol.STATUS_PROGRESS, 4, 0], "unheld")!, "the 3 CANCELs sent")
    assert.include(check([-1, Protocol.STATUS_STARTED, 6, 0], "unheld")!, "the 5 jobs sent")
    assert.include(check([-1, Protocol.STATUS_RESENT, [4, null], 0], "unheld")!, "not [seq, ids held]")
  })

  it("previews what a worker sent briefly, whatever it is", () => {
    assert.strictEqual(Boundary.preview([1, 2, 3, 4, 5, 6, 7, 8]), "[1, 2, 3, 4, 5, 6, … 2 more]")
    assert.strictEqual(Boundary.preview([[[[1]]]]), "[[[…]]]")
    assert.strictEqual(Boundary.preview(new Uint8Array(1e6)), "Uint8Array(1000000 bytes)")
    assert.strictEqual(Boundary.preview("x".repeat(100)), JSON.stringify(`${"x".repeat(60)}…`))
    const sparse: Array<unknown> = []
    sparse.length = 2 ** 32 - 1
    assert.strictEqual(Boundary.preview(sparse), "[undefined, undefined, undefined, undefined, undefined, undefined, … 4294967289 more]")
  })
})

describe("the dispatcher at the boundary", () => {
  it("settles the replies before a bad one, then gives the worker nothing more", async () => {
    const dispatcher = new Dispatcher()
    const worker = fakeWorker(dispatcher)
    const warm = dispatcher.submit(tasks.add, Protocol.MODE_APPLY, [0, 0], 1)
    await settle()
    dispatcher.onReplies(worker.slot, [warm.id, Protocol.STATUS_OK, 0, 1]) // cheap: the next ones are batched
    const jobs = [1, 2, 3].map((i) => dispatcher.submit(tasks.add, Protocol.MODE_APPLY, [i, i], 1))
    const seen = outcomes(jobs)
    await settle()
    assert.strictEqual(worker.slot.inflight.size, 3)
    const wrong = dispatcher.onReplies(worker.slot, [
      jobs[0].id, Protocol.STATUS_OK, 2, 1,
      jobs[1].id, Protocol.STATUS_DECLARED, "not a pair", 1,
      jobs[2].id, Protocol.STATUS_OK, 6, 1
    ])
    assert.include(wrong!, "a declared error that is not [index, encoded]")
    assert.deepStrictEqual(seen.get(jobs[0].id), Exit.succeed(2))
    assert.isFalse(seen.has(jobs[1].id), "the bad reply settles nothing")
    assert.isFalse(seen.has(jobs[2].id), "nothing after it is read")
    assert.isFalse(worker.slot.ready)
    const later = dispatcher.submit(tasks.add, Protocol.MODE_APPLY, [9, 9], 1)
    await settle()
    assert.strictEqual(later.slot, undefined, "a faulty worker is given nothing")
    // the supervisor kills it: what it held fails
    dispatcher.removeSlot(worker.slot, 1, null, "broke the protocol: it sent the reply …")
    assert.instanceOf(failure(seen.get(jobs[1].id)), WorkerCrashed)
    assert.include((failure(seen.get(jobs[2].id)) as WorkerCrashed).message, "broke the protocol")
  })

  it("a lost message: asks the worker, then fails only the jobs it answered there", async () => {
    const dispatcher = new Dispatcher()
    const worker = fakeWorker(dispatcher)
    const warm = dispatcher.submit(tasks.add, Protocol.MODE_APPLY, [0, 0], 1)
    await settle()
    dispatcher.onReplies(worker.slot, [warm.id, Protocol.STATUS_OK, 0, 1])
    const jobs = [1, 2, 3].map((i) => dispatcher.submit(tasks.add, Protocol.MODE_APPLY, [i, i], 1))
    const seen = outcomes(jobs)
    await settle()
    dispatcher.onUnreadable(worker.slot, 5, new RangeError("Maximum call stack size exceeded"))
    assert.deepStrictEqual(worker.posted.at(-1), [Protocol.OP_RESEND, 5])
    // sent again one by one: the first reads, the second is lost again; the third job is still running
    dispatcher.onReplies(worker.slot, [jobs[0].id, Protocol.STATUS_OK, 2, 1])
    dispatcher.onUnreadable(worker.slot, 6, new RangeError("Maximum call stack size exceeded"))
    dispatcher.onReplies(worker.slot, [-1, Protocol.STATUS_RESENT, [5, [jobs[2].id]], 0])
    assert.isFalse(seen.has(jobs[1].id), "not before every RESEND is answered")
    dispatcher.onReplies(worker.slot, [-1, Protocol.STATUS_RESENT, [6, [jobs[2].id]], 0])
    assert.deepStrictEqual(seen.get(jobs[0].id), Exit.succeed(2))
    const lost = failure(seen.get(jobs[1].id))
    assert.instanceOf(lost, SerializationError)
    assert.strictEqual((lost as SerializationError).direction, "result")
    assert.include((lost as SerializationError).message, "Maximum call stack size exceeded")
    assert.isFalse(seen.has(jobs[2].id), "the job it still holds is unaffected")
    assert.isTrue(worker.slot.ready)
    dispatcher.onReplies(worker.slot, [jobs[2].id, Protocol.STATUS_OK, 6, 1])
    assert.deepStrictEqual(seen.get(jobs[2].id), Exit.succeed(6))
    assert.include(dispatcher.onReplies(worker.slot, [-1, Protocol.STATUS_RESENT, [7, []], 0])!, "not sent")
  })

  it("a process worker that reports, as it exits, the jobs it started: the others run elsewhere", async () => {
    const dispatcher = new Dispatcher()
    const exiting = fakeWorker(dispatcher, 1)
    const first = dispatcher.submit(tasks.add, Protocol.MODE_APPLY, [1, 1], 1)
    await settle()
    dispatcher.onReplies(exiting.slot, [first.id, Protocol.STATUS_OK, 2, 1])
    const second = dispatcher.submit(tasks.add, Protocol.MODE_APPLY, [2, 2], 1)
    const seen = outcomes([second])
    await settle()
    assert.strictEqual(second.slot, exiting.slot)
    dispatcher.onReplies(exiting.slot, [-1, Protocol.STATUS_STARTED, 1, 0]) // it had started only the first
    const other = fakeWorker(dispatcher, 1)
    dispatcher.removeSlot(exiting.slot, 0, null, "it exited")
    assert.isFalse(seen.has(second.id), "not failed")
    assert.strictEqual(second.slot, other.slot, "sent to another worker")
  })
})
