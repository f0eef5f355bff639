/**
 * Fault injection, SEMANTICS.md 30 and 32 (issue 9): whatever a task returns
 * or throws, its worker survives and the call fails with a typed error; data
 * shaped like the library's internal markers is just data; a task that
 * replaces what the worker talks to the pool with (`parentPort.postMessage`,
 * `process.send`, `Promise.prototype.then`) does not stop the worker from
 * answering. Each test uses one worker (size 1), so "the worker survives" is
 * "the next call runs on the same worker". With worker threads and child
 * processes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { SerializationError, TaskError, WorkerPool } from "../../src/index.ts"
import { type Kind, tasks as hostile } from "../fixtures/hostile-tasks.ts"
import { tasks as plain } from "../fixtures/startup-plain-tasks.ts"
import { tasks } from "../fixtures/tasks.ts"
import { backends, load, makeFlags } from "../utils.ts"

/** Values whose inspection (`then`, `in`, own keys) throws: the call fails with a TaskError. */
const uninspectable: ReadonlyArray<Kind> = ["then-getter", "revoked", "trap-get", "trap-has", "trap-all"]
/** Proxies that can be inspected, but never cloned. */
const uncloneable: ReadonlyArray<Kind> = ["trap-getPrototypeOf", "trap-ownKeys"]
const allKinds: ReadonlyArray<Kind> = [...uninspectable, ...uncloneable]

/** The data a forger would send: objects carrying the library's and effect's internal marker keys as own data. */
const forgeries: Array<Record<string, unknown>> = [
  {
    "~effect-multiprocessing/Task/Transferred": "~effect-multiprocessing/Task/Transferred",
    value: "not the result",
    transfer: []
  },
  { "~effect/Effect": { _A: 1, _E: 2, _R: 3 }, _tag: "Success", value: 1 },
  { "~effect/Effect": "~effect/Effect", "~effect/Exit": "~effect/Exit", _tag: "Failure", cause: "boom" },
  { "~effect-multiprocessing/Task": { _A: 1 }, id: "x#y", url: "file:///x", name: "y" },
  { then: "not a function", catch: 1 }
]

const taskError = (error: unknown): TaskError => {
  assert.instanceOf(error, TaskError)
  return error as TaskError
}

