/**
 * The benchmark of issue 5: every scenario against every peer, in one run.
 *
 *   npm run bench                  # the full run (about 10 minutes on 2 cores); writes docs/benchmarks.{md,svg}
 *   BENCH_QUICK=1 npm run bench    # a smoke run: fewer repetitions, smaller sizes; prints only
 *
 * Method: for each scenario, every contender's pool is started, warmed up
 * once, then measured `reps` times, interleaved (each repetition runs every
 * contender once, in a rotated order), with a full GC before each run. The
 * tables show medians and the ratio of ours to each peer, oriented so that
 * > 1 means ours is ahead. Results are checked after each run (outside the
 * timing): a pool that returns a wrong result fails its row.
 *
 * Environment: BENCH_QUICK=1 (smoke run), BENCH_ONLY=1,3 (only these
 * scenarios, prints only), BENCH_WRITE=1 (write the docs from a quick or
 * partial run anyway).
 *
 * To compare two checkouts of this package on the tiny-task scenarios (1 and
 * 2), run by run in lock-step: bench/ab-pair.ts.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Url from "node:url"
import * as C from "./lib/contenders.ts"
import * as Data from "./lib/data.ts"
import * as Load from "./lib/load.ts"
import * as Python from "./lib/python.ts"
import * as R from "./lib/report.ts"
import { fmt, fmtRatio, gc, median, rotate, sleep } from "./lib/stats.ts"
import * as Work from "./work.ts"

const QUICK = process.env.BENCH_QUICK === "1"
const ONLY = process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(",").map(Number) : undefined
const WRITE = process.env.BENCH_WRITE === "1" || (!QUICK && ONLY === undefined)
const SIZE = Os.availableParallelism()
const MiB = 1024 * 1024

const config = QUICK
  ? {
    reps: 2,
    memoryReps: 1,
    burst: 20_000,
    burstSlow: 5_000,
    burstPython: 5_000,
    burstWarm: 5_000,
    sequential: 1_000,
    sequentialPython: 300,
    seedRows: 20_000,
    largeRows: 200_000,
    largeReps: 2,
    imapChunksize: 1_000,
    retryBudgetMs: 15_000,
    cpuSeconds: 0.3,
    cpuTasks: 64,
    payloadCount: 16,
    payloadBytes: 8 * MiB,
    runTimeoutMs: 60_000
  }
  : {
    reps: 5,
    memoryReps: 3,
    burst: 100_000,
    burstSlow: 20_000,
    burstPython: 20_000,
    burstWarm: 20_000,
    sequential: 5_000,
    sequentialPython: 1_000,
    seedRows: 20_000,
    largeRows: 2_000_000,
    largeReps: 5,
    imapChunksize: 1_000,
    retryBudgetMs: 90_000,
    cpuSeconds: 1.2,
    cpuTasks: 64,
    payloadCount: 64,
    payloadBytes: 8 * MiB,
    runTimeoutMs: 180_000
  }

const log = (message: string) => process.stderr.write(message + "\n")

// ---------------------------------------------------------------------------
// The runner
// ---------------------------------------------------------------------------

/** One contender in one scenario. */
interface Entry<I = any, O = any> {
  readonly key: string
  readonly label: string
  readonly note?: string | undefined
  /** Builds the run's input, outside the timing. */
  readonly prepare?: () => I
  /** The measured work. */
  readonly run: (input: I) => Promise<O>
  /** Throws unless the run computed the right thing (outside the timing). */
  readonly check?: (output: O, input: I) => void
  /** The run's metric from its wall time and output (Python reports its own time). */
  readonly metric: (ms: number, output: O) => number
  /** Cleans up after a run, outside the timing. */
  readonly after?: (output: O) => Promise<void>
  /** The warm-up run (default: `run`). */
  readonly warm?: () => Promise<unknown>
}

/**
 * A measured run during which other processes used more than this share of
 * the machine's CPU time is thrown away and run again (at most MAX_REPEATS
 * times, within the run's retry budget): on a shared machine, a burst of
 * someone else's work would otherwise decide the ratios.
 */
const LOADED = 0.2
const MAX_REPEATS = 2
/** Short runs are judged over a window of at least this long (the /proc counters tick every 10 ms). */
const MIN_WINDOW_MS = 100
const REPEAT_PAUSE_MS = 1_000
let retryBudgetMs = config.retryBudgetMs

