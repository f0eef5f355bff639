/**
 * Scenario 3: the seed's how_many_within_range over 20,000 and 2,000,000 rows
 * from plain arrays, against the loop, raw pipelined `postMessage` with the
 * same chunks, and Python's pool over the very same rows.
 */
import * as Fs from "node:fs"
import { config, log, SIZE, thousands } from "../lib/config.ts"
import * as C from "../lib/contenders.ts"
import * as Data from "../lib/data.ts"
import { type Entry, interleave } from "../lib/interleave.ts"
import { assert, expectArray, guarded, type Started, startAll } from "../lib/pools.ts"
import * as Python from "../lib/python.ts"
import * as R from "../lib/report.ts"
import { emit } from "../lib/results.ts"
import type { Scenario } from "../lib/scenario.ts"
import { fmtRatio } from "../lib/stats.ts"
import * as Work from "../work.ts"

const title = "the seed"

/** raw with one chunk in flight per thread shows what pipelining chunks is worth */
const peerKinds = C.peers.filter((k) => k.id !== "piscina64")

/** The Node.js rows: the loop, ours (map, starmap, imap) and every peer with the default chunks. */
const nodeEntries = (
  pools: Started<C.Contender>,
  rows: Array<Array<number>>,
  expected: ReadonlyArray<number>,
  small: boolean
): Array<Entry> => {
  const tuples = rows.map((row) => [row, 4, 8] as const)
  const check = expectArray(expected)
  const chunksize = Data.defaultChunksize(rows.length, SIZE)
  const ms = (ms: number) => ms
  const oursEntry = (key: string, label: string, run: (pool: C.Ours) => Promise<Array<number>>) =>
    guarded<C.Ours>(pools as any, "ours", (pool) => ({ key, label, run: () => run(pool), check, metric: ms }))(label)
  return [
    {
      key: "seq",
      label: "sequential (main thread, for loop)",
      run: async () => rows.map(Work.howManyWithinRangeRow),
      check,
      metric: ms
    },
    oursEntry("ours", `${C.ours.label}: map (default chunksize ${thousands(chunksize)})`, (p) => p.map(rows)),
    oursEntry("oursStarmap", `${C.ours.label}: starmap (default chunksize)`, (p) => p.starmap(tuples)),
    oursEntry(
      "oursImap",
      `${C.ours.label}: imap (chunksize ${thousands(config.imapChunksize)}), collected`,
      (p) => p.imap(rows, config.imapChunksize)
    ),
    ...(small
      ? [oursEntry("oursImap1", `${C.ours.label}: imap (default chunksize 1), collected`, (p) => p.imap(rows, 1))]
      : []),
    ...peerKinds.map((kind) =>
      guarded<C.Contender>(pools, kind.id, (pool) => ({
        key: kind.id,
        label: `${kind.label}: chunks of ${thousands(chunksize)} rows`,
        run: () => pool.rows(rows, chunksize),
        check,
        metric: ms
      }))(kind.label)
    )
  ]
}

/** Python's rows over data it has loaded as `name`, checked by count and checksum. */
const pythonEntries = (py: Python.Python, name: string, expected: ReadonlyArray<number>, small: boolean) => {
  const expectedChecksum = expected.reduce((a, b) => a + b, 0)
  const pyEntry = (method: string, label: string, chunk?: number): Entry => ({
    key: `py-${method}${chunk === 1 ? "1" : ""}`,
    label: `${Python.label(py)}: ${label}`,
    run: () => py.request({ op: "seed", data: name, method, chunksize: chunk }),
    check: (out: Record<string, any>) => {
      assert(out.length === expected.length, `python: ${out.length} results`)
      assert(out.checksum === expectedChecksum, `python checksum ${out.checksum}`)
    },
    metric: (_: number, out: Record<string, any>) => out.seconds * 1000
  })
  return [
    pyEntry("sequential", "sequential (for loop)"),
    pyEntry("map", "map (default chunksize)"),
    pyEntry("starmap", "starmap (default chunksize)"),
    pyEntry("imap", `imap (chunksize ${thousands(config.imapChunksize)})`, config.imapChunksize),
    ...(small ? [pyEntry("imap", "imap (default chunksize 1)", 1)] : [])
  ]
}

const emitTable = (name: string, rowCount: number, series: Array<R.Series>) => {
  const seqJs = R.med(series.find((s) => s.key === "seq"))
  const seqPy = R.med(series.find((s) => s.key === "py-sequential"))
  const chunksize = Data.defaultChunksize(rowCount, SIZE)
  emit({
    id: `s3-${name}`,
    title: `Scenario 3: how_many_within_range(row, 4, 8) over ${thousands(rowCount)} rows × 5 ints, pool size ${SIZE}`,
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
    // the strongest baseline: raw pipelined postMessage with the same chunks; and the loop and Python's map
    pairs: [
      { ours: "ours", baseline: "raw" },
      { ours: "oursStarmap", baseline: "raw" },
      { ours: "oursImap", baseline: "raw" },
      { ours: "ours", baseline: "seq" },
      { ours: "ours", baseline: "py-map" }
    ],
    notes: [
      `Speedup over sequential: Node.js rows against the Node.js for loop, Python rows against the Python for loop.`,
      `Pools without \`map\` get the rows in chunks of \`ceil(n / (4 × size))\` = ${
        thousands(chunksize)
      }, one task per chunk (what \`map\` does by default).`
    ]
  })
}

const run = async (py: Python.Python | undefined) => {
  log(`\nScenario 3: ${title}`)
  const packed = Data.packedRows(config.largeRows)
  const file = py ? Data.writeRowsFile(packed, "rows.bin") : undefined
  const pools = await startAll<C.Kind<any>>([C.ours, ...peerKinds])
  for (const rowCount of [config.seedRows, config.largeRows]) {
    const name = rowCount === config.seedRows ? "seed" : "large"
    log(`  ${thousands(rowCount)} rows`)
    const rows = Data.unpackRows(packed, rowCount)
    const small = rowCount === config.seedRows
    const expected = rows.map(Work.howManyWithinRangeRow)
    const entries = nodeEntries(pools, rows, expected, small)
    if (py && file) {
      await py.request({ op: "load", name, path: file, rows: rowCount })
      entries.push(...pythonEntries(py, name, expected, small))
    }
    // the large input runs on pools the small one has just warmed up
    const series = small
      ? await interleave(`scenario 3 (${rowCount} rows)`, entries)
      : await interleave(`scenario 3 (${rowCount} rows)`, entries, config.largeReps, 0)
    emitTable(name, rowCount, series)
  }
  await pools.closeAll()
  if (py) await py.request({ op: "unload" })
  if (file) Fs.rmSync(file, { force: true })
}

export const seed: Scenario = {
  number: 3,
  name: "seed",
  title,
  tables: ["s3-seed", "s3-large"],
  method: () =>
    `The seed's \`how_many_within_range(row, 4, 8)\` over rows of 5 random integers in [0, 10) (mulberry32, seed 100; the
first 20,000 rows are those of \`examples/seed.ts\`). Python reads the very same rows from a file the benchmark writes.
\`starmap\` tuples are built before the timing, in both languages. \`imap\` uses a chunksize of
${thousands(config.imapChunksize)} (the default of 1 is shown on the small input too). The strongest baseline is raw
pipelined \`postMessage\` with the same chunks.`,
  run
}
