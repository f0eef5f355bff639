/**
 * Failover with Postgres membership: real runner processes (test/fixtures/cluster-pg-runner.ts),
 * a real PostgreSQL (test/cluster/postgres-setup.ts, a fresh database for this file), this test as
 * the client through `ClusterPool`. One cluster, in steps (each step's state is the previous one's
 * outcome, which keeps the file to one cluster start-up):
 * 1. a runner `kill -9`ed in the middle of a map of 1,000 tasks loses none of them: each ran once,
 *    or ran again elsewhere because its runner died (at-least-once); its shards are served again
 *    within a (generous) bound, the figure printed;
 * 2. a runner started late (with the CLI's `--postgres`) takes shards (tasks run on it);
 * 3. a runner stopped with SIGTERM in the middle of a map hands its shards off: it exits, every
 *    task is answered, and none ran twice.
 * Runs are counted through the side effects tasks leave (test/fixtures/cluster-pg-tasks.ts), not
 * through the replies alone.
 */
import { assert, describe, it } from "@effect/vitest"
import { afterAll } from "vitest"
import { Clock, Effect, Exit, Fiber, Scope } from "effect"
import * as ClusterPool from "../../src/ClusterPool.ts"
import type { Pool } from "../../src/WorkerPool.ts"
import { pgTasks } from "../fixtures/cluster-pg-tasks.ts"
import {
  freshDatabase,
  postgresUrl,
  readRuns,
  type RunnerProcess,
  skipReason,
  startRunner,
  tally,
  tempDir
} from "./postgres-db.ts"

const root = new URL("../", import.meta.url)
const TASKS = 1_000
const ids = Array.from({ length: TASKS }, (_, i) => i)

/** Waits until at least `count` task runs have started. */
const startedAtLeast = (dir: string, count: number) =>
  Effect.gen(function*() {
    while (readRuns(dir).filter((run) => run.event === "start").length < count) yield* Effect.sleep(20)
  })

/** The runner that started the most tasks so far (it surely holds shards). */
const busiest = (dir: string, runners: ReadonlyArray<RunnerProcess>): RunnerProcess => {
  const counts = new Map<number, number>()
  for (const run of readRuns(dir)) counts.set(run.pid, (counts.get(run.pid) ?? 0) + 1)
  return runners.reduce((a, b) => (counts.get(a.pid) ?? 0) >= (counts.get(b.pid) ?? 0) ? a : b)
}

/** Fails, saying which tasks never finished and what the runners printed, if `effect` takes longer than `millis`. */
const diagnoseAfter = (millis: number, dir: string, runners: () => ReadonlyArray<RunnerProcess> = () => all) =>
<A, E>(effect: Effect.Effect<A, E>) =>
  effect.pipe(
    Effect.timeoutOrElse({
      duration: millis,
      orElse: () =>
        Effect.die(
          new Error(
            `the map did not finish in ${millis} ms; started, not finished: ${
              JSON.stringify([...tally(dir)].filter(([, runs]) => runs.ends.length === 0))
            }\n${runners().map((runner) => `runner ${runner.pid}:\n${runner.output().slice(-4000)}`).join("\n")}`
          )
        )
    })
  )
/** Every runner started by this file (for diagnostics). */
const all: Array<RunnerProcess> = []

/** 1,000 tasks of 20 ms each, in chunks of 4, leaving their traces in `dir`. */
const bigMap = (pool: Pool, dir: string) =>
  pool.starmap(pgTasks.record, ids.map((i) => [i, dir, 20] as const), { chunksize: 4 })

