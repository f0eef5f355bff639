/**
 * The test layer's scheduler (see inProcessWorkers.ts): the one place where
 * the order of events between a test pool and its in-process workers is
 * decided, by a seeded pseudo-random generator.
 *
 * Events wait in lanes. A worker's inbox (what the pool posted to it) is one
 * lane, read in order; each finished task's reply is a lane of its own, so
 * replies reach the pool in an order the seed chooses, whichever worker sent
 * them and whenever they finished: this is what shuffles the completion order
 * of `imapUnordered`, of the `*Async` calls and of a `map`'s chunks. At each
 * step one lane, drawn at random, hands one event on. A few events need no
 * choosing (a worker's ready signal, its answer to a liveness check, its exit
 * after the replies it had sent): they go first, in order.
 *
 * A step waits until the thread has been quiet for `QUIET_TURNS` turns of the
 * event loop (no message posted or sent, no task started), so that what the
 * last event set off (the caller's fibers submitting more work, a worker's
 * runtime going on with a long chunk) is over before the next draw: the draws
 * see the same choices whatever the real time, for tasks whose own completion
 * does not depend on it. While a task module is being imported no step is
 * taken at all.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"

/** Event-loop turns without activity before the next step. */
const QUIET_TURNS = 8

/** A queue of events handed on in order, one per step when it is drawn. */
export interface Lane {
  readonly events: Array<() => void>
  /** Whether it is in the draw (it has events). */
  drawn: boolean
}

export interface Scheduler {
  /** A new, empty lane (a worker's inbox). */
  readonly lane: () => Lane
  /** Queues `event` on `lane`. */
  readonly push: (lane: Lane, event: () => void) => void
  /** Queues `event` in a lane of its own; returns the lane, to take it back with `take`. */
  readonly single: (event: () => void) => Lane
  /** Takes the events of these lanes out of the draw, in an order the seed chooses. */
  readonly take: (lanes: ReadonlyArray<Lane>) => Array<() => void>
  /** Drops what is queued on `lane`. */
  readonly clear: (lane: Lane) => void
  /** Queues `event` among those that go first, in order, at the next step. */
  readonly first: (event: () => void) => void
  /** Something happened (a message, a task started): the next step waits for quiet. */
  readonly busy: () => void
  /** Takes no step until `promise` settles (a task module being imported); returns it. */
  readonly pauseWhile: <A>(promise: Promise<A>) => Promise<A>
  /** A number in [0, 1) from the seeded generator. */
  readonly draw: () => number
}

/** A seeded generator: effect's `Random` with `Random.withSeed`. */
export const generator = (seed: string | number): Random.Random =>
  Effect.runSync(Random.withSeed(Effect.service(Random.Random), seed))

export const make = (seed: string | number): Scheduler => {
  const random = generator(seed)
  const draw = () => random.nextDoubleUnsafe()
  /** The lanes with events, in the draw. */
  const lanes: Array<Lane> = []
  const firsts: Array<() => void> = []
  let scheduled = false
  let active = false
  let quiet = 0
  let paused = 0

  const schedule = () => {
    if (scheduled || paused > 0 || (firsts.length === 0 && lanes.length === 0)) return
    scheduled = true
    setImmediate(turn)
  }

  const withdraw = (lane: Lane) => {
    if (!lane.drawn) return
    lane.drawn = false
    lanes.splice(lanes.indexOf(lane), 1)
  }

  const turn = () => {
    scheduled = false
    if (active) {
      active = false
      quiet = 0
    } else {
      quiet++
    }
    if (paused > 0) return
    if (quiet < QUIET_TURNS) return schedule()
    quiet = 0
    active = true
    if (firsts.length > 0) {
      for (const event of firsts.splice(0)) event()
    } else if (lanes.length > 0) {
      const lane = lanes[Math.floor(draw() * lanes.length)]
      const event = lane.events.shift()!
      if (lane.events.length === 0) withdraw(lane)
      event()
    }
    schedule()
  }

  const push = (lane: Lane, event: () => void) => {
    lane.events.push(event)
    if (!lane.drawn) {
      lane.drawn = true
      lanes.push(lane)
    }
    active = true
    schedule()
  }

  return {
    lane: () => ({ events: [], drawn: false }),
    push,
    single: (event) => {
      const lane: Lane = { events: [], drawn: false }
      push(lane, event)
      return lane
    },
    take: (taken) => {
      const events: Array<() => void> = []
      for (const lane of taken) {
        events.push(...lane.events.splice(0))
        withdraw(lane)
      }
      // Fisher–Yates, on the seeded generator
      for (let i = events.length - 1; i > 0; i--) {
        const j = Math.floor(draw() * (i + 1))
        const swap = events[i]
        events[i] = events[j]
        events[j] = swap
      }
      return events
    },
    clear: (lane) => {
      lane.events.length = 0
      withdraw(lane)
    },
    first: (event) => {
      firsts.push(event)
      active = true
      schedule()
    },
    busy: () => {
      active = true
    },
    pauseWhile: (promise) => {
      paused++
      const resume = () => {
        paused--
        active = true
        schedule()
      }
      promise.then(resume, resume)
      return promise
    },
    draw
  }
}
