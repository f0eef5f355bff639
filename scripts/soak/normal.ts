/**
 * Normal tasks: sync, async and Effect tasks through every pool method; each must succeed with exactly its value.
 */
import { Effect, Stream } from "effect"
import { expectAsync, expectEffect, expectSync, tasks } from "../soak-tasks.ts"
import { exitOf, type Op, range, smallDelay, x32 } from "./model.ts"

export const normal: ReadonlyArray<Op> = [
  {
    name: "apply sync",
    weight: 20,
    build: ({ pool, rng, unit }) => {
      const x = x32(rng)
      return {
        run: exitOf(pool.apply(tasks.syncMath, [unit().unit, x])),
        expect: { kind: "normal", value: expectSync(x), collateralOk: false }
      }
    }
  },
  {
    name: "apply async",
    weight: 8,
    build: ({ pool, rng, unit }) => {
      const x = x32(rng)
      const { id, unit: u } = unit()
      return {
        run: exitOf(pool.apply(tasks.asyncMath, [u, x, smallDelay(rng)])),
        expect: { kind: "normal", value: expectAsync(x), collateralOk: true, repliesWhenFinished: id }
      }
    }
  },
  {
    name: "apply effect",
    weight: 8,
    build: ({ pool, rng, unit }) => {
      const x = x32(rng)
      return {
        run: exitOf(pool.apply(tasks.effectMath, [unit().unit, x, smallDelay(rng)])),
        expect: { kind: "normal", value: expectEffect(x), collateralOk: true }
      }
    }
  },
  {
    name: "map sync",
    weight: 6,
    build: ({ pool, rng, item }) => {
      const xs = range(rng.int(0, 60)).map(() => x32(rng))
      const chunksize = rng.chance(0.4) ? undefined : rng.int(1, 12)
      const items = xs.map((x) => item(x, 0, 0).item)
      return {
        run: exitOf(pool.map(tasks.syncItem, items, { chunksize })),
        expect: { kind: "normal", value: xs.map(expectSync), collateralOk: true }
      }
    }
  },
  {
    name: "map async+effect",
    weight: 3,
    build: ({ pool, rng, item }) => {
      const xs = range(rng.int(1, 20)).map(() => x32(rng))
      const chunksize = rng.chance(0.3) ? undefined : rng.int(1, 6)
      const items = xs.map((x) => item(x, smallDelay(rng), 0).item)
      const effect = rng.chance(0.5)
      return {
        run: exitOf(pool.map(effect ? tasks.effectItem : tasks.asyncItem, items, { chunksize })),
        expect: { kind: "normal", value: xs.map(effect ? expectEffect : expectAsync), collateralOk: true }
      }
    }
  },
  {
    name: "starmap sync",
    weight: 2,
    build: ({ pool, rng, unit }) => {
      const xs = range(rng.int(1, 40)).map(() => x32(rng))
      const chunksize = rng.chance(0.4) ? undefined : rng.int(1, 8)
      const tuples = xs.map((x) => {
        const [counters, index] = unit().unit
        return [counters, index, x] as const
      })
      return {
        run: exitOf(pool.starmap(tasks.syncPair, tuples, { chunksize })),
        expect: { kind: "normal", value: xs.map(expectSync), collateralOk: true }
      }
    }
  },
  {
    name: "imap sync",
    weight: 3,
    build: ({ pool, rng, item }) => {
      const xs = range(rng.int(0, 40)).map(() => x32(rng))
      const chunksize = rng.chance(0.5) ? undefined : rng.int(1, 5)
      const items = xs.map((x) => item(x, 0, 0).item)
      const input = rng.chance(0.5) ? Stream.fromIterable(items) : items
      return {
        run: exitOf(Stream.runCollect(pool.imap(tasks.syncItem, input, { chunksize }))),
        expect: { kind: "normal", value: xs.map(expectSync), collateralOk: true }
      }
    }
  },
  {
    name: "imapUnordered async",
    weight: 3,
    build: ({ pool, rng, item }) => {
      const xs = range(rng.int(1, 30)).map(() => x32(rng))
      const chunksize = rng.chance(0.5) ? undefined : rng.int(1, 4)
      const items = xs.map((x) => item(x, smallDelay(rng), 0).item)
      const input = rng.chance(0.5) ? Stream.fromIterable(items) : items
      return {
        run: exitOf(Stream.runCollect(pool.imapUnordered(tasks.asyncItem, input, { chunksize }))),
        expect: { kind: "normal", value: xs.map(expectAsync), unordered: true, collateralOk: true }
      }
    }
  },
  {
    name: "imap take (ends early)",
    weight: 1,
    build: ({ pool, rng, item }) => {
      const xs = range(rng.int(2, 40)).map(() => x32(rng))
      const take = rng.int(1, xs.length - 1)
      const chunksize = rng.chance(0.5) ? undefined : rng.int(1, 4)
      const made = xs.map((x) => item(x, smallDelay(rng), 0))
      const effect = rng.chance(0.5)
      return {
        run: exitOf(Stream.runCollect(
          pool.imap(effect ? tasks.effectItem : tasks.asyncItem, made.map((m) => m.item), { chunksize }).pipe(
            Stream.take(take)
          )
        )),
        expect: {
          kind: "normal",
          value: xs.slice(0, take).map(effect ? expectEffect : expectAsync),
          collateralOk: true,
          ranOnSuccess: made.slice(0, take).map((m) => m.id)
        }
      }
    }
  },
  {
    name: "applyAsync sync",
    weight: 4,
    build: ({ pool, rng, unit }) => {
      const x = x32(rng)
      return {
        run: exitOf(Effect.flatMap(pool.applyAsync(tasks.syncMath, [unit().unit, x]), (result) => result.get())),
        expect: { kind: "normal", value: expectSync(x), collateralOk: false }
      }
    }
  },
  {
    name: "applyAsync get(timeout) then get",
    weight: 2,
    build: ({ pool, rng, unit }) => {
      const x = x32(rng)
      const timeout = rng.int(0, 3)
      const { id, unit: u } = unit()
      return {
        // a get that times out only stops waiting: the task keeps running and a later get returns its value
        run: exitOf(Effect.gen(function*() {
          const result = yield* pool.applyAsync(tasks.asyncMath, [u, x, rng.int(1, 6)])
          yield* Effect.exit(result.get({ timeout }))
          return yield* result.get()
        })),
        expect: { kind: "normal", value: expectAsync(x), collateralOk: true, repliesWhenFinished: id }
      }
    }
  },
  {
    name: "mapAsync sync",
    weight: 1,
    build: ({ pool, rng, item }) => {
      const xs = range(rng.int(0, 30)).map(() => x32(rng))
      const items = xs.map((x) => item(x, 0, 0).item)
      return {
        run: exitOf(
          Effect.flatMap(pool.mapAsync(tasks.syncItem, items, { chunksize: rng.int(1, 8) }), (result) => result.get())
        ),
        expect: { kind: "normal", value: xs.map(expectSync), collateralOk: true }
      }
    }
  }
]