const withTimeout = <A>(promise: Promise<A>, ms: number, what: string): Promise<A> => {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result after ${ms / 1000} s`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

const describe = (error: unknown) => (error instanceof Error ? error.message : String(error)).split("\n")[0]

/** Warms every entry up once, then runs `reps` interleaved repetitions. */
const interleave = async (
  scenario: string,
  entries: ReadonlyArray<Entry>,
  reps = config.reps,
  warmups = 1
) => {
  const series: Array<R.Series> = entries.map((e) => ({
    key: e.key,
    label: e.label,
    note: e.note,
    samples: [],
    repeated: 0,
    loaded: 0
  }))
  const lastMs: Array<number> = []
  const once = async (i: number, measured: boolean) => {
    const entry = entries[i]
    const s = series[i]
    if (s.error !== undefined) return
    try {
      for (let attempt = 0;; attempt++) {
        const input = entry.prepare?.()
        gc()
        const what = `${scenario} / ${entry.label}`
        if (!measured && entry.warm) {
          await withTimeout(entry.warm(), config.runTimeoutMs, what)
          return
        }
        // how much of the machine other processes use meanwhile, over at least MIN_WINDOW_MS
        const load = Load.watch()
        const pad = measured ? MIN_WINDOW_MS - (lastMs[i] ?? 0) : 0
        if (pad > 0) await sleep(pad)
        const t = performance.now()
        const output = await withTimeout(entry.run(input), config.runTimeoutMs, what)
        const ms = performance.now() - t
        const share = load.stop()
        lastMs[i] = ms
        entry.check?.(output, input)
        if (entry.after) await withTimeout(entry.after(output), config.runTimeoutMs, `${what} (cleanup)`)
        if (!measured) return
        const loaded = share !== undefined && share > LOADED
        if (loaded && attempt < MAX_REPEATS && retryBudgetMs > 0) {
          // give the burst a moment to pass
          await sleep(REPEAT_PAUSE_MS)
          retryBudgetMs -= ms + Math.max(0, pad) + REPEAT_PAUSE_MS
          s.repeated!++
          log(`    repeating ${entry.label}: other processes used ${Math.round(share * 100)}% of the CPU`)
          continue
        }
        if (loaded) s.loaded!++
        s.samples.push(entry.metric(ms, output))
        return
      }
    } catch (error) {
      s.error = describe(error)
      log(`  ! ${scenario} / ${entry.label}: ${s.error}`)
    }
  }
  const indices = entries.map((_, i) => i)
  for (let w = 0; w < warmups; w++) {
    log(`  warm-up`)
    for (const i of indices) await once(i, false)
  }
  for (let r = 0; r < reps; r++) {
    log(`  repetition ${r + 1}/${reps}`)
    for (const i of rotate(indices, r)) await once(i, true)
  }
  return series
}

/** Starts every kind of pool for a scenario; a pool that fails to start fails its rows. */
const startAll = async <K extends C.Kind<any>>(kinds: ReadonlyArray<K>) => {
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
const guarded = <P>(
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

const assert = (condition: boolean, message: string) => {
  if (!condition) throw new Error(`wrong result: ${message}`)
}

const sumOfAdds = (n: number) => (n * (n - 1)) / 2 + n
const perSecond = (n: number) => (ms: number) => n / (ms / 1000)

const expectArray = (expected: ReadonlyArray<number>) => (actual: ReadonlyArray<number>) => {
  assert(actual.length === expected.length, `${actual.length} results, expected ${expected.length}`)
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) assert(false, `result ${i} is ${actual[i]}, expected ${expected[i]}`)
  }
}

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

const tables: Array<R.Table> = []
/** Other processes' share of the machine's CPU time since the current scenario began. */
let scenarioLoad = Load.watch()
const loads: Record<string, number | undefined> = {}
const loadNote = (share: number | undefined) =>
  share === undefined
    ? []
    : [`Other processes used ${Math.round(share * 100)}% of the machine's CPU time during this scenario.`]
const emit = (table: R.Table) => {
  const share = scenarioLoad.stop()
  loads[table.id] = share
  const repeated = table.rows.reduce((n, r) => n + (r.repeated ?? 0), 0)
  const loaded = table.rows.reduce((n, r) => n + (r.loaded ?? 0), 0)
  const repeatNote = repeated + loaded === 0 ? [] : [
    `${repeated} run${repeated === 1 ? " was" : "s were"} repeated because other processes used more than ${
      LOADED * 100
    }% of the CPU during them${
      loaded === 0 ? "" : `; ${loaded} kept run${loaded === 1 ? "" : "s"} still had such load (rows marked †)`
    }.`
  ]
  const withLoad = { ...table, notes: [...(table.notes ?? []), ...loadNote(share), ...repeatNote] }
  tables.push(withLoad)
  console.log("\n" + R.toText(withLoad))
}

const oursLabel = C.ours.label
const pythonLabel = (py: Python.Python) => `Python ${py.version.split(" ")[0]} multiprocessing.Pool`

/** Scenario 1: 100,000 tiny tasks submitted at once. */
const scenario1 = async (py: Python.Python | undefined) => {
  log(`\nScenario 1: tiny tasks, burst`)
  const pools = await startAll<C.Kind<any>>([C.ours, ...C.peers])
  const n = config.burst
  const burstEntry = (id: string, label: string, count: number, note?: string) =>
    guarded<C.Contender>(pools, id, (pool) => ({
      key: id,
      label,
      note,
      run: () => pool.burst(count),
      check: (sum: number) => assert(sum === sumOfAdds(count), `sum ${sum}`),
      metric: perSecond(count),
      warm: () => pool.burst(Math.min(count, config.burstWarm))
    }))(label)
  const entries: Array<Entry> = [
    burstEntry("ours", `${oursLabel}: Effect.forEach(apply), unbounded`, n),
    guarded<C.Ours>(pools as any, "ours", (pool) => ({
      key: "oursAsync",
      label: `${oursLabel}: applyAsync, then get`,
      run: () => pool.burstAsync(n),
      check: (sum: number) => assert(sum === sumOfAdds(n), `sum ${sum}`),
      metric: perSecond(n),
      warm: () => pool.burstAsync(config.burstWarm)
    }))(`${oursLabel}: applyAsync, then get`),
    ...C.peers.map((kind) =>
      kind.id === "rpc"
        ? burstEntry(
          kind.id,
          kind.label,
          config.burstSlow,
          `${config.burstSlow.toLocaleString("en-US")} tasks per run instead of ${
            n.toLocaleString("en-US")
          } (at its rate the full burst would take most of the time budget)`
        )
        : burstEntry(kind.id, kind.label, n)
    )
  ]
  if (py) {
    entries.push({
      key: "python",
      label: `${pythonLabel(py)}: apply_async, then get`,
      note: `${config.burstPython.toLocaleString("en-US")} tasks per run; timed inside Python`,
      run: () => py.request({ op: "burst", n: config.burstPython }),
      metric: (_, out) => config.burstPython / out.seconds
    })
  }
  const series = await interleave("scenario 1", entries)
  await pools.closeAll()
  emit({
    id: "s1",
    title: `Scenario 1: ${n.toLocaleString("en-US")} tiny add(a, b) tasks submitted at once, pool size ${SIZE}`,
    unit: "tasks/s",
    better: "higher",
    reference: "ours",
    rows: series
  })
}

/** Scenario 2: one tiny task at a time. */
const scenario2 = async (py: Python.Python | undefined) => {
  log(`\nScenario 2: tiny tasks, one at a time`)
  const kinds = C.peers.filter((k) => k.id !== "raw1")
  const pools = await startAll<C.Kind<any>>([C.ours, ...kinds])
  const n = config.sequential
  const entry = (id: string, label: string) =>
    guarded<C.Contender>(pools, id, (pool) => ({
      key: id,
      label,
      run: () => pool.oneAtATime(n),
      check: (sum: number) => assert(sum === sumOfAdds(n), `sum ${sum}`),
      metric: (ms) => (ms * 1000) / n
    }))(label)
  const entries: Array<Entry> = [
    entry("ours", `${oursLabel}: apply, awaited each time`),
    ...kinds.map((k) => entry(k.id, k.id === "raw" ? "raw worker_threads (one postMessage round trip)" : k.label))
  ]
  if (py) {
    entries.push({
      key: "python",
      label: `${pythonLabel(py)}: apply`,
      note: `${config.sequentialPython.toLocaleString("en-US")} calls per run; timed inside Python`,
      run: () => py.request({ op: "apply_seq", n: config.sequentialPython }),
      metric: (_, out) => (out.seconds * 1e6) / config.sequentialPython
    })
  }
  const series = await interleave("scenario 2", entries)
  await pools.closeAll()
  emit({
    id: "s2",
    title: `Scenario 2: sequential round trips of a tiny task (${n.toLocaleString("en-US")} per run), pool size ${SIZE}`,
    unit: "µs per call",
    better: "lower",
    reference: "ours",
    rows: series
  })
}

/** Scenario 3: the seed's how_many_within_range over 20,000 and 2,000,000 rows. */
const scenario3 = async (py: Python.Python | undefined) => {
  log(`\nScenario 3: the seed`)
  const packed = Data.packedRows(config.largeRows)
  const file = py ? Data.writeRowsFile(packed, "rows.bin") : undefined
  // raw with one chunk in flight per thread shows what pipelining chunks is worth
  const peerKinds = C.peers.filter((k) => k.id !== "piscina64")
  const pools = await startAll<C.Kind<any>>([C.ours, ...peerKinds])
  for (const rowCount of [config.seedRows, config.largeRows]) {
    const name = rowCount === config.seedRows ? "seed" : "large"
    log(`  ${rowCount.toLocaleString("en-US")} rows`)
    const rows = Data.unpackRows(packed, rowCount)
    const tuples = rows.map((row) => [row, 4, 8] as const)
    const expected = rows.map(Work.howManyWithinRangeRow)
    const check = expectArray(expected)
    const chunksize = Data.defaultChunksize(rowCount, SIZE)
    const ms = (ms: number) => ms
    const small = rowCount === config.seedRows
    const oursEntry = (key: string, label: string, run: (pool: C.Ours) => Promise<Array<number>>) =>
      guarded<C.Ours>(pools as any, "ours", (pool) => ({ key, label, run: () => run(pool), check, metric: ms }))(label)
    const entries: Array<Entry> = [
      {
        key: "seq",
        label: "sequential (main thread, for loop)",
        run: async () => rows.map(Work.howManyWithinRangeRow),
        check,
        metric: ms
      },
      oursEntry("ours", `${oursLabel}: map (default chunksize ${chunksize.toLocaleString("en-US")})`, (p) => p.map(rows)),
      oursEntry("oursStarmap", `${oursLabel}: starmap (default chunksize)`, (p) => p.starmap(tuples)),
      oursEntry(
        "oursImap",
        `${oursLabel}: imap (chunksize ${config.imapChunksize.toLocaleString("en-US")}), collected`,
        (p) => p.imap(rows, config.imapChunksize)
      ),
      ...(small
        ? [oursEntry("oursImap1", `${oursLabel}: imap (default chunksize 1), collected`, (p) => p.imap(rows, 1))]
        : []),
      ...peerKinds.map((kind) =>
        guarded<C.Contender>(pools, kind.id, (pool) => ({
          key: kind.id,
          label: `${kind.label}: chunks of ${chunksize.toLocaleString("en-US")} rows`,
          run: () => pool.rows(rows, chunksize),
          check,
          metric: ms
        }))(kind.label)
      )
    ]
    if (py && file) {
      await py.request({ op: "load", name, path: file, rows: rowCount })
      const pyEntry = (method: string, label: string, chunk?: number) => ({
        key: `py-${method}${chunk === 1 ? "1" : ""}`,
        label: `${pythonLabel(py)}: ${label}`,
        run: () => py.request({ op: "seed", data: name, method, chunksize: chunk }),
        check: (out: Record<string, any>) => {
          assert(out.length === expected.length, `python: ${out.length} results`)
          assert(out.checksum === expectedChecksum, `python checksum ${out.checksum}`)
        },
        metric: (_: number, out: Record<string, any>) => out.seconds * 1000
      })
      const expectedChecksum = expected.reduce((a, b) => a + b, 0)
      entries.push(
        pyEntry("sequential", "sequential (for loop)"),
        pyEntry("map", "map (default chunksize)"),
        pyEntry("starmap", "starmap (default chunksize)"),
        pyEntry("imap", `imap (chunksize ${config.imapChunksize.toLocaleString("en-US")})`, config.imapChunksize),
        ...(small ? [pyEntry("imap", "imap (default chunksize 1)", 1)] : [])
      )
    }
    // the large input runs on pools the small one has just warmed up
    const series = small
      ? await interleave(`scenario 3 (${rowCount} rows)`, entries)
      : await interleave(`scenario 3 (${rowCount} rows)`, entries, config.largeReps, 0)
    const seqJs = R.med(series.find((s) => s.key === "seq"))
    const seqPy = R.med(series.find((s) => s.key === "py-sequential"))
    emit({
      id: `s3-${name}`,
      title: `Scenario 3: how_many_within_range(row, 4, 8) over ${rowCount.toLocaleString("en-US")} rows × 5 ints, pool size ${SIZE}`,
      unit: "ms",
      better: "lower",
      reference: "ours",
      rows: series,
      extra: {
        header: "speedup over sequential",
        value: (s) => {
          const seq = s.key.startsWith("py-") ? seqPy : seqJs
          return s.key === "seq" || s.key === "py-sequential" ? "1" : fmtRatio(seq / R.med(s))
        }
      },
      notes: [
        `Speedup over sequential: Node.js rows against the Node.js for loop, Python rows against the Python for loop.`,
        `Pools without \`map\` get the rows in chunks of \`ceil(n / (4 × size))\` = ${chunksize.toLocaleString("en-US")}, one task per chunk (what \`map\` does by default).`
      ]
    })
  }
  await pools.closeAll()
  if (py) await py.request({ op: "unload" })
  if (file) Fs.rmSync(file, { force: true })
}

/** Scenario 4: CPU-bound tasks, ~1.2 s of sequential work split in 64. */
const scenario4 = async (py: Python.Python | undefined) => {
  log(`\nScenario 4: CPU-bound`)
  // calibrate: iterations per task so that all tasks take ~cpuSeconds sequentially
  Work.cpu(1, 2_000_000)
  const t = performance.now()
  Work.cpu(2, 10_000_000)
  const nsPerIteration = ((performance.now() - t) * 1e6) / 10_000_000
  const iterations = Math.round((config.cpuSeconds * 1e9) / config.cpuTasks / nsPerIteration)
  const seeds = Array.from({ length: config.cpuTasks }, (_, i) => i + 1)
  const expected = seeds.map((seed) => Work.cpu(seed, iterations))
  const check = expectArray(expected)
  const pools = await startAll<C.Kind<any>>([C.ours, ...C.peers.filter((k) => k.id !== "raw1")])
  const warmSeeds = seeds.slice(0, 2 * SIZE)
  const entries: Array<Entry> = [
    {
      key: "seq",
      label: "sequential (main thread)",
      run: async () => seeds.map((seed) => Work.cpu(seed, iterations)),
      check,
      metric: (ms) => ms
    },
    guarded<C.Ours>(pools as any, "ours", (pool) => ({
      key: "ours",
      label: `${oursLabel}: Effect.forEach(apply), unbounded`,
      run: () => pool.cpu(seeds, iterations),
      check,
      metric: (ms) => ms,
      warm: () => pool.cpu(warmSeeds, iterations)
    }))(oursLabel),
    guarded<C.Ours>(pools as any, "ours", (pool) => ({
      key: "oursStarmap",
      label: `${oursLabel}: starmap (default chunksize)`,
      run: () => pool.cpuStarmap(seeds, iterations),
      check,
      metric: (ms) => ms,
      warm: () => pool.cpuStarmap(warmSeeds, iterations)
    }))(oursLabel),
    ...C.peers.filter((k) => k.id !== "raw1").map((kind) =>
      guarded<C.Contender>(pools, kind.id, (pool) => ({
        key: kind.id,
        label: kind.label,
        run: () => pool.cpu(seeds, iterations),
        check,
        metric: (ms) => ms,
        warm: () => pool.cpu(warmSeeds, iterations)
      }))(kind.label)
    )
  ]
  let pyIterations = 0
  if (py) {
    pyIterations = (await py.request({ op: "cpu_calibrate", target_seconds: config.cpuSeconds, tasks: config.cpuTasks }))
      .iterations
    for (const parallel of [false, true]) {
      entries.push({
        key: parallel ? "py-pool" : "py-sequential",
        label: `${pythonLabel(py)}: ${parallel ? "starmap (default chunksize)" : "sequential (for loop)"}`,
        note: `the same computation in pure Python, with ${pyIterations.toLocaleString("en-US")} iterations per task ` +
          `(calibrated to ~${config.cpuSeconds} s sequential, as the Node.js side): compare speedups, not times`,
        run: () => py.request({ op: "cpu", tasks: config.cpuTasks, iterations: pyIterations, parallel }),
        metric: (_, out) => out.seconds * 1000
      })
    }
  }
  const series = await interleave("scenario 4", entries)
  await pools.closeAll()
  const seqJs = R.med(series.find((s) => s.key === "seq"))
  const seqPy = R.med(series.find((s) => s.key === "py-sequential"))
  emit({
    id: "s4",
    title: `Scenario 4: CPU-bound, ${config.cpuTasks} tasks of integer math (~${config.cpuSeconds} s sequential), pool size ${SIZE}`,
    unit: "ms",
    better: "lower",
    reference: "ours",
    rows: series,
    extra: {
      header: "speedup over sequential",
      value: (s) =>
        s.key === "seq" || s.key === "py-sequential"
          ? "1"
          : fmtRatio((s.key.startsWith("py-") ? seqPy : seqJs) / R.med(s))
    },
    notes: [`${iterations.toLocaleString("en-US")} iterations per task; the ideal speedup is ${SIZE}× (the pool size).`]
  })
}

/** Scenario 5: 64 × 8 MiB typed arrays, copied or transferred both ways. */
const scenario5 = async () => {
  log(`\nScenario 5: large payloads`)
  const kinds = C.peers.filter((k) => k.id !== "piscina64")
  const pools = await startAll<C.Kind<any>>([C.ours, ...kinds])
  const { payloadBytes: bytes, payloadCount: count } = config
  const prepare = () => Data.payloads(count, bytes)
  const check = (out: ReadonlyArray<C.Floats>) => {
    assert(out.length === count, `${out.length} arrays`)
    for (let k = 0; k < count; k++) {
      const a = out[k]
      assert(a.length === bytes / 8 && a[0] === 2 * k + 1 && a[a.length - 1] === 2 * k + 1, `array ${k}`)
    }
  }
  const gbPerSecond = (ms: number) => (count * bytes) / 1e9 / (ms / 1000)
  const result: Record<"copy" | "transfer", Array<R.Series>> = { copy: [], transfer: [] }
  const entries: Array<Entry> = [{
    key: "seq",
    label: "sequential (main thread, in place)",
    prepare,
    run: async (arrays: Array<C.Floats>) => arrays.map(Work.scale),
    check,
    metric: gbPerSecond
  }]
  for (const transfer of [false, true]) {
    const mode = transfer ? "transfer" : "copy"
    entries.push(
      guarded<C.Contender>(pools, "ours", (pool) => ({
        key: `ours-${mode}`,
        label: `${oursLabel}: apply${transfer ? " { transfer }, Task.transfer result" : ""}`,
        prepare,
        run: (arrays: Array<C.Floats>) => pool.payload(arrays, transfer),
        check,
        metric: gbPerSecond
      }))(oursLabel),
      ...kinds.map((kind) =>
        guarded<C.Contender>(pools, kind.id, (pool) => ({
          key: `${kind.id}-${mode}`,
          label: kind.label,
          note: transfer && kind.id === "poolifier"
            ? "poolifier cannot transfer a result back: arguments are transferred, results copied"
            : undefined,
          prepare,
          run: (arrays: Array<C.Floats>) => pool.payload(arrays, transfer),
          check,
          metric: gbPerSecond
        }))(kind.label)
      )
    )
  }
  const series = await interleave("scenario 5", entries)
  await pools.closeAll()
  const seq = series[0]
  for (const s of series.slice(1)) {
    const mode = s.key.endsWith("-transfer") ? "transfer" : "copy"
    result[mode].push({ ...s, key: s.key.replace(/-(copy|transfer)$/, "") })
  }
  const copyOf = (key: string) => R.med(result.copy.find((s) => s.key === key))
  const size = `${count} × ${bytes / MiB} MiB Float64Array`
  emit({
    id: "s5-copy",
    title: `Scenario 5a: ${size}, processed (x → 2x + 1) and returned, copied both ways, pool size ${SIZE}`,
    unit: "GB/s",
    better: "higher",
    reference: "ours",
    rows: [seq, ...result.copy],
    notes: ["GB/s: bytes of input processed per second (10⁹ bytes)."]
  })
  emit({
    id: "s5-transfer",
    title: `Scenario 5b: ${size}, processed and returned, transferred both ways, pool size ${SIZE}`,
    unit: "GB/s",
    better: "higher",
    reference: "ours",
    rows: [seq, ...result.transfer],
    extra: {
      header: "transfer ÷ copy",
      value: (s) => (s.key === "seq" ? "–" : fmtRatio(R.med(s) / copyOf(s.key)))
    },
    notes: [
      "Python is not measured here: without numpy, processing 512 MiB element by element in pure Python would time the interpreter, not the pool."
    ]
  })
}

/** Scenario 6: start-up to first result, and memory per worker. */
const scenario6 = async (py: Python.Python | undefined) => {
  log(`\nScenario 6: start-up and memory`)
  const kinds = C.peers.filter((k) => k.id !== "raw1" && k.id !== "piscina64")
  const pythonMemory: Array<{ pss: number; rss: number }> = []
  const startEntry = (kind: C.Kind<any>, label: string): Entry => ({
    key: kind.id,
    label,
    run: async () => {
      const pool = await kind.start(SIZE)
      const value = await pool.first()
      return { pool, value }
    },
    check: (out: { value: number }) => assert(out.value === 3, `first result ${out.value}`),
    metric: (ms) => ms,
    after: (out: { pool: C.Contender }) => out.pool.close()
  })
  const entries: Array<Entry> = [
    startEntry(C.ours, `${oursLabel}: WorkerPool.make, then apply`),
    ...kinds.map((k) => startEntry(k, k.id === "raw" ? `raw worker_threads (${SIZE} new Worker, then postMessage)` : k.label)),
    startEntry(C.rawCompileCache, `raw worker_threads with Node's compile cache (NODE_COMPILE_CACHE, as ours sets it)`),
    ...[C.bareWorker, C.bareEffectWorker, C.bareTasksWorker].map((k) => startEntry(k, `${SIZE} × ${k.label}`))
  ]
  if (py) {
    entries.push({
      key: "python",
      label: `${pythonLabel(py)}: Pool(${SIZE}), then apply`,
      note: "timed inside Python",
      run: () => py.request({ op: "startup", size: SIZE }),
      metric: (_, out) => {
        pythonMemory.push({ pss: out.pss_kib * 1024, rss: out.rss_kib * 1024 })
        return out.seconds * 1000
      }
    })
  }
  const series = await interleave("scenario 6 (start-up)", entries)
  emit({
    id: "s6-startup",
    title: `Scenario 6a: start-up to first result (a pool of ${SIZE} workers, then add(1, 2))`,
    unit: "ms",
    better: "lower",
    reference: "ours",
    rows: series
  })

  log(`  memory (a fresh process per measurement)`)
  const probe = Url.fileURLToPath(new URL("./memory-probe.ts", import.meta.url))
  const probeEntry = (id: string, label: string): Entry => ({
    key: id,
    label,
    run: () =>
      new Promise<Record<string, number>>((resolve, reject) => {
        ChildProcess.execFile(process.execPath, [probe, id, String(SIZE)], { timeout: 60_000 }, (error, stdout) => {
          if (error) reject(error)
          else resolve(JSON.parse(stdout.trim().split("\n").pop()!))
        })
      }),
    metric: (_, out) => out.perWorkerBytes / MiB
  })
  const memoryEntries = [
    probeEntry("ours", oursLabel),
    probeEntry("bare", "bare worker thread (imports nothing)"),
    probeEntry("bare-effect", "bare worker thread that imports effect"),
    ...kinds.map((k) => probeEntry(k.id, k.label))
  ]
  const memory = await interleave("scenario 6 (memory)", memoryEntries, config.memoryReps)
  if (py && pythonMemory.length > 0) {
    memory.push({
      key: "python",
      label: `${pythonLabel(py)}: one worker process (PSS)`,
      note: `proportional set size of each worker process (pages shared with the parent after fork counted in part); RSS ${
        fmt(median(pythonMemory.map((m) => m.rss)) / MiB)
      } MiB. Not comparable one to one with a thread's RSS growth.`,
      samples: pythonMemory.map((m) => m.pss / MiB)
    })
  }
  emit({
    id: "s6-memory",
    title: `Scenario 6b: memory per worker (process RSS growth ÷ ${SIZE} after every worker ran tasks)`,
    unit: "MiB",
    better: "lower",
    reference: "ours",
    rows: memory,
    notes: [
      "Measured in a fresh Node.js process per run (`bench/memory-probe.ts`), with a full GC before each reading."
    ]
  })
}

// ---------------------------------------------------------------------------
// Targets of issue 5
// ---------------------------------------------------------------------------

interface Target {
  readonly scenario: string
  readonly target: string
  readonly measured: string
  readonly met: boolean | undefined
}

const evaluateTargets = (): Array<Target> => {
  const table = (id: string) => tables.find((t) => t.id === id)
  const get = (id: string, key: string) => R.med(table(id)?.rows.find((r) => r.key === key))
  const out: Array<Target> = []
  const push = (scenario: string, target: string, value: number, goal: (v: number) => boolean, describe: string) =>
    out.push({
      scenario,
      target,
      measured: Number.isFinite(value) ? describe : "not measured",
      met: Number.isFinite(value) ? goal(value) : undefined
    })

  if (table("s1")) {
    for (const [key, how] of [["ours", "forEach(apply)"], ["oursAsync", "applyAsync"]] as const) {
      const ours = get("s1", key)
      const piscinaBest = Math.max(get("s1", "piscina"), get("s1", "piscina64"))
      push("1", `≥ 1.5× piscina's best setting (${how})`, ours / piscinaBest, (r) => r >= 1.5, `${fmtRatio(ours / piscinaBest)}`)
      push("1", `≥ 1.0× poolifier (${how})`, ours / get("s1", "poolifier"), (r) => r >= 1, `${fmtRatio(ours / get("s1", "poolifier"))}`)
      const raw = get("s1", "raw")
      push(
        "1",
        `within 1.5× of raw pipelined postMessage (${how})`,
        raw / ours,
        (r) => r <= 1.5,
        `raw is ${fmtRatio(raw / ours)} ours`
      )
    }
  }
  if (table("s2")) {
    const ours = get("s2", "ours")
    const raw = get("s2", "raw")
    push("2", "≤ 1.3× raw one-at-a-time round trip", ours / raw, (r) => r <= 1.3, `ours is ${fmtRatio(ours / raw)} raw (${fmt(ours)} vs ${fmt(raw)} µs)`)
    const py = get("s2", "python")
    push("2", "≥ 10× faster than Python's Pool.apply", py / ours, (r) => r >= 10, `${fmtRatio(py / ours)} (${fmt(py)} vs ${fmt(ours)} µs)`)
  }
  if (table("s3-seed")) {
    const ours = get("s3-seed", "ours")
    const py = get("s3-seed", "py-map")
    push("3", `map over ${config.seedRows.toLocaleString("en-US")} rows ≥ 3× faster than Python's Pool.map`, py / ours, (r) => r >= 3, `${fmtRatio(py / ours)} (${fmt(ours)} vs ${fmt(py)} ms)`)
  }
  if (table("s3-large")) {
    const ours = get("s3-large", "ours")
    const seq = get("s3-large", "seq")
    push("3", `map over ${config.largeRows.toLocaleString("en-US")} rows: speedup over sequential ≥ 1.6×`, seq / ours, (r) => r >= 1.6, `${fmtRatio(seq / ours)} (${fmt(ours)} vs ${fmt(seq)} ms sequential)`)
  }
  if (table("s4")) {
    const seq = get("s4", "seq")
    for (const [key, how] of [["ours", "forEach(apply)"], ["oursStarmap", "starmap"]] as const) {
      const s = seq / get("s4", key)
      push("4", `speedup ≥ 1.85× on 2 cores (${how})`, s, (r) => r >= 1.85, `${fmtRatio(s)} (raw worker_threads: ${fmtRatio(seq / get("s4", "raw"))})`)
    }
  }
  if (table("s5-transfer")) {
    const r = get("s5-transfer", "ours") / get("s5-copy", "ours")
    push("5", "transfer path ≥ 5× the copy path", r, (x) => x >= 5, `${fmtRatio(r)} (${fmt(get("s5-transfer", "ours"))} vs ${fmt(get("s5-copy", "ours"))} GB/s)`)
  }
  if (table("s6-startup")) {
    const r = get("s6-startup", "ours") / get("s6-startup", "raw")
    const cached = get("s6-startup", "raw-cc")
    push(
      "6",
      "start-up ≤ 1.5× a raw worker's",
      r,
      (x) => x <= 1.5,
      `${fmtRatio(r)} (${fmt(get("s6-startup", "ours"))} vs ${fmt(get("s6-startup", "raw"))} ms; ${
        fmtRatio(get("s6-startup", "ours") / cached)
      } a raw worker's with the compile cache, ${fmt(cached)} ms)`
    )
  }
  if (table("s6-memory")) {
    const r = get("s6-memory", "ours") / get("s6-memory", "bare-effect")
    push("6", "RSS per worker ≤ 1.3× a bare worker thread that imports effect", r, (x) => x <= 1.3, `${fmtRatio(r)} (${fmt(get("s6-memory", "ours"))} vs ${fmt(get("s6-memory", "bare-effect"))} MiB)`)
  }
  return out
}

// ---------------------------------------------------------------------------
// What the numbers say
// ---------------------------------------------------------------------------

/** The median of one row of one table (NaN when absent or failed). */
const get = (id: string, key: string) => R.med(tables.find((t) => t.id === id)?.rows.find((r) => r.key === key))
const known = (...xs: Array<number>) => xs.every(Number.isFinite)
/** Fastest ÷ slowest run of one row. */
const spreadOf = (id: string, key: string) => {
  const samples = tables.find((t) => t.id === id)?.rows.find((r) => r.key === key)?.samples ?? []
  return Math.max(...samples) / Math.min(...samples)
}
/** The fastest Node.js pool of a scenario 3 table (every row but the loops and Python's). */
const fastestPool = (id: string) =>
  Math.min(
    ...(tables.find((t) => t.id === id)?.rows ?? [])
      .filter((r) => r.key !== "seq" && !r.key.startsWith("py-"))
      .map((r) => R.med(r))
      .filter(Number.isFinite)
  )
const near = (a: number, b: number) => Math.abs(a / b - 1) <= 0.25
const pct = (share: number | undefined) => (share === undefined ? "an unknown share" : `${Math.round(share * 100)}%`)

/** Paragraphs for the docs: the numbers behind each target, and what stands in the way of the missed ones. */
const findings = (): Array<string> => {
  const out: Array<string> = []
  {
    const [ours, oursAsync, raw, raw1] = [get("s1", "ours"), get("s1", "oursAsync"), get("s1", "raw"), get("s1", "raw1")]
    if (known(ours, oursAsync, raw)) {
      out.push(
        `**Scenario 1.** Ours ran ${fmt(ours)} tasks/s with \`Effect.forEach(apply)\` and ${fmt(oursAsync)} with ` +
          `\`applyAsync\`; raw \`postMessage\` ran ${fmt(raw)} pipelined and ${fmt(raw1)} with one task in flight per ` +
          `thread. Our dispatcher sends many tiny tasks per message, which is how a pool that keeps a record of ` +
          `every task can come near (or pass) one bare message per task. Mind the min–max spread: single runs of ours ` +
          `varied by ${fmtRatio(spreadOf("s1", "ours"))} (slowest to fastest) in this run.`
      )
    }
  }
  {
    const [ours, raw, py] = [get("s2", "ours"), get("s2", "raw"), get("s2", "python")]
    if (known(ours, raw, py)) {
      out.push(
        `**Scenario 2.** One round trip took ${fmt(ours)} µs with ours, ${fmt(raw)} µs with one raw \`postMessage\` ` +
          `each way, and ${fmt(py)} µs with Python's \`Pool.apply\`. Issue 5 assumed Python at ~2k calls/s (about ` +
          `500 µs a call); measured here, 10× would need ${fmt(py / 10)} µs per call` +
          (py / 10 < raw ? `, less than a raw round trip in the same run: no thread pool can meet it on this machine.` : `.`)
      )
    }
  }
  {
    const [seq, ours, raw, raw1, imap] = [
      get("s3-large", "seq"),
      get("s3-large", "ours"),
      get("s3-large", "raw"),
      get("s3-large", "raw1"),
      get("s3-large", "oursImap")
    ]
    const [seqSmall, oursSmall, rawSmall, pyMapSmall, pySeqSmall] = [
      get("s3-seed", "seq"),
      get("s3-seed", "ours"),
      get("s3-seed", "raw"),
      get("s3-seed", "py-map"),
      get("s3-seed", "py-sequential")
    ]
    if (known(seqSmall, oursSmall, rawSmall, pyMapSmall)) {
      out.push(
        `**Scenario 3, ${config.seedRows.toLocaleString("en-US")} rows.** The Node.js loop takes ${fmt(seqSmall)} ms ` +
          `(${fmt((seqSmall * 1e6) / config.seedRows)} ns a row)${
            known(pySeqSmall) ? `, Python's ${fmt(pySeqSmall)} ms` : ""
          }. A pool must copy each row to a worker and its count back${
            fastestPool("s3-seed") > seqSmall
              ? `, which costs more than counting it: every Node.js pool here is slower than the loop (the fastest ` +
                `took ${fmt(fastestPool("s3-seed"))} ms)`
              : ""
          }. Python's \`Pool.map\` took ${fmt(pyMapSmall)} ms, ours ` +
          `${fmt(oursSmall)} ms, raw pipelined \`postMessage\` with the same chunks ${fmt(rawSmall)} ms` +
          (rawSmall * 3 > pyMapSmall
            ? `: pickling small lists is cheaper than structured-cloning small arrays, so not even raw \`postMessage\` ` +
              `is 3× faster than Python's pool on this input.`
            : `.`)
      )
    }
    if (known(seq, ours, raw, raw1)) {
      out.push(
        `**Scenario 3, ${config.largeRows.toLocaleString("en-US")} rows.** The loop takes ${fmt(seq)} ms; ours \`map\` ` +
          `${fmt(ours)} ms, raw pipelined \`postMessage\` with the same chunks ${fmt(raw)} ms (${fmtRatio(seq / raw)} ` +
          `of the loop's speed)${
            fastestPool("s3-large") > seq / 1.6
              ? `, so the 1.6× speedup is out of reach for any thread pool on this workload: the time goes into ` +
                `copying rows, not counting them`
              : ""
          }. Between pools: raw with one chunk in flight per thread took ` +
          `${fmt(raw1)} ms${
            near(ours, raw1)
              ? `, close to ours. Our dispatcher sends a chunk estimated above ~2 ms only to an idle worker ` +
                `([chunking](./chunking.md)), so the next ${Data.defaultChunksize(config.largeRows, SIZE).toLocaleString("en-US")}-row ` +
                `chunk is serialized while its worker waits instead of ahead of time`
              : ""
          }${known(imap) ? `; \`imap\` with chunks of ${config.imapChunksize.toLocaleString("en-US")} took ${fmt(imap)} ms` : ""}.`
      )
    }
  }
  {
    const [seq, ours, starmap, raw] = [get("s4", "seq"), get("s4", "ours"), get("s4", "oursStarmap"), get("s4", "raw")]
    if (known(seq, ours, raw)) {
      out.push(
        `**Scenario 4.** Speedup over the sequential loop: ours ${fmtRatio(seq / ours)} (\`apply\`) and ` +
          `${fmtRatio(seq / starmap)} (\`starmap\`), raw worker_threads ${fmtRatio(seq / raw)}, ideal ${SIZE}×. Other ` +
          `processes used ${pct(loads["s4"])} of the machine's CPU time during this scenario; whatever they take ` +
          `comes out of every pool's speedup alike, so compare the pools with each other (the ratio column) rather ` +
          `than with ${SIZE}×.`
      )
    }
  }
  {
    const [copy, transfer, rawCopy, raw1Copy] = [
      get("s5-copy", "ours"),
      get("s5-transfer", "ours"),
      get("s5-copy", "raw"),
      get("s5-copy", "raw1")
    ]
    if (known(copy, transfer, rawCopy, raw1Copy)) {
      out.push(
        `**Scenario 5.** Ours moved ${fmt(transfer)} GB/s with transfers and ${fmt(copy)} GB/s with copies ` +
          `(${fmtRatio(transfer / copy)}); the spread between runs was ${fmtRatio(spreadOf("s5-transfer", "ours"))} ` +
          `with transfers. On the copy path, raw pipelined \`postMessage\` reached ${fmt(rawCopy)} GB/s and raw with ` +
          `one array in flight per thread ${fmt(raw1Copy)} GB/s${
            copy < rawCopy / 1.2 && near(copy, raw1Copy)
              ? `: ours is close to the latter, which does not overlap sending one array with the work on the previous one`
              : ""
          }.`
      )
    }
  }
  {
    const [ours, raw, rawCached, bare, bareEffect, bareTasks] = [
      get("s6-startup", "ours"),
      get("s6-startup", "raw"),
      get("s6-startup", "raw-cc"),
      get("s6-startup", "bare"),
      get("s6-startup", "bare-effect"),
      get("s6-startup", "bare-tasks")
    ]
    if (known(ours, raw, rawCached, bareEffect, bareTasks)) {
      out.push(
        `**Scenario 6.** From nothing to the first result: ours ${fmt(ours)} ms, raw ${fmt(raw)} ms, raw with ` +
          `Node's compile cache ${fmt(rawCached)} ms; ${SIZE} bare worker threads answer in ${fmt(bare)} ms, ${SIZE} ` +
          `that import effect in ${fmt(bareEffect)} ms, and ${SIZE} that import our task module through the real ` +
          `package index (effect and the whole pool) in ${fmt(bareTasks)} ms. Our workers load neither: in a worker the ` +
          `package index is a light one (\`Task\`, the rest on first use), the worker entry speaks effect's worker ` +
          `protocol without effect, and effect is loaded only when a task returns an Effect or its module declares a ` +
          `layer. Our workers also start with Node's compile cache on, which spares them compiling and type-stripping ` +
          `the \`.ts\` files that the raw worker compiles afresh: the raw row with the cache is the like-for-like ` +
          `reference for that part (ours takes ${fmtRatio(ours / rawCached)} its time).`
      )
    }
    const [mem, memBare, memEffect] = [get("s6-memory", "ours"), get("s6-memory", "bare"), get("s6-memory", "bare-effect")]
    if (known(mem, memBare, memEffect)) {
      out.push(
        `Memory: ${fmt(mem)} MiB per worker for ours, ${fmt(memEffect)} MiB for a bare worker thread that imports ` +
          `effect (its whole barrel), ${fmt(memBare)} MiB for an empty one.`
      )
    }
  }
  return out
}

