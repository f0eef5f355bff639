/**
 * Scenario 7: the seed's how_many_within_range over 20,000 and 2,000,000 rows
 * that live in shared memory (`Shared.map`), against the sequential loop over
 * the same typed array, Python's `Pool.map` over the same rows as lists, and
 * Python's own answer: `multiprocessing.shared_memory` + NumPy (pool of
 * workers counting their ranges in place, and NumPy vectorized in one
 * process). The NumPy rows are skipped, with a note, where NumPy is absent.
 */
import { Effect, Exit, Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Url from "node:url"
import { countWithinRange, tasks } from "../../examples/shared-memory-tasks.ts"
import { Shared, WorkerPool } from "../../src/index.ts"
import { config, log, SIZE, thousands } from "../lib/config.ts"
import * as Data from "../lib/data.ts"
import { type Entry, interleave } from "../lib/interleave.ts"
import { assert } from "../lib/pools.ts"
import * as Python from "../lib/python.ts"
import * as R from "../lib/report.ts"
import { emit } from "../lib/results.ts"
import type { Scenario } from "../lib/scenario.ts"
import { fmtRatio, fmtSummary, summarize } from "../lib/stats.ts"

const title = "the seed in shared memory"

// -- Python with shared_memory + NumPy (bench/python/shared_bench.py) ---------------------------

const script = Url.fileURLToPath(new URL("../python/shared_bench.py", import.meta.url))

/** Why the NumPy rows cannot run here, or `undefined` when they can. */
const numpyMissing = (): string | undefined => {
  const probe = ChildProcess.spawnSync("python3", ["-c", "import numpy"], { encoding: "utf8" })
  if (probe.error) return `python3 did not run (${probe.error.message})`
  return probe.status === 0 ? undefined : "NumPy is not installed for python3 (`python3 -c \"import numpy\"` fails)"
}

/** The helper, spoken to as bench/lib/python.ts speaks to pool_bench.py. */
const startNumpy = async (size: number) => {
  const { close, init, request } = await Python.helper(script, size)
  return { numpy: String(init.numpy), request, close }
}

// -- the rows -----------------------------------------------------------------------------------------

/** Our pool, its scope, and a runner of Effects. */
const startPool = async (backend: "threads" | "processes") => {
  const scope = await Effect.runPromise(Scope.make())
  const pool = await Effect.runPromise(Scope.provide(WorkerPool.make({ size: SIZE, backend }), scope))
  return { pool, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

/** The first `rows` packed rows as an Int32 shared array (outside the timing). */
const sharedRows = (packed: Uint8Array, rows: number) =>
  Effect.runSync(
    Effect.map(Shared.make("Int32", rows, 5), (array) => {
      array.data.set(packed.subarray(0, rows * 5))
      return array
    })
  )

const checkCounts = (expected: Int32Array, actual: ArrayLike<number>) => {
  assert(actual.length === expected.length, `${actual.length} results, expected ${expected.length}`)
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) assert(false, `row ${i} counts ${actual[i]}, expected ${expected[i]}`)
  }
}

const nodeEntries = (
  pools: { readonly threads: WorkerPool.Pool; readonly processes: WorkerPool.Pool },
  input: Shared.SharedArray<"Int32">,
  expected: Int32Array
): Array<Entry> => {
  const loopOut = new Int32Array(input.rows)
  const output = Effect.runSync(Shared.make("Int32", input.rows))
  const sharedMap = (pool: WorkerPool.Pool) => () =>
    Effect.runPromise(
      Effect.as(Shared.map(pool, tasks.countWithinRange, { input, output, args: [4, 8] }), output.data)
    )
  return [
    {
      key: "seq",
      label: "sequential (main thread, for loop over the Int32Array)",
      prepare: () => loopOut.fill(0),
      run: async () => {
        countWithinRange(input.data, input.rows, input.columns, loopOut, 4, 8)
        return loopOut
      },
      check: (out) => checkCounts(expected, out),
      metric: (ms) => ms
    },
    {
      key: "ours",
      label: "effect-multiprocessing: Shared.map, threads (default ranges)",
      prepare: () => output.data.fill(0),
      run: sharedMap(pools.threads),
      check: (out) => checkCounts(expected, out),
      metric: (ms) => ms
    },
    {
      key: "oursProcesses",
      label: "effect-multiprocessing: Shared.map, processes (copies each range in and its counts back)",
      prepare: () => output.data.fill(0),
      run: sharedMap(pools.processes),
      check: (out) => checkCounts(expected, out),
      metric: (ms) => ms
    }
  ]
}

const pythonEntry = (
  key: string,
  label: string,
  run: () => Promise<Record<string, any>>,
  expected: Int32Array
): Entry => {
  const checksum = expected.reduce((a, b) => a + b, 0)
  return {
    key,
    label,
    run,
    check: (out: Record<string, any>) => {
      assert(out.length === expected.length, `python: ${out.length} results`)
      assert(out.checksum === checksum, `python checksum ${out.checksum}, expected ${checksum}`)
    },
    metric: (_: number, out: Record<string, any>) => out.seconds * 1000
  }
}

/** "met" / "NOT MET", with the ratio and its paired spread, for the table's notes. */
const target = (what: string, series: Array<R.Series>, num: string, den: string, goal: number) => {
  const [a, b] = [series.find((s) => s.key === num), series.find((s) => s.key === den)]
  const ratio = R.med(b) / R.med(a)
  if (!Number.isFinite(ratio)) return `Target (issue 13): ${what}: not measured.`
  const paired = a && b && a.error === undefined && b.error === undefined
    ? summarize(b.rounds!.flatMap((round, i) => {
      const j = a.rounds!.indexOf(round)
      return j === -1 ? [] : [b.samples[i] / a.samples[j]]
    }))
    : undefined
  return `Target (issue 13): ${what}: ${ratio >= goal ? "met" : "NOT MET"}, ${fmtRatio(ratio)}${
    paired && paired.n > 0 ? ` (paired ${fmtSummary(paired)})` : ""
  }.`
}

const emitTable = (name: string, rowCount: number, series: Array<R.Series>, notes: Array<string>) => {
  const seq = R.med(series.find((s) => s.key === "seq"))
  emit({
    id: `s7-${name}`,
    title: `Scenario 7: how_many_within_range(row, 4, 8) over ${thousands(rowCount)} rows × 5 int32 in shared memory, pool size ${SIZE}`,
    unit: "ms",
    better: "lower",
    reference: "ours",
    rows: series,
    extra: {
      header: "speedup over the loop",
      value: (s) => s.key === "seq" ? "1" : fmtRatio(seq / R.med(s))
    },
    pairs: [
      { ours: "ours", baseline: "seq" },
      { ours: "ours", baseline: "py-map" },
      { ours: "ours", baseline: "py-shm" },
      { ours: "ours", baseline: "py-numpy" }
    ],
    notes: [
      rowCount === config.seedRows
        ? target("the shared-memory seed map ≥ 5× faster than Python's Pool.map", series, "ours", "py-map", 5)
        : target(
          `${thousands(rowCount)} rows in shared memory ≥ 1.7× the sequential loop on 2 cores`,
          series,
          "ours",
          "seq",
          1.7
        ),
      `Speedup over the loop: every row against the Node.js for loop over the same Int32Array (Python's rows too).`,
      ...notes
    ]
  })
}

const run = async (py: Python.Python | undefined) => {
  log(`\nScenario 7: ${title}`)
  const packed = Data.packedRows(config.largeRows)
  const file = py ? Data.writeRowsFile(packed, "rows.bin") : undefined
  const missing = py ? numpyMissing() : "python3 is not available"
  const numpy = missing === undefined ? await startNumpy(SIZE) : undefined
  const notes = missing === undefined
    ? [
      `Python shared_memory + NumPy (${numpy!.numpy}): the rows in a SharedMemory block as an int32 (rows, 5) ndarray, ` +
      `each worker of a multiprocessing.Pool attaching to it (once) and counting its range of rows with NumPy into a ` +
      `second block, with the same ranges as ours; "NumPy, one process" is the same count vectorized, without a pool.`
    ]
    : [`Python shared_memory + NumPy rows skipped: ${missing}.`]
  if (missing !== undefined) log(`  NumPy rows skipped: ${missing}`)
  const threads = await startPool("threads")
  const processes = await startPool("processes")
  try {
    for (const rowCount of [config.seedRows, config.largeRows]) {
      const name = rowCount === config.seedRows ? "seed" : "large"
      log(`  ${thousands(rowCount)} rows`)
      const input = sharedRows(packed, rowCount)
      const expected = new Int32Array(rowCount)
      countWithinRange(input.data, input.rows, input.columns, expected, 4, 8)
      const entries = nodeEntries({ threads: threads.pool, processes: processes.pool }, input, expected)
      if (py && file) {
        await py.request({ op: "load", name: `shared-${name}`, path: file, rows: rowCount })
        entries.push(pythonEntry(
          "py-map",
          `${Python.label(py)}: map over lists (default chunksize)`,
          () => py.request({ op: "seed", data: `shared-${name}`, method: "map" }),
          expected
        ))
      }
      if (numpy && file) {
        await numpy.request({ op: "load", path: file, rows: rowCount })
        entries.push(
          pythonEntry(
            "py-shm",
            `Python shared_memory + NumPy: Pool.map over ranges`,
            () => numpy.request({ op: "run", method: "pool" }),
            expected
          ),
          pythonEntry(
            "py-numpy",
            `Python NumPy, one process (vectorized)`,
            () => numpy.request({ op: "run", method: "numpy" }),
            expected
          )
        )
      }
      const small = rowCount === config.seedRows
      const series = small
        ? await interleave(`scenario 7 (${rowCount} rows)`, entries)
        : await interleave(`scenario 7 (${rowCount} rows)`, entries, config.largeReps)
      emitTable(name, rowCount, series, notes)
      if (py) await py.request({ op: "unload" })
    }
  } finally {
    await threads.close()
    await processes.close()
    await numpy?.close()
    if (file) Fs.rmSync(file, { force: true })
  }
}

export const sharedMap: Scenario = {
  number: 7,
  name: "shared-map",
  title,
  tables: ["s7-seed", "s7-large"],
  method: () =>
    `The seed's \`how_many_within_range(row, 4, 8)\` over the rows of scenario 3, held in shared memory: an \`Int32Array\`
over a \`SharedArrayBuffer\` (\`Shared.make\`, filled before the timing), counted by \`Shared.map\` over ranges of rows
(default: \`ceil(n / (4 × size))\` rows, at least 32,768 values a range), each range's task reading its rows and writing
its counts in place (examples/shared-memory-tasks.ts). The baseline is the sequential loop over the same typed array
(the same function, in the main thread). Python's \`Pool.map\` gets the rows as lists, as in scenario 3; Python's own
answer to this problem, \`multiprocessing.shared_memory\` + NumPy, gets them as an int32 ndarray in shared memory, with
the same ranges (bench/python/shared_bench.py), and "NumPy, one process" is the vectorized count without a pool. On
child processes, \`Shared.map\` copies each range to its worker and its counts back (no shared memory).`,
  run
}
