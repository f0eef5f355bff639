/**
 * Cancellations (`Effect.timeout`, `Fiber.interrupt`) of CPU-bound sync tasks (some past the grace period, so their
 * worker is killed), of async tasks that watch `Task.signal()` and of Effect tasks: each call ends, cancelled or done.
 */
import { Effect, Exit, Fiber } from "effect"
import { expectAsync, tasks } from "../soak-tasks.ts"
import { exitOf, GRACE_MS, interruptAfter, interruptAfterStart, longBusyStarted, type Op, range, x32 } from "./model.ts"

export const cancels: ReadonlyArray<Op> = [
  {
    name: "cancel: sync busy, timeout",
    weight: 2,
    build: ({ pool, rng, unit }) => {
      const ms = rng.int(5, 60)
      const timeout = rng.int(1, Math.min(ms - 1, 20))
      return {
        run: exitOf(pool.apply(tasks.busy, [unit().unit, ms]).pipe(Effect.timeout(timeout))),
        expect: { kind: "cancel", value: ms, collateralOk: true }
      }
    }
  },
  {
    name: "cancel: sync busy > grace, timeout",
    weight: 0.5,
    heavy: "stall",
    build: ({ pool, rng, unit }) => {
      const ms = rng.int(GRACE_MS + 80, GRACE_MS + 350)
      return {
        run: exitOf(pool.apply(tasks.busy, [unit().unit, ms]).pipe(Effect.timeout(rng.int(5, 50)))),
        expect: { kind: "cancel", value: ms, collateralOk: true }
      }
    }
  },
  {
    // cancelled once running, with at least 150 ms of spinning left after the grace period: its worker is killed
    name: "cancel: sync busy > grace, started",
    weight: 0.6,
    heavy: "stall",
    build: ({ pool, rng, unit }) => {
      const ms = rng.int(GRACE_MS + 170, GRACE_MS + 450)
      const { id, unit: u } = unit()
      return {
        run: interruptAfterStart(pool.apply(tasks.busy, [u, ms]), u, rng.int(0, 20), () => longBusyStarted.push(id)),
        expect: { kind: "cancel", value: ms, collateralOk: true }
      }
    }
  },
  {
    name: "cancel: async signal, interrupt",
    weight: 1.5,
    build: ({ pool, rng, unit }) => {
      const ms = rng.int(20, 200)
      const { unit: u } = unit()
      const call = pool.apply(tasks.abortableWait, [u, ms, rng.int(1, 20)])
      return {
        run: rng.chance(0.5) ? interruptAfter(call, rng.int(0, 30)) : interruptAfterStart(call, u, rng.int(0, 10)),
        expect: { kind: "cancel", value: ms, collateralOk: true }
      }
    }
  },
  {
    name: "cancel: sync busy, started",
    weight: 1,
    build: ({ pool, rng, unit }) => {
      const ms = rng.int(5, 60)
      const { unit: u } = unit()
      return {
        run: interruptAfterStart(pool.apply(tasks.busy, [u, ms]), u, rng.int(0, 3)),
        expect: { kind: "cancel", value: ms, collateralOk: true }
      }
    }
  },
  {
    name: "cancel: effect, started",
    weight: 1,
    build: ({ pool, rng, unit }) => {
      const ms = rng.int(10, 200)
      const { unit: u } = unit()
      return {
        run: interruptAfterStart(pool.apply(tasks.effectWait, [u, ms]), u, rng.int(0, 10)),
        expect: { kind: "cancel", value: ms, collateralOk: true }
      }
    }
  },
  {
    name: "cancel: effect, timeout",
    weight: 1.5,
    build: ({ pool, rng, unit }) => {
      const ms = rng.int(10, 200)
      return {
        run: exitOf(pool.apply(tasks.effectWait, [unit().unit, ms]).pipe(Effect.timeout(rng.int(0, 30)))),
        expect: { kind: "cancel", value: ms, collateralOk: true }
      }
    }
  },
  {
    name: "cancel: applyAsync fiber interrupt",
    weight: 1,
    build: ({ pool, rng, unit }) => {
      const ms = rng.int(10, 150)
      const async = rng.chance(0.5)
      const after = rng.int(0, 30)
      return {
        run: Effect.gen(function*() {
          const result = yield* (async
            ? pool.applyAsync(tasks.abortableWait, [unit().unit, ms, rng.int(1, 20)])
            : pool.applyAsync(tasks.effectWait, [unit().unit, ms]))
          yield* Effect.sleep(after)
          yield* Fiber.interrupt(result.fiber)
          return yield* Fiber.await(result.fiber)
        }).pipe(Effect.catch((error) => Effect.succeed(Exit.fail(error)))),
        expect: { kind: "cancel", value: ms, collateralOk: true }
      }
    }
  },
  {
    name: "cancel: map, timeout",
    weight: 1,
    build: ({ pool, rng, item }) => {
      const xs = range(rng.int(2, 30)).map(() => x32(rng))
      const items = xs.map((x) => item(x, rng.int(2, 10), 0).item)
      return {
        run: exitOf(pool.map(tasks.asyncItem, items, { chunksize: rng.int(1, 4) }).pipe(Effect.timeout(rng.int(1, 15)))),
        expect: { kind: "cancel", value: xs.map(expectAsync), collateralOk: true }
      }
    }
  }
]