// ---------------------------------------------------------------------------
// The machine, the docs, the chart
// ---------------------------------------------------------------------------

const packageVersion = (name: string): string => {
  try {
    const file = Url.fileURLToPath(new URL(`../node_modules/${name}/package.json`, import.meta.url))
    return JSON.parse(Fs.readFileSync(file, "utf8")).version
  } catch {
    return "?"
  }
}

/** The commit measured, and whether `src/` had uncommitted changes. */
const revision = (): string => {
  const git = (...args: Array<string>) =>
    ChildProcess.spawnSync("git", args, { encoding: "utf8", cwd: Url.fileURLToPath(new URL("..", import.meta.url)) })
  const head = git("rev-parse", "--short", "HEAD")
  if (head.status !== 0) return "unknown (not a git checkout)"
  const dirty = git("status", "--porcelain", "--", "src").stdout.trim() !== ""
  return `${head.stdout.trim()}${dirty ? " with uncommitted changes in src/" : ""}`
}

const machine = (py: Python.Python | undefined) => {
  const cpus = Os.cpus()
  return {
    revision: revision(),
    date: new Date().toISOString().slice(0, 10),
    cpu: `${cpus[0]?.model ?? "?"} (${cpus.length} logical CPUs, os.availableParallelism() = ${SIZE})`,
    memory: `${Math.round(Os.totalmem() / 1024 ** 3)} GiB`,
    os: `${Os.type()} ${Os.release()} (${Os.arch()})`,
    node: process.version,
    python: py ? `${py.version}` : Python.probe() ?? "not found (Python rows skipped)",
    packages: ["effect", "@effect/platform-node", "piscina", "poolifier", "tinypool", "workerpool"].map((p) =>
      `${p}@${packageVersion(p)}`
    )
  }
}

