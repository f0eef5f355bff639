/**
 * Property tests of SEMANTICS.md 1, 2 and 5 over random sizes, chunksizes and
 * per-item delays: `map` / `starmap` / `imap` equal the sequential result, and
 * `imapUnordered` is a permutation of it. On worker threads and on child
 * processes, with one set of pools per backend shared by the runs; and on the
 * test layer (`WorkerPool.makeTest`), with a fresh pool per run, seeded by the
 * run, so that the completion order is shuffled differently each time.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Effect, Exit, Scope, Stream } from "effect"
import * as fc from "fast-check"
import { WorkerPool } from "../src/index.ts"
import { tasks } from "./fixtures/tasks.ts"
import { backends } from "./utils.ts"

const sizes = [1, 2, 3] as const

const scenario = fc.record({
  size: fc.constantFrom(...sizes),
  // per-item delays in ms: the completion order differs from the input order
  delays: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 40 }),
  chunksize: fc.option(fc.integer({ min: 1, max: 12 }), { nil: undefined }),
  // the test layer's seed (the real backends have none)
  seed: fc.integer()
})

const run = <A>(effect: Effect.Effect<A, unknown>) => Effect.runPromise(effect)

for (const backend of [...backends, "test layer"] as const) {
  describe(`ordering properties (${backend})`, () => {
    const pools = new Map<number, WorkerPool.Pool>()
    let scope: Scope.Closeable

    beforeAll(async () => {
      scope = Effect.runSync(Scope.make())
      if (backend === "test layer") return
      for (const size of sizes) {
        pools.set(size, await Effect.runPromise(Scope.provide(WorkerPool.make({ size, backend }), scope)))
      }
    })
    afterAll(() => Effect.runPromise(Scope.close(scope, Exit.void)))

    /** Runs `f` on a pool of `size`: a shared one of the backend, or a fresh test pool seeded with `seed`. */
    const withPool = async (size: number, seed: number, f: (pool: WorkerPool.Pool) => Promise<void>) => {
      if (backend !== "test layer") return f(pools.get(size)!)
      const testScope = Effect.runSync(Scope.make())
      try {
        await f(await Effect.runPromise(Scope.provide(WorkerPool.makeTest({ size, seed }), testScope)))
      } finally {
        await Effect.runPromise(Scope.close(testScope, Exit.void))
      }
    }

    it("map, starmap and imap equal the sequential result; imapUnordered is a permutation of it", async () => {
      await fc.assert(
        fc.asyncProperty(scenario, ({ chunksize, delays, seed, size }) => withPool(size, seed, async (pool) => {
          const options = { chunksize }
          const sequential = delays.slice()
          assert.deepStrictEqual(await run(pool.map(tasks.sleepThen, delays, options)), sequential)
          assert.deepStrictEqual(
            await run(pool.starmap(tasks.add, delays.map((d, i) => [d, i] as const), options)),
            delays.map((d, i) => d + i)
          )
          assert.deepStrictEqual(await run(Stream.runCollect(pool.imap(tasks.sleepThen, delays, options))), sequential)
          const unordered = await run(Stream.runCollect(pool.imapUnordered(tasks.sleepThen, delays, options)))
          assert.deepStrictEqual([...unordered].sort(), [...sequential].sort())
        })),
        { numRuns: 40 }
      )
    })

    it("chunked and unchunked results are equal, for any chunksize", async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: -1000, max: 1000 }), { maxLength: 200 }),
          fc.integer({ min: 1, max: 300 }),
          fc.integer(),
          (items, chunksize, seed) => withPool(2, seed, async (pool) => {
            const squares = items.map((x) => x * x)
            assert.deepStrictEqual(await run(pool.map(tasks.square, items, { chunksize })), squares)
            assert.deepStrictEqual(await run(pool.map(tasks.square, items)), squares)
            assert.deepStrictEqual(
              await run(Stream.runCollect(pool.imap(tasks.square, Stream.fromIterable(items), { chunksize }))),
              squares
            )
          })
        ),
        { numRuns: 60 }
      )
    })
  })
}
