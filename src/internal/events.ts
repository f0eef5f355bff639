/**
 * A pool's events (`PoolEvents.PoolEvent`), published by one-line hooks in
 * the supervisor and the dispatcher to a sliding `PubSub`: publishing never
 * waits (a slow subscriber loses its oldest events, never slows the pool),
 * and while nobody subscribes a hook costs one comparison and builds nothing.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as PubSub from "effect/PubSub"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { PoolEvent } from "../PoolEvents.ts"
import type { Slot } from "./slot.ts"

/** Events each subscriber may be behind before it loses the oldest. */
export const CAPACITY = 1024

/** Published once the pool's scope has closed: each subscriber's stream ends there, after every event before it. */
const END: unique symbol = Symbol("effect-multiprocessing/PoolEvents/end")
type Item = PoolEvent | typeof END

/** The publishing side of a pool's events. */
export class Events {
  /** How many subscribers listen now: with none, nothing is built. */
  subscribers = 0
  /** The queue reached `maxQueue`, and has had no room since. */
  private full = false
  /** Workers that reported their heap over `maxHeapPerWorkerMb` (their recycling says so). */
  private readonly overHeap = new WeakSet<Slot>()
  private readonly pubsub: PubSub.PubSub<Item> | undefined
  /** The pool's scope has closed: no more events, and a new subscriber's stream is empty. */
  private closed = false

  constructor(pubsub: PubSub.PubSub<Item> | undefined) {
    this.pubsub = pubsub
  }

  /** Publishes an event (never waits: the PubSub slides). */
  private publish(event: Item): void {
    if (this.pubsub !== undefined && !this.closed) Effect.runSync(PubSub.publish(this.pubsub, event))
  }

  /** The pool's scope has closed: every subscriber's stream ends after the events it has not read yet. */
  close(): void {
    if (this.subscribers > 0) this.publish(END)
    this.closed = true
  }

  started(workerId: number): void {
    if (this.subscribers > 0) this.publish({ _tag: "WorkerStarted", workerId })
  }

  ready(workerId: number): void {
    if (this.subscribers > 0) this.publish({ _tag: "WorkerReady", workerId })
  }

  exited(workerId: number, reason: "stopped" | "retired"): void {
    if (this.subscribers > 0) this.publish({ _tag: "WorkerExited", workerId, reason })
  }

  crashed(workerId: number, exitCode: number | null, signal: string | null, cause: string): void {
    if (this.subscribers > 0) this.publish({ _tag: "WorkerCrashed", workerId, exitCode, signal, cause })
  }

  startFailed(workerId: number, cause: string, attempt: number): void {
    if (this.subscribers > 0) this.publish({ _tag: "WorkerStartFailed", workerId, cause, attempt })
  }

  replaced(workerId: number, replacement: number): void {
    if (this.subscribers > 0) this.publish({ _tag: "WorkerReplaced", workerId, replacement })
  }

  /** The worker said its heap is over its limit: its coming recycling is for that. */
  heapOver(slot: Slot): void {
    this.overHeap.add(slot)
  }

  recycled(slot: Slot): void {
    if (this.subscribers === 0) return
    const reason = this.overHeap.has(slot) ? "maxHeapPerWorkerMb" : "maxTasksPerWorker"
    this.publish({ _tag: "WorkerRecycled", workerId: slot.workerId, reason })
  }

  /** A submitter had to wait for room (once until there is room again: `roomAgain`). */
  queueFull(maxQueue: number): void {
    if (this.full) return
    this.full = true
    if (this.subscribers > 0) this.publish({ _tag: "QueueFull", maxQueue })
  }

  roomAgain(): void {
    this.full = false
  }

  drained(): void {
    if (this.subscribers > 0) this.publish({ _tag: "QueueDrained" })
  }

  /**
   * Subscribes now: the stream has every event from this moment on, and
   * ends when the pool's scope closes. The subscription lasts as long as the
   * current scope.
   */
  readonly subscribe: Effect.Effect<Stream.Stream<PoolEvent>, never, Scope.Scope> = Effect.suspend(() => {
    const pubsub = this.pubsub
    if (pubsub === undefined || this.closed) return Effect.succeed(Stream.empty)
    return Effect.acquireRelease(
      Effect.map(PubSub.subscribe(pubsub), (subscription) => {
        this.subscribers++
        return Stream.fromSubscription(subscription).pipe(
          Stream.takeWhile((item): item is PoolEvent => item !== END)
        )
      }),
      () => Effect.sync(() => this.subscribers--)
    )
  })

  /** The stream of events, subscribed when it runs. */
  readonly stream: Stream.Stream<PoolEvent> = Stream.unwrap(this.subscribe)
}

/** Events nobody can subscribe to (a dispatcher outside a pool: unit tests). */
export const none = new Events(undefined)

/**
 * A pool's events, for as long as its scope: closing it ends every
 * subscriber's stream (with an end marker, not by shutting the PubSub down,
 * which would drop what a subscriber has not read yet).
 */
export const make: Effect.Effect<Events, never, Scope.Scope> = Effect.acquireRelease(
  Effect.map(PubSub.sliding<Item>(CAPACITY), (pubsub) => new Events(pubsub)),
  (events) => Effect.sync(() => events.close())
)