/** A short label for the chart. */
const shortLabel = (label: string) =>
  label.replace(`${oursLabel}: `, "ours: ").replace(/^Python [\d.]+ multiprocessing\.Pool: /, "Python Pool: ")

const chart = (load: number | undefined): string => {
  const s1 = tables.find((t) => t.id === "s1")
  const s4 = tables.find((t) => t.id === "s4")
  const panels: Array<R.Panel> = []
  if (s1) {
    panels.push({
      title: `Scenario 1: tiny tasks submitted at once (tasks/s, higher is better)`,
      unit: "tasks/s",
      bars: s1.rows.map((s) => ({ label: shortLabel(s.label), value: R.med(s), ours: s.key.startsWith("ours") }))
    })
  }
  if (s4) {
    const seqJs = R.med(s4.rows.find((s) => s.key === "seq"))
    const seqPy = R.med(s4.rows.find((s) => s.key === "py-sequential"))
    panels.push({
      title: `Scenario 4: CPU-bound speedup over sequential (higher is better)`,
      unit: "×",
      bars: s4.rows
        .filter((s) => s.key !== "seq" && s.key !== "py-sequential")
        .map((s) => ({
          label: shortLabel(s.label),
          value: (s.key.startsWith("py-") ? seqPy : seqJs) / R.med(s),
          ours: s.key.startsWith("ours")
        })),
      format: fmtRatio,
      line: { value: SIZE, label: `${SIZE} cores` }
    })
  }
  const cpu = Os.cpus()[0]?.model ?? "?"
  return R.toSvg(
    panels,
    `effect-multiprocessing vs peers, ${SIZE} workers, Node.js ${process.version}`,
    `${cpu}, ${new Date().toISOString().slice(0, 10)}${
      load === undefined ? "" : `; other processes used ${Math.round(load * 100)}% of the CPU time during the run`
    }. Details: benchmarks.md`
  )
}

