/** What every scenario module exports: how to run it, and its section of the docs. */
import type * as Python from "./python.ts"

export interface Scenario {
  /** Its number in the tables and the docs (BENCH_ONLY=1,3 selects by number). */
  readonly number: number
  /** Its file name in bench/scenarios/ (BENCH_ONLY=burst,round-trip selects by name). */
  readonly name: string
  /** "Scenario <number>: <title>" heads its progress log and its section of the docs. */
  readonly title: string
  /** The ids of the tables it emits, in order. */
  readonly tables: ReadonlyArray<string>
  /** The docs' prose before its tables: what is measured, and how. */
  readonly method: () => string
  readonly run: (py: Python.Python | undefined) => Promise<void>
}
