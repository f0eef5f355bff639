/**
 * The CLI: `effect-multiprocessing runner --port … --peers … --backend … --size … --root …` starts runners
 * that serve a `ClusterPool`, and each shuts down gracefully on SIGTERM (exit code 0): the calls it runs get the
 * engine's drain (`entityTerminationTimeout`, 15 s) to finish, then are interrupted in their workers.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as ClusterPool from "../../src/ClusterPool.ts"
import { WorkerCrashed } from "../../src/index.ts"
import { tasks } from "../fixtures/tasks.ts"
import { load, makeFlags, open, waitFor } from "../utils.ts"
import * as Runners from "./runners.ts"

describe("CLI runner", () => {
  it.live("runners started by the CLI serve a map, and exit with code 0 on SIGTERM", () =>
    Effect.gen(function*() {
      const { peers, runners } = yield* Runners.start(["processes", "threads"], 1, "cli")
      const pool = yield* ClusterPool.make({ peers, root: Runners.root })
      const items = Array.from({ length: 100 }, (_, i) => i)
      assert.deepStrictEqual(yield* pool.map(tasks.square, items, { chunksize: 5 }), items.map((x) => x * x))
      yield* pool.terminate
      for (const runner of runners) {
        assert.strictEqual(yield* Runners.terminate(runner), 0, runner.output())
        assert.include(runner.output(), `effect-multiprocessing runner on ${runner.address} (`)
      }
    }), { timeout: 60_000 })

  it.live("SIGTERM lets a call in flight finish (the runner drains), then the runner exits with code 0", () =>
    Effect.gen(function*() {
      const { peers, runners } = yield* Runners.start(["threads"], 1, "cli")
      const pool = yield* ClusterPool.make({ peers, root: Runners.root })
      const flags = yield* makeFlags("processes")
      const call = yield* Effect.forkChild(pool.apply(tasks.waitForRelease, [flags]))
      yield* waitFor(flags, 0)
      const stopping = yield* Effect.forkChild(Runners.terminate(runners[0]))
      // the runner is shutting down; its call is still running, and may finish
      yield* Effect.sleep("200 millis")
      assert.isUndefined(stopping.pollUnsafe(), "the runner waits for its call")
      open(flags, 1)
      assert.strictEqual(yield* Fiber.join(call), "released")
      assert.strictEqual(yield* Fiber.join(stopping), 0, runners[0].output())
    }), { timeout: 60_000 })

  it.live("SIGTERM stops a call that does not finish within the drain: it fails with WorkerCrashed, interrupted in its worker", () =>
    Effect.gen(function*() {
      const { peers, runners } = yield* Runners.start(["threads"], 1, "cli")
      const pool = yield* ClusterPool.make({ peers, root: Runners.root })
      const flags = yield* makeFlags("processes")
      const call = yield* Effect.forkChild(pool.apply(tasks.interruptible, [flags]))
      yield* waitFor(flags, 0)
      assert.strictEqual(yield* Runners.terminate(runners[0]), 0, runners[0].output())
      const error = yield* Effect.flip(Fiber.join(call))
      assert.instanceOf(error, WorkerCrashed)
      assert.include(error.message, "the runner was shut down")
      assert.strictEqual(load(flags, 1), 1, "the task was interrupted in its worker")
    }), { timeout: 60_000 })
})