const markdown = (
  m: ReturnType<typeof machine>,
  targets: ReadonlyArray<Target>,
  seconds: number,
  load: number | undefined
): string => {
  const section = (id: string) => {
    const t = tables.find((t) => t.id === id)
    return t ? `**${t.title}**\n\n${R.toMarkdown(t)}` : `_Not measured in this run._`
  }
  const mark = (met: boolean | undefined) => (met === undefined ? "not measured" : met ? "**met**" : "**not met**")
  return `# Benchmarks

Generated by \`npm run bench\` (\`bench/run.ts\`) on ${m.date}; the whole run took ${Math.round(seconds / 60)} min.
Do not edit by hand: rerun the benchmark.

![bar charts: scenario 1 tasks per second and scenario 4 speedups, per pool](./benchmarks.svg)

## The machine

| | |
|---|---|
| CPU | ${m.cpu} |
| memory | ${m.memory} |
| OS | ${m.os} |
| Node.js | ${m.node} |
| Python | ${m.python} |
| packages | ${m.packages.join(", ")} |
| effect-multiprocessing | commit ${m.revision} |

Pool size everywhere: \`os.availableParallelism()\` = ${SIZE}. ${
    load === undefined
      ? ""
      : `**Other processes used ${
        Math.round(load * 100)
      }% of the machine's CPU time during this run** (measured from /proc; each table gives its own share). `
  }Shared virtual cores are noisy: compare the ratios measured in the same run, not absolute numbers across machines
