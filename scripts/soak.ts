/**
 * Soak test: one pool, a mixed workload for a bounded time, and exact
 * accounting of every call. Not part of `npm test`.
 *
 *   npm run soak                                   # 60 s, pool of 2
 *   SOAK_SECONDS=20 SOAK_SIZE=4 SOAK_SEED=42 npx node scripts/soak.ts
 *
 * Environment: `SOAK_BACKEND` (`threads`, the default, or `processes`),
 * `SOAK_SECONDS` (default 60), `SOAK_SIZE` (pool size, default 2),
 * `SOAK_SEED` (PRNG seed, default random, always printed), `SOAK_INFLIGHT`
 * (calls kept in flight, default 200), `SOAK_CRASH_GAP_MS` / `SOAK_STALL_GAP_MS`
 * (mean gap between two crash tasks, default 800, and between two cancels
 * that outlast the grace period, default 1500).
 *
 * The workload (see `OPS`): normal sync / async / Effect tasks through
 * `apply`, `map`, `starmap`, `imap`, `imapUnordered`, `applyAsync`,
 * `mapAsync`; tasks that crash their worker (`process.exit`, an uncaught throw
 * in a timer); cancellations (`Effect.timeout`, `Fiber.interrupt`) of
 * CPU-bound sync tasks (some longer than the pool's 250 ms cancel grace
 * period, so their worker is killed and replaced), of async tasks that watch
 * `Task.signal()` and of Effect tasks; declared typed errors and thrown
 * errors; workers that break the rules: a task that posts the pool a message
 * that is not a protocol message (protocol garbage), one that exits its worker
 * right after returning, and async tasks that ignore `Task.signal()` forever,
 * cancelled by the soak. Each fault kind's operations are in a file of their
 * own under `scripts/soak/` (what they share: `scripts/soak/model.ts`).
 *
 * Every call ends in exactly one bucket:
 * - `ok`: succeeded with exactly the expected value;
 * - `crashed`, `declared`, `thrown`, `cancelled`: failed with the error its kind
 *   expects (`WorkerCrashed`; the declared class; `TaskError`; an interruption
 *   or `Cause.TimeoutError`); a `faulty` call (protocol garbage, exit after
 *   return) succeeds with its value or, its worker replaced, ends `crashed`
 *   (the summary says how many of those had returned: results lost);
 * - an exception in the parent that nobody caught is a violation;
 * - `collateral`: a call that is not a crash task failed with `WorkerCrashed`
 *   because it was running on a worker that died (another task crashed it, or
 *   it was killed after a cancel's grace period). Allowed only for calls that
 *   can be in flight while another task runs on their worker: async and Effect
 *   tasks, map chunks (which yield between items), cancelled calls. A
 *   synchronous `apply` runs to its end before anything else runs on its
 *   worker, so `WorkerCrashed` on one is a violation. An `asyncMath` call (it replies in the same microtask checkpoint as it
 *   marks itself finished) that failed with `WorkerCrashed` although its task
 *   had finished lost its result: a violation, not collateral;
 * - `violation`: anything else; `lost`: never completed (also a violation).
 *
 * Each task counts its runs in a SharedArrayBuffer (processes share no memory:
 * there, in a run log, a file each task appends a line to, which the soak
 * reads back; see `RUN_LOG_ENV`). Once every worker has
 * exited: no task ran more than once, and every task of a call that
 * succeeded (or failed with its own declared / thrown / crash error) ran
 * exactly once. A call pending for more than `STALL_MS` is a violation, and
 * so is one that never completes; `join` must return; no pool thread may be
 * left. Exit code 1 on any violation.
 */
import { Cause, Effect, Exit, Fiber } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { monitorEventLoopDelay } from "node:perf_hooks"
import * as v8 from "node:v8"
import * as vm from "node:vm"
import { BroadcastChannel } from "node:worker_threads"
import { WorkerCrashed, WorkerPool } from "../src/index.ts"
import { FINISHED, HELLO_CHANNEL, RUN_LOG_ENV, RUN_LOG_UNIT, type Unit } from "./soak-tasks.ts"
import { cancels } from "./soak/cancels.ts"
import { crashes } from "./soak/crashes.ts"
import { errors } from "./soak/errors.ts"
import { exitAfterReturn } from "./soak/exit-after-return.ts"
import {
  type Bucket,
  BUCKETS,
  type Call,
  type Ctx,
  describe,
  type Expect,
  type Heavy,
  longBusyStarted,
  type Op,
  range,
  type Rng,
  unitState
} from "./soak/model.ts"
import { normal } from "./soak/normal.ts"
import { protocolGarbage } from "./soak/protocol-garbage.ts"
import { signalIgnoring } from "./soak/signal-ignoring.ts"

