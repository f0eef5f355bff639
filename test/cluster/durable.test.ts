/**
 * Durable mode over Postgres: real runner processes, a real PostgreSQL (a fresh database for this
 * file), this test as the client. A job's chunks are persisted with a primary key; the same job
 * resubmitted (by a new client, as after a restart) is answered from storage without running again;
 * the same job id with other items runs them; a durable pool dedupes identical calls; the retention
 * sweep deletes processed calls (never pending ones), after which a resubmission runs again; a
 * durable job whose runner is killed mid-job finishes on the other; a runner sweeps periodically.
 * Runs are counted through the side effects tasks leave.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Clock, Effect, Exit, Fiber, Redacted, Scope } from "effect"
import { afterAll } from "vitest"
import * as ClusterPool from "../../src/ClusterPool.ts"
import * as DurableRetention from "../../src/internal/cluster/durableRetention.ts"
import type { Pool } from "../../src/WorkerPool.ts"
import { pgTasks } from "../fixtures/cluster-pg-tasks.ts"
import {
  freshDatabase,
  postgresUrl,
  query,
  readRuns,
  type RunnerProcess,
  skipReason,
  startRunner,
  tally,
  tempDir
} from "./postgres-db.ts"

const root = new URL("../", import.meta.url)
const items = (dir: string, from: number, count: number) =>
  Array.from({ length: count }, (_, i) => [from + i, dir, 0] as const)
const starts = (dir: string) => readRuns(dir).filter((run) => run.event === "start").length

describe.skipIf(!postgresUrl)(`durable mode${skipReason ? ` (skipped: ${skipReason})` : ""}`, () => {
  const scope = Effect.runSync(Scope.make())
  const state = { url: "", dir: "", runners: [] as ReadonlyArray<RunnerProcess> }
  const inCluster = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) => Effect.provideService(effect, Scope.Scope, scope)
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)), 60_000)
  /** A new client of the cluster, as a restarted program would make. */
  const client = (durable?: boolean): Effect.Effect<Pool, Cause.IllegalArgumentError, Scope.Scope> =>
    ClusterPool.make({ postgres: state.url, root, durable, unavailableTimeout: "60 seconds" })

  it.live("0. a cluster of 2 runners over Postgres", () =>
    inCluster(Effect.gen(function*() {
      state.url = yield* freshDatabase
      state.dir = yield* tempDir
      state.runners = yield* Effect.forEach([1, 2], () => startRunner(state.url), { concurrency: "unbounded" })
    })), 120_000)

  it.live("a resubmitted job is answered from storage; the same job id with other items runs them", () =>
    Effect.gen(function*() {
      const { dir } = state
      const first = yield* client()
      const job = items(dir, 0, 40)
      const expected = job.map(([i]) => i)
      assert.deepStrictEqual(
        yield* first.starmap(pgTasks.record, job, { chunksize: 4 }).pipe(ClusterPool.withJob("job-1")),
        expected
      )
      assert.strictEqual(starts(dir), 40)
      // a new client (a restarted program) resubmits the job: every chunk answered from storage
      const again = yield* client()
      const t0 = yield* Clock.currentTimeMillis
      assert.deepStrictEqual(
        yield* again.starmap(pgTasks.record, job, { chunksize: 4 }).pipe(ClusterPool.withJob("job-1")),
        expected
      )
      console.log(`durable: a resubmitted job of 10 chunks answered from storage in ${(yield* Clock.currentTimeMillis) - t0} ms`)
      assert.strictEqual(starts(dir), 40, "nothing ran again")
      // the same job id, other items: they run
      const other = items(dir, 100, 8)
      assert.deepStrictEqual(
        yield* again.starmap(pgTasks.record, other, { chunksize: 4 }).pipe(ClusterPool.withJob("job-1")),
        other.map(([i]) => i)
      )
      assert.strictEqual(starts(dir), 48)
      // without a job id on a volatile pool, the same call runs again
      yield* again.starmap(pgTasks.record, job.slice(0, 4))
      assert.strictEqual(starts(dir), 52)
    }).pipe(Effect.scoped), 120_000)

  it.live("a durable pool: the same apply made twice runs once", () =>
    Effect.gen(function*() {
      const { dir } = state
      const pool = yield* client(true)
      const before = starts(dir)
      assert.strictEqual(yield* pool.apply(pgTasks.record, [500, dir, 0]), 500)
      assert.strictEqual(yield* pool.apply(pgTasks.record, [500, dir, 0]), 500)
      assert.strictEqual(starts(dir), before + 1)
    }).pipe(Effect.scoped), 60_000)

  it.live("the retention sweep deletes processed calls, never pending ones; a job resubmitted after it runs again", () =>
    Effect.gen(function*() {
      const { dir, url } = state
      const [{ n: stored }] = yield* query<{ n: number }>(url, "SELECT count(*)::int AS n FROM cluster_messages")
      assert.isAbove(stored, 0)
      // a pending request from long ago (id 1: the snowflake epoch) must survive any sweep
      yield* query(url, `INSERT INTO cluster_messages (id, shard_id, entity_type, entity_id, kind, processed, request_id)
        VALUES (1, 'default:1', 'none', 'none', 0, FALSE, 1)`)
      const deleted = yield* DurableRetention.sweep({ retention: 0 }).pipe(
        Effect.provide(PgClient.layer({ url: Redacted.make(url), maxConnections: 1 })),
        Effect.orDie
      )
      assert.isAbove(deleted, 0)
      const left = yield* query<{ id: string; processed: boolean }>(url, "SELECT id::text AS id, processed FROM cluster_messages")
      assert.deepStrictEqual(left, [{ id: "1", processed: false }])
      const [{ n: replies }] = yield* query<{ n: number }>(url, "SELECT count(*)::int AS n FROM cluster_replies")
      assert.strictEqual(replies, 0)
      yield* query(url, "DELETE FROM cluster_messages WHERE id = 1")
      // the job's results are gone: resubmitted, it runs again
      const before = starts(dir)
      const pool = yield* client()
      yield* pool.starmap(pgTasks.record, items(dir, 0, 40), { chunksize: 4 }).pipe(ClusterPool.withJob("job-1"))
      assert.strictEqual(starts(dir), before + 40)
    }).pipe(Effect.scoped), 120_000)

  it.live("a durable job whose runner is kill -9ed mid-job: every task finishes, re-runs only of the dead runner's", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const pool = yield* client()
      const job = Array.from({ length: 40 }, (_, i) => [1000 + i, dir, 200] as const)
      const running = yield* Effect.forkChild(
        pool.starmap(pgTasks.record, job, { chunksize: 2 }).pipe(ClusterPool.withJob("job-killed"))
      )
      while (starts(dir) < 8) yield* Effect.sleep(20)
      const counts = new Map<number, number>()
      for (const run of readRuns(dir)) counts.set(run.pid, (counts.get(run.pid) ?? 0) + 1)
      const victim = state.runners.reduce((a, b) => (counts.get(a.pid) ?? 0) >= (counts.get(b.pid) ?? 0) ? a : b)
      process.kill(victim.pid, "SIGKILL")
      assert.deepStrictEqual(yield* Fiber.join(running), job.map(([i]) => i))
      const byId = tally(dir)
      for (const [i] of job) {
        const runs = byId.get(i)
        assert.isAbove(runs?.ends.length ?? 0, 0, `task ${i} finished`)
        if (runs!.starts.length > 1) assert.include(runs!.starts, victim.pid, `task ${i} ran twice, once on the dead runner`)
      }
    }).pipe(Effect.scoped), 120_000)

  it.live("a runner sweeps processed durable calls past the retention, periodically", () =>
    inCluster(Effect.gen(function*() {
      const { dir, url } = state
      const pool = yield* client()
      yield* pool.starmap(pgTasks.record, items(dir, 2000, 8), { chunksize: 4 }).pipe(ClusterPool.withJob("job-swept"))
      const processed = "SELECT count(*)::int AS n FROM cluster_messages WHERE processed"
      assert.isAbove((yield* query<{ n: number }>(url, processed))[0].n, 0)
      // a runner that keeps processed calls 1 ms and sweeps every 200 ms
      yield* startRunner(url, { env: { EFFECT_MP_TEST_RETENTION_MS: "1", EFFECT_MP_TEST_SWEEP_MS: "200" } })
      while ((yield* query<{ n: number }>(url, processed))[0].n > 0) yield* Effect.sleep(100)
    })), 60_000)

  it.effect("durable mode needs Postgres; a job id is 1–64 characters without /", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(ClusterPool.make({ peers: ["127.0.0.1:1"], durable: true }))
      assert.isTrue(Cause.isIllegalArgumentError(error))
      for (const job of ["", "a/b", "x".repeat(65)]) {
        const wrong = yield* Effect.flip(Effect.void.pipe(ClusterPool.withJob(job)))
        assert.isTrue(Cause.isIllegalArgumentError(wrong), job)
      }
    }))
})