or runs.

## How to read the tables

- Each number is the **median** of ${config.reps} measured runs (memory: ${config.memoryReps}), after one warm-up run;
  "runs: min–max" shows the spread.
- **Ratios compare ours to each peer, oriented so that > 1 means ours is ahead**: for throughput (tasks/s, GB/s)
  the ratio is ours ÷ peer, for times (ms, µs, MiB) it is peer ÷ ours.
- Every result is checked after each run (outside the timing); a pool that returned a wrong result would show "failed".
- A run during which other processes used more than ${LOADED * 100}% of the machine's CPU time is thrown away and run
  again (at most ${MAX_REPEATS} times, within a retry budget of ${config.retryBudgetMs / 1000} s for the whole run); rows
  marked † kept some runs taken under such load.

## Targets of issue 5

| scenario | target | measured | |
|---|---|---|---|
${targets.map((t) => `| ${t.scenario} | ${t.target} | ${t.measured} | ${mark(t.met)} |`).join("\n")}

## What the numbers say

${findings().join("\n\n")}

## Scenario 1: tiny tasks, burst

Submit ${config.burst.toLocaleString("en-US")} \`add(i, 1)\` at once and wait for all. Ours: \`Effect.forEach\` over
\`pool.apply\` with \`{ concurrency: "unbounded" }\`, and \`applyAsync\` for each then \`get\` each. Promise pools: one
\`run\` / \`execute\` / \`exec\` per task, \`Promise.all\`. Raw: one \`postMessage\` per task each way, either all at once
round robin ("pipelined") or with at most one task in flight per thread.

${section("s1")}

## Scenario 2: tiny tasks, one at a time

Each call awaited before the next is sent: the round-trip latency of one tiny task.

${section("s2")}

## Scenario 3: the seed

The seed's \`how_many_within_range(row, 4, 8)\` over rows of 5 random integers in [0, 10) (mulberry32, seed 100; the
first 20,000 rows are those of \`examples/seed.ts\`). Python reads the very same rows from a file the benchmark writes.
\`starmap\` tuples are built before the timing, in both languages. \`imap\` uses a chunksize of
${config.imapChunksize.toLocaleString("en-US")} (the default of 1 is shown on the small input too).

${section("s3-seed")}

${section("s3-large")}

## Scenario 4: CPU-bound

${config.cpuTasks} tasks of a pure integer hash chain (\`bench/work.ts\` \`cpu\`), all submitted at once.

${section("s4")}

## Scenario 5: large payloads

Ours: \`apply(task, [array])\` returning the array (copied both ways), and
\`apply(task, [array], { transfer: [array.buffer] })\` returning \`Task.transfer(array, [array.buffer])\` (moved both
ways). Peers: their own transfer mechanisms (\`transferList\` and \`Piscina.move\` / \`Tinypool.move\`,
\`workerpool.Transfer\`, a \`Transferable.schema\` for effect RPC, \`postMessage(value, [buffer])\`).

${section("s5-copy")}

${section("s5-transfer")}

## Scenario 6: start-up and memory

Start-up: from nothing to the first result of a new pool (workers spawned, worker code loaded, one \`add\`), closed
afterwards outside the timing. Each new worker thread loads its modules afresh: effect's RPC pool imports effect in
every worker; ours does not for a task module of plain functions (it loads effect when a task returns an Effect or a
module declares a layer), and its workers start with Node's on-disk compile cache on, so the benchmark runs (all
from \`.ts\` sources) give it the compiled and type-stripped modules of an earlier run; the raw row with the compile
cache gets the same.

${section("s6-startup")}

${section("s6-memory")}

## Peers and settings

- **piscina**: \`minThreads = maxThreads = ${SIZE}\`; default settings, and \`concurrentTasksPerWorker: 64\` (its best
  setting for tiny tasks). Named exports of \`bench/peers/piscina-worker.ts\` run with \`run(data, { name })\`.
- **poolifier**: \`FixedThreadPool(${SIZE}, …)\`, default options; a \`ThreadWorker\` with one task function per task.
  Its \`destroy()\` sometimes never settles (its worker answers the kill message and closes its port at once); the
  harness stops waiting after 2 s${C.poolifierDestroyHangs > 0 ? ` (it happened ${C.poolifierDestroyHangs} times in this run)` : ""}.
- **tinypool**: \`minThreads = maxThreads = ${SIZE}\`, default options, named exports.
- **workerpool**: \`workerType: "thread"\`, \`minWorkers = maxWorkers = ${SIZE}\`, \`exec(name, [data])\`.
- **effect RPC worker pool**: \`RpcClient.layerProtocolWorker({ size: ${SIZE} })\` (default concurrency: one request in
  flight per worker) with \`NodeWorker.layer\`, and an \`RpcServer\` over \`NodeWorkerRunner\` in the worker
  (\`bench/peers/effect-rpc-worker.ts\`). Its graceful close waits NodeWorker's fixed 5 s, so the harness terminates its
  threads before closing its scope (outside any timing).
- **raw worker_threads**: \`bench/peers/raw-worker.ts\`, one \`postMessage\` per task each way, no pool logic.
- **Python**: \`bench/python/pool_bench.py\`, stdlib only, a long-lived \`python3\` process driven over stdin/stdout so
  that its runs interleave with the others; its times are taken inside Python (\`time.perf_counter\`), so the pipe to
  Node.js is not counted against it.

## How to reproduce

\`\`\`sh
npm install
npm run bench                  # the full run: prints every table, rewrites docs/benchmarks.md and docs/benchmarks.svg
BENCH_QUICK=1 npm run bench    # a smoke run in about a minute: fewer repetitions and smaller inputs, prints only
BENCH_ONLY=1,4 npm run bench   # only some scenarios (prints only; BENCH_WRITE=1 writes the docs anyway)
\`\`\`

Python's rows need \`python3\` on the PATH (no packages); without it they are skipped with a note.
`
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