// -- configuration -------------------------------------------------------------------

const envNumber = (name: string, fallback: number, valid: (n: number) => boolean): number => {
  const raw = process.env[name]
  if (raw === undefined || raw === "") return fallback
  const n = Number(raw)
  if (!valid(n)) {
    console.error(`soak: invalid ${name}=${raw}`)
    process.exit(2)
  }
  return n
}

const BACKEND = process.env.SOAK_BACKEND === undefined || process.env.SOAK_BACKEND === ""
  ? "threads"
  : process.env.SOAK_BACKEND
if (BACKEND !== "threads" && BACKEND !== "processes") {
  console.error(`soak: invalid SOAK_BACKEND=${BACKEND} (threads or processes)`)
  process.exit(2)
}
const SECONDS = envNumber("SOAK_SECONDS", 60, (n) => Number.isFinite(n) && n > 0)
const SIZE = envNumber("SOAK_SIZE", 2, (n) => Number.isSafeInteger(n) && n >= 1)
const INFLIGHT = envNumber("SOAK_INFLIGHT", 200, (n) => Number.isSafeInteger(n) && n >= 1)
const SEED = envNumber(
  "SOAK_SEED",
  (Date.now() ^ (process.pid << 16)) >>> 0,
  (n) => Number.isSafeInteger(n) && n >= 0 && n <= 0xffffffff
)

/** A call pending longer than this is reported as stalled. */
const STALL_MS = 30_000
/** After the deadline, how long the calls in flight may take to finish before they count as lost. */
const DRAIN_MS = 60_000
/** How long `join` may take. */
const JOIN_MS = 60_000
/** Mean gap between two crash tasks, and between two cancels that outlast the grace period. */
const CRASH_GAP_MS = envNumber("SOAK_CRASH_GAP_MS", 800, (n) => Number.isFinite(n) && n >= 0)
const STALL_GAP_MS = envNumber("SOAK_STALL_GAP_MS", 1500, (n) => Number.isFinite(n) && n >= 0)
const PROGRESS_EVERY_MS = 10_000

// -- seeded randomness ------------------------------------------------------------------

const mulberry32 = (seed: number) => () => {
  let t = (seed = (seed + 0x6d2b79f5) | 0)
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}


/** Call `n`'s own generator: its kind and parameters depend only on the seed and `n`. */
const rngFor = (n: number): Rng => {
  const float = mulberry32((SEED ^ Math.imul(n + 1, 0x9e3779b1)) >>> 0)
  return {
    float,
    int: (min, max) => min + Math.floor(float() * (max - min + 1)),
    chance: (p) => float() < p
  }
}

// -- run counters: one Int32 slot per task run, shared with the workers ---------------------

const SEGMENT = 1 << 18

/**
 * The run log of a processes soak (see `RUN_LOG_ENV`): read from where the
 * last read stopped, each whole line applied to the counters.
 */
class RunLog {
  readonly directory = fs.mkdtempSync(path.join(os.tmpdir(), "effect-multiprocessing-soak-"))
  readonly file = path.join(this.directory, "runs.log")
  /** The worker processes that loaded the task module. */
  readonly pids = new Set<number>()
  private readonly fd: number
  private readonly buffer = Buffer.alloc(1 << 16)
  private offset = 0
  private rest = ""
  private lastRead = -Infinity
  private readonly apply: (line: string) => void

  constructor(apply: (line: string) => void) {
    this.apply = apply
    fs.writeFileSync(this.file, "", { mode: 0o600 })
    this.fd = fs.openSync(this.file, "r")
  }

  /** Reads what was appended since the last read (at most once a millisecond, unless `now`). */
  read(now = false): void {
    const time = performance.now()
    if (!now && time - this.lastRead < 1) return
    this.lastRead = time
    for (;;) {
      const n = fs.readSync(this.fd, this.buffer, 0, this.buffer.length, this.offset)
      if (n === 0) return
      this.offset += n
      const lines = (this.rest + this.buffer.toString("latin1", 0, n)).split("\n")
      this.rest = lines.pop()!
      for (const line of lines) {
        if (line.startsWith("P")) this.pids.add(Number(line.slice(1)))
        else this.apply(line)
      }
    }
  }

  close(): void {
    fs.closeSync(this.fd)
    fs.rmSync(this.directory, { recursive: true, force: true })
  }
}

class Units {
  private readonly counters: Array<Int32Array> = []
  /** 1: this unit must have run exactly once (its call succeeded, or failed with its own error). */
  private readonly mustRun: Array<Uint8Array> = []
  /** The call that owns each unit. */
  private readonly owner: Array<Int32Array> = []
  size = 0
  /** Processes: where the tasks count their runs. */
  readonly log: RunLog | undefined

