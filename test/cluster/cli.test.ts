/**
 * The CLI: `effect-multiprocessing runner --port … --peers … --backend … --size … --root …` starts runners
 * that serve a `ClusterPool`, and each shuts down gracefully on SIGTERM (exit code 0).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ClusterPool from "../../src/ClusterPool.ts"
import { tasks } from "../fixtures/tasks.ts"
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
})
