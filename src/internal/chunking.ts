/**
 * Python's chunk-size rule, and the check that rejects what CPython silently
 * mishandles (0 returns `[None] * n`, 1.5 hangs).
 *
 * @internal
 */
import * as Cause from "effect/Cause"

/** `ceil(n / (4 * size))`, as `Pool._map_async` computes it. */
export const defaultChunksize = (items: number, size: number): number => Math.max(1, Math.ceil(items / (4 * size)))

/** An error for a chunksize that is not a positive integer, or `undefined`. */
export const validate = (chunksize: unknown): Cause.IllegalArgumentError | undefined =>
  typeof chunksize === "number" && Number.isSafeInteger(chunksize) && chunksize >= 1
    ? undefined
    : new Cause.IllegalArgumentError(`chunksize must be a positive integer, got ${String(chunksize)}`)