  constructor(backend: "threads" | "processes") {
    this.log = backend === "threads" ? undefined : new RunLog((line) => {
      const id = Number(line.slice(1))
      if (!(id >= 0 && id < this.size)) return
      Atomics.add(this.counters[Math.floor(id / SEGMENT)], id % SEGMENT, line[0] === "F" ? FINISHED : 1)
    })
  }

  /** How many times the unit's task started so far (processes: once the log is read). */
  started(unit: Unit): number {
    if (this.log === undefined) return Atomics.load(unit[0], unit[1])
    this.log.read()
    return this.runs(unit[1])
  }

  alloc(call: number): { readonly id: number; readonly unit: Unit } {
    const id = this.size++
    const segment = Math.floor(id / SEGMENT)
    if (segment === this.counters.length) {
      this.counters.push(new Int32Array(new SharedArrayBuffer(4 * SEGMENT)))
      this.mustRun.push(new Uint8Array(SEGMENT))
      this.owner.push(new Int32Array(SEGMENT))
    }
    const index = id % SEGMENT
    this.owner[segment][index] = call
    return { id, unit: this.log === undefined ? [this.counters[segment], index] : [RUN_LOG_UNIT, id] }
  }

  requireRan(id: number): void {
    this.mustRun[Math.floor(id / SEGMENT)][id % SEGMENT] = 1
  }

  /** How many times the unit's task started. */
  runs(id: number): number {
    return Atomics.load(this.counters[Math.floor(id / SEGMENT)], id % SEGMENT) % FINISHED
  }

  /** How many times the unit's task marked itself finished (only some tasks do). */
  finishes(id: number): number {
    return Math.floor(Atomics.load(this.counters[Math.floor(id / SEGMENT)], id % SEGMENT) / FINISHED)
  }

  mustHaveRun(id: number): boolean {
    return this.mustRun[Math.floor(id / SEGMENT)][id % SEGMENT] === 1
  }

  ownerOf(id: number): number {
    return this.owner[Math.floor(id / SEGMENT)][id % SEGMENT]
  }
}

// -- calls, expectations and buckets ----------------------------------------------------------

const OPS: ReadonlyArray<Op> = [
  ...normal,
  ...errors,
  ...crashes,
  ...cancels,
  ...protocolGarbage,
  ...exitAfterReturn,
  ...signalIgnoring
]

const TOTAL_WEIGHT = OPS.reduce((sum, op) => sum + op.weight, 0)
const FALLBACK = OPS[0]

// -- classification ----------------------------------------------------------------------------

const show = (u: unknown): string => {
  const s = describe(u)
  return s.length > 200 ? s.slice(0, 200) + "…" : s
}

const sameValue = (actual: unknown, expected: unknown, unordered: boolean): boolean => {
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) return false
    if (!unordered) return actual.every((a, i) => a === expected[i])
    const sort = (xs: ReadonlyArray<unknown>) => [...xs].sort((a, b) => (a as number) - (b as number))
    const a = sort(actual)
    const e = sort(expected)
    return a.every((v, i) => v === e[i])
  }
  return actual === expected
}

interface Verdict {
  readonly bucket: Bucket
  readonly detail?: string
  /** For cancelled calls: how they ended. */
  readonly how?: "interrupted" | "timeout"
  readonly crash?: WorkerCrashed
}

const classify = (exit: Exit.Exit<unknown, unknown>, expect: Expect): Verdict => {
  if (Exit.isSuccess(exit)) {
    if (expect.kind !== "normal" && expect.kind !== "cancel" && expect.kind !== "faulty") {
      return { bucket: "violation", detail: `expected a ${expect.kind} failure, succeeded with ${show(exit.value)}` }
    }
    return sameValue(exit.value, expect.value, expect.unordered === true)
      ? { bucket: "ok" }
      : { bucket: "violation", detail: `wrong value ${show(exit.value)}, expected ${show(expect.value)}` }
  }
  const cause = exit.cause
  if (Cause.hasInterruptsOnly(cause)) {
    return expect.kind === "cancel"
      ? { bucket: "cancelled", how: "interrupted" }
      : { bucket: "violation", detail: "interrupted, though nothing interrupted it" }
  }
  const found = Cause.findErrorOption(cause)
  if (found._tag === "None") return { bucket: "violation", detail: `died: ${Cause.pretty(cause)}` }
  const error = found.value
  if (Cause.isTimeoutError(error)) {
    return expect.kind === "cancel"
      ? { bucket: "cancelled", how: "timeout" }
      : { bucket: "violation", detail: "timed out, though no timeout was set" }
  }
  if (error instanceof WorkerCrashed) {
    if (expect.kind === "crash" || expect.kind === "faulty") {
      const wrong = expect.check?.(error)
      return wrong === undefined ? { bucket: "crashed", crash: error } : { bucket: "violation", detail: wrong, crash: error }
    }
    return expect.collateralOk
      ? { bucket: "collateral", crash: error }
      : { bucket: "violation", detail: `a ${expect.kind} call failed with WorkerCrashed: ${error.message}`, crash: error }
  }
  if (expect.kind === "declared" || expect.kind === "thrown") {
    const wrong = expect.check?.(error)
    return wrong === undefined ? { bucket: expect.kind } : { bucket: "violation", detail: wrong }
  }
  return { bucket: "violation", detail: `unexpected failure ${show(error)}` }
}

