/**
 * Static membership (a fixed list of peers, no database): a call whose
 * runner cannot be reached (not started, or killed while it held the call)
 * fails after `unavailableTimeout` with a clear error, never hanging; a
 * runner that comes up within that time serves the calls that waited for it;
 * options are checked. And the package's index
 * (a local pool) never loads the cluster code.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Fiber } from "effect"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import * as ClusterPool from "../../src/ClusterPool.ts"
import { WorkerStartFailed } from "../../src/index.ts"
import { tasks } from "../fixtures/tasks.ts"
import { makeFlags, waitFor } from "../utils.ts"
import * as Runners from "./runners.ts"

describe("static membership", () => {
  it.live("a call whose runner cannot be reached fails with WorkerStartFailed after unavailableTimeout", () =>
    Effect.gen(function*() {
      const [port] = yield* Effect.promise(() => Runners.freePorts(1)) // nobody listens there
      const pool = yield* ClusterPool.make({
        peers: [`127.0.0.1:${port}`],
        root: Runners.root,
        unavailableTimeout: "1 second"
      })
      const error = yield* Effect.flip(pool.apply(tasks.square, [2]))
      assert.instanceOf(error, WorkerStartFailed)
      assert.include(error.message, "no runner answered for 1s")
      const inMap = yield* Effect.flip(pool.map(tasks.square, [1, 2, 3]))
      assert.instanceOf(inMap, WorkerStartFailed)
    }), { timeout: 30_000 })

  it.live("a runner that starts while calls wait for it serves them", () =>
    Effect.gen(function*() {
      // start the client first, against a runner address nobody listens on yet, then the runner
      const [port] = yield* Effect.promise(() => Runners.freePorts(1))
      const client = yield* ClusterPool.make({
        peers: [`127.0.0.1:${port}`],
        root: Runners.root,
        unavailableTimeout: "30 seconds"
      })
      const waiting = yield* Effect.forkChild(client.map(tasks.square, [1, 2, 3, 4], { chunksize: 1 }))
      yield* Runners.startOn([port], ["threads"])
      assert.deepStrictEqual(yield* Fiber.join(waiting), [1, 4, 9, 16])
    }), { timeout: 60_000 })

  it.effect("peers must be host:port; some membership is required; sizes are positive integers", () =>
    Effect.gen(function*() {
      for (const options of [{ peers: ["nope"] }, { peers: ["127.0.0.1:0"] }, {}, { peers: ["127.0.0.1:1"], size: 0 }]) {
        const error = yield* Effect.flip(ClusterPool.make(options))
        assert.isTrue(Cause.isIllegalArgumentError(error), JSON.stringify(options))
      }
    }))

  it("the package's index, and a local pool's run, load no cluster code", async () => {
    const index = new URL("../../src/index.ts", import.meta.url).href
    const script = `
      import { registerHooks } from "node:module"
      const loaded = []
      registerHooks({ resolve: (specifier, context, next) => { const r = next(specifier, context); loaded.push(r.url); return r } })
      const { WorkerPool } = await import(${JSON.stringify(index)})
      const cluster = loaded.filter((url) => url.includes("/cluster/") || url.includes("ClusterPool"))
      console.log(JSON.stringify({ loaded: loaded.length, cluster, pool: typeof WorkerPool.make }))
    `
    const output = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ["--input-type=module", "-e", script], {
        cwd: fileURLToPath(new URL("../../", import.meta.url))
      }, (error, stdout) => error ? reject(error) : resolve(stdout))
    )
    const result = JSON.parse(output)
    assert.isAbove(result.loaded, 10)
    assert.deepStrictEqual(result.cluster, [])
    assert.strictEqual(result.pool, "function")
  })
})

describe("static membership: a runner that dies", () => {
  it.live("a call in flight on a runner killed with SIGKILL fails after unavailableTimeout; once it is back, calls run", () =>
    Effect.gen(function*() {
      const { peers, runners } = yield* Runners.start(["threads"], 1)
      const pool = yield* ClusterPool.make({ peers, root: Runners.root, unavailableTimeout: "2 seconds" })
      const flags = yield* makeFlags("processes")
      const call = yield* Effect.forkChild(pool.apply(tasks.interruptible, [flags]))
      yield* waitFor(flags, 0)
      runners[0].process.kill("SIGKILL")
      const error = yield* Effect.flip(Fiber.join(call))
      assert.instanceOf(error, WorkerStartFailed)
      assert.include(error.message, "no runner answered for 2s")
      // the same address comes back (a restarted runner): the calls find it
      yield* Runners.startOn([runners[0].port], ["threads"], 1)
      assert.strictEqual(yield* pool.apply(tasks.square, [7]), 49)
    }), { timeout: 60_000 })
})
