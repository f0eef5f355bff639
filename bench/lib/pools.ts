/** Starting a scenario's pools, entries for pools that may not have started, and result checks. */
import type * as C from "./contenders.ts"
import { log, SIZE } from "./config.ts"
import type { Entry } from "./interleave.ts"
import { describe, withTimeout } from "./timeout.ts"

/** The pools of one scenario: those that started, and why the others did not. */
export interface Started<P> {
  readonly started: Map<string, P>
  readonly failed: Map<string, string>
  readonly closeAll: () => Promise<void>
}

/** Starts every kind of pool for a scenario; a pool that fails to start fails its rows. */
export const startAll = async <K extends C.Kind<any>>(
  kinds: ReadonlyArray<K>
): Promise<Started<Awaited<ReturnType<K["start"]>>>> => {
  const started = new Map<string, Awaited<ReturnType<K["start"]>>>()
  const failed = new Map<string, string>()
  for (const kind of kinds) {
    try {
      const pool = await withTimeout(kind.start(SIZE), 60_000, `starting ${kind.label}`)
      // a first task, so every pool has loaded its worker code before the warm-up
      await withTimeout(pool.first(), 60_000, `first task of ${kind.label}`)
      started.set(kind.id, pool as any)
    } catch (error) {
      failed.set(kind.id, describe(error))
      log(`  ! ${kind.label} did not start: ${describe(error)}`)
    }
  }
  const closeAll = async () => {
    for (const [id, pool] of started) {
      await withTimeout(pool.close(), 30_000, `closing ${id}`).catch((error) => log(`  ! ${describe(error)}`))
    }
  }
  return { started, failed, closeAll }
}

/** An entry for a pool that may not have started. */
export const guarded = <P>(
  pools: { started: Map<string, P>; failed: Map<string, string> },
  id: string,
  make: (pool: P) => Entry
): (label: string) => Entry =>
(label) => {
  const pool = pools.started.get(id)
  if (pool !== undefined) return make(pool)
  return {
    key: id,
    label,
    run: () => Promise.reject(new Error(`did not start: ${pools.failed.get(id)}`)),
    metric: () => NaN
  }
}

export const assert = (condition: boolean, message: string) => {
  if (!condition) throw new Error(`wrong result: ${message}`)
}

/** The sum of `add(i, 1)` for i in [0, n). */
export const sumOfAdds = (n: number) => (n * (n - 1)) / 2 + n
export const perSecond = (n: number) => (ms: number) => n / (ms / 1000)

export const expectArray = (expected: ReadonlyArray<number>) => (actual: ReadonlyArray<number>) => {
  assert(actual.length === expected.length, `${actual.length} results, expected ${expected.length}`)
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) assert(false, `result ${i} is ${actual[i]}, expected ${expected[i]}`)
  }
}