// -- the soak ----------------------------------------------------------------------------------------

/** This process's children that are pool workers (their title, `--title`, names them). */
const poolProcesses = (): number =>
  fs.readdirSync("/proc").filter((pid) => {
    if (!/^\d+$/.test(pid)) return false
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      return Number(fields[1]) === process.pid && stat.includes("(effect-multipro")
    } catch {
      return false
    }
  }).length

const poolThreads = (): number =>
  fs.readdirSync("/proc/self/task").filter((task) => {
    try {
      return fs.readFileSync(`/proc/self/task/${task}/comm`, "utf8").startsWith("effect-multipro")
    } catch {
      return false
    }
  }).length

// a full GC before some heap readings, so that they show what is retained rather than garbage
v8.setFlagsFromString("--expose-gc")
const gc = vm.runInNewContext("gc") as () => void

const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`

interface OpStats {
  calls: number
  readonly buckets: Record<Bucket, number>
  maxMs: number
}

const main = Effect.gen(function*() {
  console.log(
    `soak: ${BACKEND}, ${SECONDS} s, pool size ${SIZE}, ${INFLIGHT} calls in flight, seed ${SEED} ` +
      `(rerun with SOAK_BACKEND=${BACKEND} SOAK_SEED=${SEED})`
  )
  console.log(
    `      node ${process.version}; call n's operation and parameters depend only on the seed and n (timing does not)`
  )

  const units = new Units(BACKEND)
  if (units.log !== undefined) {
    process.env[RUN_LOG_ENV] = units.log.file // the workers' environment is a copy of this process's
    unitState.read = (unit) => units.started(unit)
  }
  const pending = new Map<number, Call>()
  const buckets: Record<Bucket, number> = Object.fromEntries(BUCKETS.map((b) => [b, 0])) as Record<Bucket, number>
  const perOp = new Map<string, OpStats>(
    OPS.map((op) => [op.name, { calls: 0, buckets: { ...buckets }, maxMs: 0 }])
  )
  const violations: Array<string> = []
  let violationCount = 0
  const violate = (text: string) => {
    violationCount++
    if (violations.length < 25) violations.push(text)
  }
  const stalls: Array<string> = []
  const collateralCauses = new Map<string, number>()
  const cancelHow = { interrupted: 0, timeout: 0, finished: 0 }
  const crashedWorkers = new Set<number>()
  const killedWorkers = new Set<number>()
  let submitted = 0
  /** Collateral crashes of calls whose task replies once finished: a finished one lost its result. */
  const collateralToRecheck: Array<
    { readonly n: number; readonly op: string; readonly unit: number; readonly key: string; readonly message: string }
  > = []
  /** The units of the calls that violated, to say after join whether their tasks ran. */
  const violatingCalls: Array<{ readonly n: number; readonly units: ReadonlyArray<number> }> = []
  let completedTwice = 0
  /** `faulty` calls that failed with `WorkerCrashed`: those whose task had finished lost their result. */
  const finishedButCrashed: Array<{ readonly op: string; readonly unit: number }> = []

  // the parent must survive every worker: an exception no one caught is a violation (and the soak goes on, to count)
  const uncaught: Array<string> = []
  const onUncaught = (error: unknown) => {
    if (uncaught.length < 5) uncaught.push(show(error))
    violate(`the parent threw, uncaught: ${show(error)}`)
  }
  process.on("uncaughtException", onUncaught)
  process.on("unhandledRejection", onUncaught)

  // workers that load the task module say hello with their threadId
  const workerThreads = new Set<number>()
  const hello = new BroadcastChannel(HELLO_CHANNEL)
  hello.onmessage = (event) => workerThreads.add((event as MessageEvent).data as number)
  hello.unref()

  // memory of this process (worker threads are part of it: RSS includes them; heapUsed is the main isolate's)
  const memory = { peakRss: 0, peakHeap: 0, startRss: 0, startHeap: 0, retained: [] as Array<string> }
  const sampleMemory = () => {
    const usage = process.memoryUsage()
    memory.peakRss = Math.max(memory.peakRss, usage.rss)
    memory.peakHeap = Math.max(memory.peakHeap, usage.heapUsed)
    return usage
  }
  gc()
  const startUsage = sampleMemory()
  memory.startRss = startUsage.rss
  memory.startHeap = startUsage.heapUsed

  // how long the main event loop was ever blocked (a worker's message can freeze the parent)
  const loopDelay = monitorEventLoopDelay({ resolution: 10 })
  loopDelay.enable()
  // the same, leaving out the soak's own full GCs (`gc()` below, a few hundred ms with a busy heap): what the pool did
  const blocks = { tick: performance.now(), gcEnd: -Infinity, gcMax: 0, poolMax: 0 }

  const threadsBefore = poolThreads()
  const processesBefore = poolProcesses()
  const eluStart = performance.eventLoopUtilization()
  const started = performance.now()
  const deadline = started + SECONDS * 1000

  // the heavy operations are rate-limited in time (not in calls), so that crashes and kills stay rare
  const gapRng = rngFor(-1)
  const nextHeavy: Record<Heavy, number> = { crash: started + 500, stall: started + 500 }
  const gaps: Record<Heavy, number> = { crash: CRASH_GAP_MS, stall: STALL_GAP_MS }
  let heavyDeferred = 0

  const timers: Array<NodeJS.Timeout> = []
  timers.push(setInterval(sampleMemory, 200))
  timers.push(setInterval(() => {
    const now = performance.now()
    if (blocks.tick >= blocks.gcEnd) blocks.poolMax = Math.max(blocks.poolMax, now - blocks.tick - 10)
    blocks.tick = now
  }, 10))
  timers.push(setInterval(() => {
    const now = performance.now()
    for (const call of pending.values()) {
      if (now - call.startedAt < STALL_MS) break // pending is in submission order
      if (!call.stalled) {
        call.stalled = true
        stalls.push(`call #${call.n} (${call.op}) pending for more than ${STALL_MS / 1000} s`)
        violate(`call #${call.n} (${call.op}) pending for more than ${STALL_MS / 1000} s`)
      }
    }
  }, 1000))
  timers.push(setInterval(() => {
    const before = sampleMemory()
    const gcStart = performance.now()
    gc()
    blocks.gcEnd = performance.now()
    blocks.gcMax = Math.max(blocks.gcMax, blocks.gcEnd - gcStart)
    const usage = process.memoryUsage()
    const t = ((performance.now() - started) / 1000).toFixed(0)
    memory.retained.push(`${t}s ${mb(usage.heapUsed)}`)
    console.log(
      `  t=${t}s submitted ${submitted}, in flight ${pending.size}, ok ${buckets.ok}, crashed ${buckets.crashed}, ` +
        `cancelled ${buckets.cancelled}, collateral ${buckets.collateral}, violations ${violationCount}, ` +
        `rss ${mb(before.rss)}, heapUsed ${mb(before.heapUsed)} (${mb(usage.heapUsed)} after GC)`
    )
  }, PROGRESS_EVERY_MS))
  for (const timer of timers) timer.unref()

  const result = yield* Effect.scoped(Effect.gen(function*() {
    const pool = yield* WorkerPool.make({ size: SIZE, backend: BACKEND })

    const runOne = Effect.suspend(() => {
      const n = submitted++
      const rng = rngFor(n)
      let r = rng.float() * TOTAL_WEIGHT
      let op = OPS[OPS.length - 1]
      for (const candidate of OPS) {
        if ((r -= candidate.weight) < 0) {
          op = candidate
          break
        }
      }
      if (op.heavy !== undefined) {
        const now = performance.now()
        if (now < nextHeavy[op.heavy]) {
          heavyDeferred++
          op = FALLBACK
        } else {
          nextHeavy[op.heavy] = now + gaps[op.heavy] * (0.5 + gapRng.float())
        }
      }
      const call: Call = { n, op: op.name, units: [], startedAt: performance.now(), stalled: false }
      const ctx: Ctx = {
        rng,
        pool,
        unit: () => {
          const allocated = units.alloc(n)
          call.units.push(allocated.id)
          return allocated
        },
        item: (x, delay, flag) => {
          const { id, unit } = ctx.unit()
          return { id, item: [unit[0], unit[1], x, delay, flag] as const }
        }
      }
      const built = op.build(ctx)
      pending.set(n, call)
      const stats = perOp.get(op.name)!
      stats.calls++
      return Effect.map(built.run, (exit) => {
        if (!pending.delete(n)) {
          completedTwice++
          violate(`call #${n} (${op.name}) completed twice`)
          return
        }
        const elapsed = performance.now() - call.startedAt
        stats.maxMs = Math.max(stats.maxMs, elapsed)
        const verdict = classify(exit, built.expect)
        buckets[verdict.bucket]++
        stats.buckets[verdict.bucket]++
        if (verdict.crash !== undefined) {
          crashedWorkers.add(verdict.crash.workerId)
          if (verdict.crash.message.includes("killed: a cancelled")) killedWorkers.add(verdict.crash.workerId)
        }
        if (verdict.bucket === "collateral") {
          const why = verdict.crash!.message.includes("killed: a cancelled")
            ? "worker killed after a cancel's grace period"
            : verdict.crash!.exitCode !== null
            ? `worker exited with code ${verdict.crash!.exitCode}`
            : `worker ended (${verdict.crash!.signal})`
          const key = `${op.name} ← ${why}`
          collateralCauses.set(key, (collateralCauses.get(key) ?? 0) + 1)
          const unitId = built.expect.repliesWhenFinished
          if (unitId !== undefined) {
            collateralToRecheck.push({ n, op: op.name, unit: unitId, key, message: verdict.crash!.message })
          }
        }
        if (verdict.bucket === "crashed" && built.expect.finishedIfCrashed !== undefined) {
          finishedButCrashed.push({ op: op.name, unit: built.expect.finishedIfCrashed })
        }
        if (verdict.bucket === "violation") {
          violate(`call #${n} (${op.name}): ${verdict.detail}`)
          violatingCalls.push({ n, units: call.units })
        }
        if (built.expect.kind === "cancel") {
          if (verdict.bucket === "ok") cancelHow.finished++
          else if (verdict.how !== undefined) cancelHow[verdict.how]++
        }
        // what must have run exactly once, checked once every worker has exited
        if (verdict.bucket === "ok") for (const id of built.expect.ranOnSuccess ?? call.units) units.requireRan(id)
        if (verdict.bucket === "crashed" || verdict.bucket === "declared" || verdict.bucket === "thrown") {
          for (const id of built.expect.ranOnError ?? []) units.requireRan(id)
        }
      })
    })

    const lane = Effect.whileLoop({
      while: () => performance.now() < deadline,
      body: () => runOne,
      step: () => {}
    })
    const lanes = yield* Effect.forkChild(Effect.forEach(range(INFLIGHT), () => lane, {
      concurrency: "unbounded",
      discard: true
    }))
    yield* Effect.sleep(SECONDS * 1000)
    const stoppedSubmitting = performance.now()
    // let the calls in flight finish; the ones that do not are lost
    const drained = yield* Fiber.await(lanes).pipe(Effect.timeoutOption(DRAIN_MS + 1000))
    const drainMs = performance.now() - stoppedSubmitting
    if (drained._tag === "None") {
      for (const call of pending.values()) {
        buckets.lost++
        perOp.get(call.op)!.buckets.lost++
        violate(`call #${call.n} (${call.op}) never completed (lost)`)
      }
      pending.clear()
      yield* Fiber.interrupt(lanes)
    } else if (Exit.isFailure(drained.value)) {
      violate(`the driver failed: ${Cause.pretty(drained.value.cause)}`)
    }
    const ranFor = (performance.now() - started) / 1000
    const elu = performance.eventLoopUtilization(eluStart).utilization

    // close + join: waits for the workers to exit
    const joinStart = performance.now()
    yield* pool.close
    const joined = yield* pool.join.pipe(Effect.timeoutOption(JOIN_MS))
    const joinMs = performance.now() - joinStart
    if (joined._tag === "None") violate(`join did not return within ${JOIN_MS / 1000} s`)
    const threadsAfterJoin = poolThreads()
    const processesAfterJoin = poolProcesses()
    return { ranFor, elu, drainMs, joinMs, threadsAfterJoin, processesAfterJoin }
  }))
  for (const timer of timers) clearInterval(timer)
  loopDelay.disable()
  const threadsAfterScope = poolThreads()
  const processesAfterScope = poolProcesses()
  // everything the workers counted, now that all of them have exited
  units.log?.read(true)
  sampleMemory()
  gc()
  memory.retained.push(`end (pool closed) ${mb(process.memoryUsage().heapUsed)}`)

  // -- checks once every worker has exited ------------------------------------------------------
  process.off("uncaughtException", onUncaught)
  process.off("unhandledRejection", onUncaught)
  if (result.threadsAfterJoin !== threadsBefore) {
    violate(`${result.threadsAfterJoin - threadsBefore} pool worker thread(s) still alive after join`)
  }
  if (threadsAfterScope !== threadsBefore) {
    violate(`${threadsAfterScope - threadsBefore} pool worker thread(s) still alive after the pool's scope closed`)
  }
  if (result.processesAfterJoin !== processesBefore) {
    violate(`${result.processesAfterJoin - processesBefore} pool worker process(es) still alive after join`)
  }
  if (processesAfterScope !== processesBefore) {
    violate(`${processesAfterScope - processesBefore} pool worker process(es) still alive after the pool's scope closed`)
  }
  const runs = { zero: 0, once: 0, more: 0 }
  let missingRuns = 0
  for (let id = 0; id < units.size; id++) {
    const count = units.runs(id)
    if (count === 0) runs.zero++
    else if (count === 1) runs.once++
    else {
      runs.more++
      violate(`task unit ${id} of call #${units.ownerOf(id)} ran ${count} times`)
    }
    if (units.mustHaveRun(id) && count !== 1) {
      missingRuns++
      if (count === 0) violate(`task unit ${id} of call #${units.ownerOf(id)} delivered its outcome but never ran`)
    }
  }
  for (const recheck of collateralToRecheck) {
    if (units.finishes(recheck.unit) === 0) continue
    // not collateral after all: the task had finished, and its result was lost
    buckets.collateral--
    buckets.violation++
    const stats = perOp.get(recheck.op)!
    stats.buckets.collateral--
    stats.buckets.violation++
    collateralCauses.set(recheck.key, collateralCauses.get(recheck.key)! - 1)
    if (collateralCauses.get(recheck.key) === 0) collateralCauses.delete(recheck.key)
    violate(`call #${recheck.n} (${recheck.op}): its task had finished, yet it failed with WorkerCrashed: ${recheck.message}`)
    violatingCalls.push({ n: recheck.n, units: [recheck.unit] })
  }
  const violationRuns: Array<string> = []
  for (const { n, units: ids } of violatingCalls.slice(0, 10)) {
    const counts = ids.map((id) => `${units.runs(id)}${units.finishes(id) > 0 ? " (finished)" : ""}`)
    violationRuns.push(`call #${n}: ${counts.length === 1 ? counts[0] : `[${counts.join(", ")}]`}`)
  }
  const lostFinished = new Map<string, { crashed: number; finished: number }>()
  for (const { op, unit } of finishedButCrashed) {
    const entry = lostFinished.get(op) ?? { crashed: 0, finished: 0 }
    entry.crashed++
    if (units.finishes(unit) > 0) entry.finished++
    lostFinished.set(op, entry)
  }
  let killedMidSpin = 0
  let ranToEnd = 0
  for (const id of longBusyStarted) {
    if (units.finishes(id) === 0) killedMidSpin++
    else ranToEnd++
  }
  const accounted = BUCKETS.reduce((sum, b) => sum + buckets[b], 0)
  if (accounted !== submitted) violate(`accounting: ${submitted} submitted, ${accounted} in buckets`)
  if (pending.size > 0) violate(`${pending.size} calls still pending at the end`)
  hello.close()
  units.log?.close()

  // -- summary ---------------------------------------------------------------------------------------
  const line = (label: string, value: string | number) => console.log(`  ${label.padEnd(30)} ${value}`)
  console.log("\n=== soak summary ===")
  line("backend", BACKEND)
  line("seed", SEED)
  line("pool size / calls in flight", `${SIZE} / ${INFLIGHT}`)
  line("ran", `${result.ranFor.toFixed(1)} s (drain after deadline ${(result.drainMs / 1000).toFixed(2)} s, close+join ${(result.joinMs / 1000).toFixed(2)} s)`)
  line("calls submitted", submitted)
  line("calls accounted", `${accounted} (${accounted === submitted ? "all" : "MISMATCH"})`)
  for (const bucket of BUCKETS) line(`  ${bucket}`, buckets[bucket])
  line("throughput", `${(submitted / result.ranFor).toFixed(0)} calls/s, ${(units.size / result.ranFor).toFixed(0)} task runs/s submitted; main event loop ${(result.elu * 100).toFixed(0)}% busy, blocked at most ${(loopDelay.max / 1e6).toFixed(0)} ms at a time`)
  line(
    "longest event-loop block",
    `${Math.max(0, blocks.poolMax).toFixed(0)} ms leaving out the soak's own forced GCs (the longest of those: ` +
      `${blocks.gcMax.toFixed(0)} ms)`
  )
  line("task units", `${units.size}: ran once ${runs.once}, never ${runs.zero}, more than once ${runs.more}`)
  line("units required to run once", `${missingRuns === 0 ? "all did" : `${missingRuns} did not`}`)
  line("cancel calls", `interrupted ${cancelHow.interrupted}, timed out ${cancelHow.timeout}, finished first ${cancelHow.finished}`)
  line(
    "long sync cancels, once started",
    `${longBusyStarted.length}: worker killed mid-loop ${killedMidSpin}, loop ran to its end ${ranToEnd}` +
      (ranToEnd > 0 ? " (WARNING: expected a kill after the grace period)" : "")
  )
  line("heavy ops deferred (rate cap)", heavyDeferred)
  for (const op of [...protocolGarbage, ...exitAfterReturn]) {
    const s = perOp.get(op.name)!
    const lost = lostFinished.get(op.name) ?? { crashed: 0, finished: 0 }
    line(
      op.name,
      `${s.calls} calls: ok ${s.buckets.ok}, WorkerCrashed ${lost.crashed} (${lost.finished} of them after the task ` +
        `had returned: result lost), violations ${s.buckets.violation}, lost ${s.buckets.lost}`
    )
  }
  const ignored = perOp.get(signalIgnoring[0].name)!
  line(
    signalIgnoring[0].name,
    `${ignored.calls} calls: cancelled ${ignored.buckets.cancelled}, collateral ${ignored.buckets.collateral}, ` +
      `violations ${ignored.buckets.violation}, lost ${ignored.buckets.lost}`
  )
  if (uncaught.length > 0) line("uncaught in the parent", uncaught.join(" | "))
  line(
    "workers seen dying",
    `${crashedWorkers.size} named by WorkerCrashed errors (${killedWorkers.size} of them killed after a grace period), ` +
      `${killedMidSpin} killed mid-loop after a long cancel`
  )
  const workersUsed = units.log?.pids.size ?? workerThreads.size
  line(
    BACKEND === "threads" ? "worker threads used" : "worker processes used",
    `${workersUsed} (pool of ${SIZE}: at least ${Math.max(0, workersUsed - SIZE)} replacements)`
  )
  line("pool threads after join", `${result.threadsAfterJoin - threadsBefore} (after scope: ${threadsAfterScope - threadsBefore})`)
  line(
    "pool processes after join",
    `${result.processesAfterJoin - processesBefore} (after scope: ${processesAfterScope - processesBefore})`
  )
  line("memory (main process)", `rss ${mb(memory.startRss)} → peak ${mb(memory.peakRss)} (maxRSS ${mb(process.resourceUsage().maxRSS * 1024)}), heapUsed ${mb(memory.startHeap)} → peak ${mb(memory.peakHeap)}`)
  line("heapUsed after GC", memory.retained.join(", "))
  console.log("\n  per operation: calls / ok crashed declared thrown cancelled collateral violation lost / max ms")
  for (const op of OPS) {
    const s = perOp.get(op.name)!
    const b = BUCKETS.map((bucket) => String(s.buckets[bucket]).padStart(6)).join(" ")
    console.log(`  ${op.name.padEnd(36)} ${String(s.calls).padStart(7)} /${b} / ${s.maxMs.toFixed(0)}`)
  }
  console.log(`\n  collateral crashes: ${buckets.collateral}`)
  for (const [key, value] of [...collateralCauses].sort((a, b) => b[1] - a[1])) console.log(`    ${value}× ${key}`)
  if (stalls.length > 0) {
    console.log(`\n  calls pending more than ${STALL_MS / 1000} s: ${stalls.length}`)
    for (const stall of stalls.slice(0, 10)) console.log(`    ${stall}`)
  }
  if (completedTwice > 0) line("calls completed twice", completedTwice)
  console.log(`\n  VIOLATIONS: ${violationCount}`)
  for (const v of violations) console.log(`    - ${v}`)
  if (violationRuns.length > 0) console.log(`    runs of the violating calls' tasks: ${violationRuns.join("; ")}`)
  if (violationCount > violations.length) console.log(`    … and ${violationCount - violations.length} more`)
  return violationCount
})

// a hard stop, should anything hang (drain and join have their own limits)
const watchdog = setTimeout(() => {
  console.error("soak: VIOLATION: the soak did not finish in time (something hangs); exiting")
  process.exit(1)
}, (SECONDS + DRAIN_MS / 1000 + JOIN_MS / 1000 + 60) * 1000)
watchdog.unref()

Effect.runPromise(main).then(
  (violationCount) => {
    console.log(violationCount === 0 ? "\nsoak: OK" : `\nsoak: FAILED with ${violationCount} violation(s)`)
    process.exit(violationCount === 0 ? 0 : 1)
  },
  (error) => {
    console.error("soak: crashed", error)
    process.exit(1)
  }
)
