/**
 * The run's results: every table emitted so far (printed as it comes), the
 * share of the machine other processes used during each scenario, and
 * lookups for the targets, the findings and the docs.
 */
import { LOADED } from "./interleave.ts"
import * as Load from "./load.ts"
import * as R from "./report.ts"
import { pairedRatios, summarize, type Summary } from "./stats.ts"

export const tables: Array<R.Table> = []
/** Other processes' share of the machine's CPU time during each table's scenario, by table id. */
export const loads: Record<string, number | undefined> = {}
/** Other processes' share of the machine's CPU time since the current scenario began. */
let scenarioLoad = Load.watch()

/** Starts the load window of a new scenario. */
export const beginScenario = () => {
  scenarioLoad = Load.watch()
}

const loadNote = (share: number | undefined) =>
  share === undefined
    ? []
    : [`Other processes used ${Math.round(share * 100)}% of the machine's CPU time during this scenario.`]

const repeatNote = (table: R.Table) => {
  const repeated = table.rows.reduce((n, r) => n + (r.repeated ?? 0), 0)
  const loaded = table.rows.reduce((n, r) => n + (r.loaded ?? 0), 0)
  return repeated + loaded === 0 ? [] : [
    `${repeated} run${repeated === 1 ? " was" : "s were"} repeated because other processes used more than ${
      LOADED * 100
    }% of the CPU during them${
      loaded === 0 ? "" : `; ${loaded} kept run${loaded === 1 ? "" : "s"} still had such load (rows marked †)`
    }.`
  ]
}

/** Records a table, with the load of its scenario so far, and prints it. */
export const emit = (table: R.Table) => {
  const share = scenarioLoad.stop()
  loads[table.id] = share
  const withLoad = { ...table, notes: [...(table.notes ?? []), ...loadNote(share), ...repeatNote(table)] }
  tables.push(withLoad)
  console.log("\n" + R.toText(withLoad))
}

/** Lookups over a list of tables (this run's, or synthetic ones in a test). */
export interface Lookup {
  readonly table: (id: string) => R.Table | undefined
  readonly row: (id: string, key: string) => R.Series | undefined
  /** The median of one row of one table (NaN when absent or failed). */
  readonly get: (id: string, key: string) => number
  /** The paired ratios of row `ours` to row `other` of a table, oriented as its ratio column (> 1: ours ahead). */
  readonly paired: (id: string, ours: string, other: string) => Summary
  /** Row `num` ÷ row `den` of a table, repetition by repetition (a plain quotient, not oriented). */
  readonly quotients: (id: string, num: string, den: string) => Summary
  /** Fastest ÷ slowest run of one row. */
  readonly spreadOf: (id: string, key: string) => number
}

export const lookup = (from: ReadonlyArray<R.Table>): Lookup => {
  const table = (id: string) => from.find((t) => t.id === id)
  const row = (id: string, key: string) => table(id)?.rows.find((r) => r.key === key)
  return {
    table,
    row,
    get: (id, key) => R.med(row(id, key)),
    paired: (id, ours, other) => {
      const t = table(id)
      return summarize(t === undefined ? [] : R.pairedOf(t, row(id, ours), row(id, other)))
    },
    quotients: (id, num, den) => {
      const [a, b] = [row(id, num), row(id, den)]
      const usable = a !== undefined && b !== undefined && a.error === undefined && b.error === undefined
      return summarize(usable ? pairedRatios(a, b) : [])
    },
    spreadOf: (id, key) => {
      const samples = row(id, key)?.samples ?? []
      return Math.max(...samples) / Math.min(...samples)
    }
  }
}

/** The lookups over this run's tables. */
export const { get, paired, quotients, row, spreadOf, table } = lookup(tables)
export const known = (...xs: Array<number>) => xs.every(Number.isFinite)