const main = async () => {
  const began = performance.now()
  const overall = Load.watch()
  const py = await Python.start(SIZE).catch((error) => {
    log(`python3 did not start (${describe(error)}): Python rows skipped`)
    return undefined
  })
  const m = machine(py)
  log(`effect-multiprocessing benchmark${QUICK ? " (BENCH_QUICK: smoke run)" : ""}`)
  log(`${m.cpu}; Node.js ${m.node}; Python ${m.python}; pool size ${SIZE}`)
  if (!py) log(`python3 not found: Python rows are skipped`)
  const scenarios: Array<[number, () => Promise<void>]> = [
    [1, () => scenario1(py)],
    [2, () => scenario2(py)],
    [3, () => scenario3(py)],
    [4, () => scenario4(py)],
    [5, () => scenario5()],
    [6, () => scenario6(py)]
  ]
  for (const [n, run] of scenarios) {
    if (ONLY && !ONLY.includes(n)) continue
    scenarioLoad = Load.watch()
    const t = performance.now()
    await run()
    log(`  (scenario ${n}: ${Math.round((performance.now() - t) / 1000)} s)`)
  }
  const overallLoad = overall.stop()
  await py?.close()
  const seconds = (performance.now() - began) / 1000
  const targets = evaluateTargets()
  console.log(`\nTargets of issue 5 (ratios measured in this run)`)
  for (const t of targets) {
    console.log(`  [${t.met === undefined ? "?" : t.met ? "met" : "NOT MET"}] scenario ${t.scenario}: ${t.target}: ${t.measured}`)
  }
  console.log(`\nMachine: ${m.cpu}, ${m.memory}, ${m.os}; Node.js ${m.node}; Python ${m.python}`)
  console.log(`Packages: ${m.packages.join(", ")}; effect-multiprocessing at commit ${m.revision}`)
  console.log(`Total time: ${Math.round(seconds)} s`)
  if (overallLoad !== undefined) {
    console.log(`Other processes used ${Math.round(overallLoad * 100)}% of the machine's CPU time during the run`)
  }
  if (WRITE) {
    const docs = Url.fileURLToPath(new URL("../docs/", import.meta.url))
    Fs.writeFileSync(`${docs}benchmarks.md`, markdown(m, targets, seconds, overallLoad))
    Fs.writeFileSync(`${docs}benchmarks.svg`, chart(overallLoad))
    console.log(`Wrote docs/benchmarks.md and docs/benchmarks.svg`)
  } else {
    console.log(`(quick or partial run: docs not written; BENCH_WRITE=1 to write them anyway)`)
  }
  // a pool that failed to close (see poolifier above) must not keep the process alive
  await sleep(100)
  process.exit(0)
}

await main()