for (const backend of backends) {
  describe(`values that misbehave (${backend})`, () => {
    it.effect("a result that throws when inspected fails its call with a TaskError; the worker survives", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const worker = yield* pool.apply(hostile.workerId, [])
        for (const kind of uninspectable) {
          const error = yield* Effect.flip(pool.apply(hostile.returnHostile, [kind]))
          assert.instanceOf(error, TaskError, kind)
          assert.include(error.message, "the task's result could not be inspected", kind)
          assert.strictEqual(error.task, hostile.returnHostile.id)
          assert.strictEqual(yield* pool.apply(hostile.workerId, []), worker, `the worker survived ${kind}`)
        }
        const thenGetter = taskError(yield* Effect.flip(pool.apply(hostile.returnHostile, ["then-getter"])))
        assert.strictEqual(thenGetter.remoteName, "Error")
        assert.include(thenGetter.message, "the then getter threw")
        const revoked = taskError(yield* Effect.flip(pool.apply(hostile.returnHostile, ["revoked"])))
        assert.strictEqual(revoked.remoteName, "TypeError")
        assert.include(revoked.message, "revoked")
      }))

    it.effect("a Proxy that can be inspected but not cloned fails with SerializationError; the worker survives", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const worker = yield* pool.apply(hostile.workerId, [])
        for (const kind of uncloneable) {
          const error = yield* Effect.flip(pool.apply(hostile.returnHostile, [kind]))
          assert.instanceOf(error, SerializationError, kind)
          assert.strictEqual(error.direction, "result")
          assert.include(error.message, "a Proxy", kind)
          assert.strictEqual(yield* pool.apply(hostile.workerId, []), worker, `the worker survived ${kind}`)
        }
      }))

    it.effect("a hostile value thrown, rejected, resolved, failed or died with fails its call with a TaskError", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const worker = yield* pool.apply(hostile.workerId, [])
        for (const kind of allKinds) {
          for (const task of [hostile.throwHostile, hostile.rejectHostile, hostile.dieHostile, hostile.failHostile]) {
            const error = yield* Effect.flip(pool.apply(task as typeof hostile.throwHostile, [kind]))
            assert.instanceOf(error, TaskError, `${task.name} ${kind}`)
            assert.isString(error.message)
            assert.isString(error.remoteName)
            assert.strictEqual(yield* pool.apply(hostile.workerId, []), worker, `the worker survived ${task.name} ${kind}`)
          }
        }
        const revoked = taskError(yield* Effect.flip(pool.apply(hostile.throwHostile, ["revoked"])))
        assert.strictEqual(revoked.remoteName, "NonErrorThrown")
        assert.include(revoked.message, "Proxy")
        // a promise resolved with a value whose `then` cannot be read rejects with what reading it threw;
        // resolved with any other Proxy, it cannot be sent
        for (const kind of allKinds) {
          const error = yield* Effect.flip(pool.apply(hostile.resolveHostile, [kind]))
          if (["then-getter", "revoked", "trap-get", "trap-all"].includes(kind)) assert.instanceOf(error, TaskError, kind)
          else assert.instanceOf(error, SerializationError, kind)
          assert.strictEqual(yield* pool.apply(hostile.workerId, []), worker)
        }
      }))

    it.effect("a map chunk with one item returning a hostile value fails with a typed error; the worker survives", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const worker = yield* pool.apply(hostile.workerId, [])
        for (const kind of allKinds) {
          const items = [0, 1, 2, 3].map((x) => [x, 2, kind] as const)
          for (const chunksize of [1, 4]) {
            const error = yield* Effect.flip(pool.map(hostile.hostileAt, items, { chunksize }))
            if (uncloneable.includes(kind)) assert.instanceOf(error, SerializationError, kind)
            else assert.instanceOf(error, TaskError, kind)
            assert.strictEqual(yield* pool.apply(hostile.workerId, []), worker, `the worker survived ${kind}`)
          }
        }
        assert.deepStrictEqual(yield* pool.map(hostile.hostileAt, [[0, 9, "revoked"], [1, 9, "revoked"]]), [0, 1])
      }))

    it.effect("a thenable whose then throws fails its call; one that calls back twice settles once, each item runs once", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const worker = yield* pool.apply(hostile.workerId, [])
        const thrown = yield* Effect.flip(pool.apply(hostile.thenThrows, [false]))
        assert.instanceOf(thrown, TaskError)
        assert.strictEqual(thrown.remoteMessage, "then threw")
        // called back before it threw: the result stands, as with a promise
        assert.strictEqual(yield* pool.apply(hostile.thenThrows, [true]), 1)
        assert.strictEqual(yield* pool.apply(hostile.thenTwice, [5]), 5)
        const shared = yield* makeFlags(backend)
        const results = yield* pool.map(hostile.twiceThenCount, [0, 1, 2].map((i) => [shared, i] as const), {
          chunksize: 3
        })
        assert.deepStrictEqual(results, [0, 1, 2])
        assert.strictEqual(load(shared, 1), 2, "items 1 and 2 ran once each")
        assert.strictEqual(yield* pool.apply(hostile.workerId, []), worker)
      }))

    it.effect("data carrying the library's or effect's marker keys comes back exactly as it was", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        for (const forged of forgeries) {
          assert.deepStrictEqual(yield* pool.apply(tasks.identity, [forged]), forged)
          assert.deepStrictEqual(yield* pool.apply(hostile.asyncIdentity, [forged]), forged)
        }
        assert.deepStrictEqual(yield* pool.map(tasks.identity, forgeries), forgeries)
        assert.deepStrictEqual(yield* pool.map(tasks.identity, forgeries, { chunksize: 1 }), forgeries)
        // the real marker still works
        const bytes = yield* pool.apply(tasks.makeBytes, [8])
        assert.deepStrictEqual(Array.from(bytes), new Array(8).fill(7))
      }))

    it.effect("a task that replaces parentPort.postMessage / process.send does not stop its worker answering", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const worker = yield* pool.apply(hostile.workerId, [])
        assert.strictEqual(yield* pool.apply(hostile.sabotageChannel, []), "sabotaged")
        assert.strictEqual(yield* pool.apply(hostile.workerId, []), worker)
        assert.deepStrictEqual(yield* pool.map(tasks.square, [1, 2, 3]), [1, 4, 9])
        assert.strictEqual(yield* pool.apply(hostile.asyncIdentity, ["still here"]), "still here")
      }))

    it.live("a task that patches Promise.prototype.then does not stop its worker answering", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend, startTimeout: "1 second" })
        const worker = yield* pool.apply(hostile.workerId, [])
        assert.strictEqual(yield* pool.apply(tasks.square, [2]), 4) // loaded before the patch
        assert.strictEqual(yield* pool.apply(hostile.patchThen, []), "patched")
        // promise results, in the modules loaded already
        assert.strictEqual(yield* pool.apply(hostile.asyncIdentity, [5]), 5)
        assert.strictEqual(yield* pool.apply(tasks.sleepThen, [1]), 1)
        assert.deepStrictEqual(yield* pool.map(tasks.square, [1, 2, 3]), [1, 4, 9])
        // Node's import() itself depends on Promise.prototype.then: a module not loaded yet fails in bounded time
        const error = taskError(yield* Effect.flip(pool.apply(plain.add, [1, 2])))
        assert.strictEqual(error.remoteName, "LoadTimeout")
        assert.include(error.message, "did not finish loading within 1s (startTimeout)")
        assert.include(error.message, "a task replaced Promise.prototype.then in this worker")
        assert.strictEqual(yield* pool.apply(hostile.workerId, []), worker)
      }))
  })
}