describe.skipIf(!postgresUrl)(`Postgres membership: failover${skipReason ? ` (skipped: ${skipReason})` : ""}`, () => {
  // one cluster for the steps below, built by the first and closed after the last
  const scope = Effect.runSync(Scope.make())
  const state = { url: "", runners: [] as Array<RunnerProcess>, pool: undefined as unknown as Pool }
  const inCluster = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>) => Effect.provideService(effect, Scope.Scope, scope)
  afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)), 60_000)

  it.live("0. a cluster of 3 runners over Postgres serves a map", () =>
    inCluster(Effect.gen(function*() {
      state.url = yield* freshDatabase
      state.runners = yield* Effect.forEach([1, 2, 3], () => startRunner(state.url), { concurrency: "unbounded" })
      all.push(...state.runners)
      state.pool = yield* ClusterPool.make({ postgres: state.url, root }) // the default unavailableTimeout (30 s)
      const dir = yield* tempDir
      assert.deepStrictEqual(yield* state.pool.starmap(pgTasks.record, [[1, dir, 0], [2, dir, 0]]), [1, 2])
    })), 120_000)

  it.live("1. kill -9 of one of 3 runners in a map of 1,000 tasks: none lost, each ran once or re-ran; recovery bounded", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const running = yield* Effect.forkChild(bigMap(state.pool, dir))
      yield* startedAtLeast(dir, 300)
      const victim = busiest(dir, state.runners)
      const killedAt = yield* Clock.currentTimeMillis
      process.kill(victim.pid, "SIGKILL")
      const results = yield* Fiber.join(running).pipe(diagnoseAfter(90_000, dir))
      const recovery = (yield* Clock.currentTimeMillis) - killedAt
      state.runners = state.runners.filter((runner) => runner !== victim)
      assert.deepStrictEqual(results, ids, "every task answered, in order")
      const byId = tally(dir)
      assert.deepStrictEqual(ids.filter((i) => (byId.get(i)?.ends.length ?? 0) === 0), [], "every task finished")
      const reRun = [...byId].filter(([, runs]) => runs.starts.length > 1)
      for (const [id, runs] of reRun) {
        // a task runs twice only because the runner it was on died
        assert.include(runs.starts, victim.pid, `task ${id} started twice, once on the dead runner`)
        assert.strictEqual(runs.starts.filter((pid) => pid !== victim.pid).length, 1, `task ${id} re-ran once`)
      }
      console.log(`failover: ${reRun.length} tasks re-ran; kill -9 → the map done in ${recovery} ms`)
      assert.isAbove(reRun.length, 0, "the dead runner held tasks, which ran again")
      assert.isBelow(recovery, 60_000, "the dead runner's shards were served again")
    }).pipe(Effect.scoped), 120_000)

  it.live("2. a runner started late (by the CLI: runner --postgres URL) takes shards", () =>
    inCluster(Effect.gen(function*() {
      const late = yield* startRunner(state.url, { how: "cli" })
      state.runners = [...state.runners, late]
      all.push(late)
      const startedAt = yield* Clock.currentTimeMillis
      const dir = yield* tempDir
      // maps until a task runs on the late runner
      let round = 0
      while (!readRuns(dir).some((run) => run.pid === late.pid)) {
        yield* state.pool.starmap(pgTasks.record, ids.slice(0, 64).map((i) => [round * 64 + i, dir, 0] as const))
        round++
      }
      console.log(`failover: a late runner ran its first task ${(yield* Clock.currentTimeMillis) - startedAt} ms after it listened`)
    })), 120_000)

  it.live("3. SIGTERM in the middle of a map: the runner hands its shards off and exits, nothing runs twice", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const running = yield* Effect.forkChild(bigMap(state.pool, dir))
      yield* startedAtLeast(dir, 300)
      const leaving = busiest(dir, state.runners)
      process.kill(leaving.pid, "SIGTERM")
      const results = yield* Fiber.join(running).pipe(diagnoseAfter(90_000, dir))
      const exit = yield* Effect.promise(() => leaving.exited)
      assert.deepStrictEqual(results, ids, "every task answered, in order")
      const byId = tally(dir)
      const twice = [...byId].filter(([, runs]) => runs.starts.length !== 1 || runs.ends.length !== 1)
      assert.deepStrictEqual(twice, [], "every task started and finished exactly once")
      assert.isTrue(readRuns(dir).some((run) => run.pid === leaving.pid), "the leaving runner had run tasks")
      assert.strictEqual(exit.signal, null, `it exited by itself: ${JSON.stringify(exit)}`)
    }).pipe(Effect.scoped), 120_000)
})
