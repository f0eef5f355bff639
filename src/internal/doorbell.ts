/**
 * The doorbell of a thread worker: memory it shares with the pool so that an
 * idle worker can wait for its next message in `Atomics.wait` (see
 * workerWait.ts) instead of in its event loop, and be woken by the pool
 * directly. Waking a thread's event loop (what a bare `postMessage` does) is
 * most of a one-worker round trip; `Atomics.notify` wakes a thread blocked in
 * `Atomics.wait` several times faster.
 *
 * Messages still travel by `postMessage`, in order, whatever their size or
 * transfers: the pool rings after each one it posts, and the worker, once
 * woken, takes the message from its port (`receiveMessageOnPort`). So nothing
 * about what is sent changes, only how fast an idle worker notices it.
 *
 * Layout (`Int32Array` of `CELLS`, the cells named in protocol.ts):
 * - `[RINGS]`: how many times the pool has rung (once per message posted);
 * - `[PARKED]`: 1 while the worker is (about to be) blocked in `Atomics.wait`.
 *
 * The pool adds to `RINGS` and then reads `PARKED`; the worker sets `PARKED`,
 * reads its queue, and then waits for `RINGS` to move from the value it read
 * before: with sequentially consistent atomics either the pool sees `PARKED`
 * and notifies, or the worker's wait sees `RINGS` moved and does not block. A
 * pool whose worker is busy pays one atomic add and one load per message.
 *
 * Threads only (`Backend.Options.fastWakeup`); a child process keeps its IPC
 * channel.
 *
 * @internal
 */
import { DOORBELL_PARKED, DOORBELL_RINGS } from "./protocol.ts"

/** The cell the pool increments once per message it posts. */
export const RINGS = DOORBELL_RINGS
/** The cell the worker sets while it waits. */
export const PARKED = DOORBELL_PARKED
/** How many `Int32` cells a doorbell has. */
export const CELLS = 2

/** A doorbell: `Int32Array` over a `SharedArrayBuffer` of `CELLS` cells. */
export type Doorbell = Int32Array

/** A new doorbell, nobody waiting. */
export const make = (): Doorbell => new Int32Array(new SharedArrayBuffer(CELLS * Int32Array.BYTES_PER_ELEMENT))

/** Rings: called by the pool after each `postMessage` to the worker. Wakes it if it waits. */
export const ring = (bell: Doorbell): void => {
  Atomics.add(bell, RINGS, 1)
  if (Atomics.load(bell, PARKED) !== 0) Atomics.notify(bell, RINGS, 1)
}
