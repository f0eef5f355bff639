/**
 * Fault injection, SEMANTICS.md 23–25: a worker that dies fails exactly the
 * tasks it was running, with an error naming the exit code and cause; the
 * others complete or run elsewhere; the worker is replaced; a module that
 * cannot load fails its tasks with the cause. With worker threads and child
 * processes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Scope } from "effect"
import { TaskError, WorkerCrashed, WorkerPool, WorkerStartFailed } from "../../src/index.ts"
import { tasks as broken } from "../fixtures/broken-module.ts"
import { tasks } from "../fixtures/tasks.ts"
import { captureStderr } from "../capture.ts"
import { backends, liveWorkers, makeFlags, open, waitFor } from "../utils.ts"

for (const backend of backends) {
  describe(`crashes and broken modules (${backend})`, () => {
    it.effect("23. a worker that exits mid-task fails exactly its tasks with WorkerCrashed; the others complete", () =>
      Effect.gen(function*() {
        const workersBefore = liveWorkers(backend)
        const pool = yield* WorkerPool.make({ size: 2, backend })
        const flags = yield* makeFlags(backend)
        const survivor = yield* pool.applyAsync(tasks.waitForRelease, [flags])
        yield* waitFor(flags, 0) // one worker holds the survivor; the crash goes to the other
        const error = yield* Effect.flip(pool.apply(tasks.exit, [7]))
        assert.instanceOf(error, WorkerCrashed)
        assert.strictEqual(error.exitCode, 7)
        assert.include(error.message, "exited with code 7")
        open(flags, 1)
        assert.strictEqual(yield* survivor.get(), "released")
        // the worker was replaced: two workers serve again
        const counter = yield* makeFlags(backend, 1)
        const workers = yield* pool.starmap(tasks.barrier, [[counter, 2], [counter, 2]], { chunksize: 1 })
        assert.strictEqual(new Set(workers).size, 2)
        yield* pool.close
        yield* pool.join
        assert.deepStrictEqual(liveWorkers(backend), workersBefore)
      }))

    it.effect("23. a worker killed by an uncaught throw fails its task with WorkerCrashed naming the cause", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const [error, stderr] = yield* captureStderr(Effect.flip(pool.apply(tasks.throwInTimer, ["thrown in a timer"])))
        // a process's report of its uncaught error passes through this process's stderr
        if (backend === "processes") assert.include(stderr, "Error: thrown in a timer")
        assert.instanceOf(error, WorkerCrashed)
        assert.strictEqual(error.exitCode, 1)
        // a thread reports its error to the pool; a process prints it on stderr, where the pool reads it
        assert.include(error.message, "thrown in a timer")
        assert.strictEqual(yield* pool.apply(tasks.square, [9]), 81, "a replacement serves")
      }))

    it.effect("23. a crash fails only the task that was running: finished and not-yet-started ones are unaffected", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 2, backend })
        yield* pool.apply(tasks.exitAt, [1]) // now known to be cheap, so calls are batched onto each worker
        const items = [1, 2, 99, ...Array.from({ length: 40 }, (_, i) => i + 3)]
        const exits = yield* Effect.forEach(items, (x) => Effect.exit(pool.apply(tasks.exitAt, [x])), {
          concurrency: "unbounded"
        })
        exits.forEach((exit, i) => {
          if (items[i] === 99) {
            assert.isTrue(Exit.isFailure(exit))
            assert.instanceOf(Cause.squash((exit as Exit.Failure<unknown, unknown>).cause), WorkerCrashed)
          } else {
            assert.deepStrictEqual(exit, Exit.succeed(items[i]), `item ${items[i]}`)
          }
        })
      }))

    it.effect("once a task is known to be fast, simultaneous calls still go to idle workers first", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 2, backend })
        yield* pool.apply(tasks.barrier, [yield* makeFlags(backend, 1), 1]) // measured: fast
        const counter = yield* makeFlags(backend, 1)
        // two calls that can only finish together: batched onto one worker, they would deadlock
        const workers = yield* pool.starmap(tasks.barrier, [[counter, 2], [counter, 2]], { chunksize: 1 })
        assert.strictEqual(new Set(workers).size, 2)
      }))

    it.effect("23. a map over a pool where a worker crashes fails with WorkerCrashed; the pool keeps serving", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 2, backend })
        const error = yield* Effect.flip(pool.map(tasks.exitAt, [1, 2, 3, 99, 5, 6], { chunksize: 1 }))
        assert.instanceOf(error, WorkerCrashed)
        assert.deepStrictEqual(yield* pool.map(tasks.square, [1, 2, 3]), [1, 4, 9])
      }))

    it.effect("24. a task module that throws while loading fails its tasks with the cause; the pool keeps serving", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend })
        const error = yield* Effect.flip(pool.apply(broken.neverRuns, [1]))
        assert.instanceOf(error, TaskError)
        assert.include(error.message, "could not load task module")
        assert.include(error.message, "this module refuses to load in a worker")
        assert.strictEqual(yield* pool.apply(tasks.square, [3]), 9)
        const again = yield* Effect.exit(pool.map(broken.neverRuns, [1, 2]))
        assert.instanceOf(Cause.squash((again as Exit.Failure<unknown, unknown>).cause), TaskError)
      }))
  })

  describe(`resource limits and start failures (${backend})`, () => {
    it.effect("23. a worker that runs out of heap under resourceLimits fails its task with WorkerCrashed; it is replaced", () =>
      Effect.gen(function*() {
        const pool = yield* WorkerPool.make({ size: 1, backend, resourceLimits: { maxOldGenerationSizeMb: 64 } })
        const [error, stderr] = yield* captureStderr(Effect.flip(pool.apply(tasks.exhaustHeap, [])))
        if (backend === "processes") assert.include(stderr, "FATAL ERROR")
        assert.instanceOf(error, WorkerCrashed)
        // as documented (docs/reliability.md, "At a glance"): a thread reports the memory limit; a process over
        // --max-old-space-size aborts (V8's fatal "heap out of memory"), and the pool sees the signal
        if (backend === "threads") assert.include(error.message, "memory limit")
        else {
          assert.strictEqual(error.signal, "SIGABRT")
          assert.include(error.message, "heap out of memory")
        }
        assert.strictEqual(yield* pool.apply(tasks.square, [12]), 144)
      }))

    it.effect("24. workers that cannot start: the pool gives up after a few attempts, leaving no worker behind", () =>
      Effect.gen(function*() {
        const workersBefore = liveWorkers(backend)
        const scope = yield* Scope.make()
        const [error, stderr] = yield* captureStderr(Effect.flip(
          WorkerPool.make({ size: 2, backend, execArgv: ["--no-such-flag"] }).pipe(Scope.provide(scope))
        ))
        if (backend === "processes") assert.include(stderr, "bad option: --no-such-flag")
        assert.instanceOf(error, WorkerStartFailed)
        assert.strictEqual(error.attempts, 3)
        assert.deepStrictEqual(liveWorkers(backend), workersBefore)
        yield* Scope.close(scope, Exit.void)
        assert.deepStrictEqual(liveWorkers(backend), workersBefore)
      }))

    it.effect(
      "24. the WorkerStartFailed of workers that cannot start carries the cause",
      () =>
        Effect.gen(function*() {
          const [error, stderr] = yield* captureStderr(
            Effect.flip(WorkerPool.make({ size: 2, backend, execArgv: ["--no-such-flag"] }))
          )
          if (backend === "processes") assert.include(stderr, "bad option: --no-such-flag")
          assert.instanceOf(error, WorkerStartFailed)
          assert.include(error.message, "--no-such-flag")
        })
    )
  })
}
