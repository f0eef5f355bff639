/**
 * Results and their tables: plain text for the terminal, Markdown for the
 * docs, with the medians, the spread, the ratio of medians and the paired
 * ratios of ours to each contender.
 */
import { fmt, fmtRatio, fmtSummary, median, pairedRatios, summarize } from "./stats.ts"

/** The measurements of one contender in one scenario. */
export interface Series {
  readonly key: string
  readonly label: string
  /** The metric of each measured run (not the warm-up). */
  readonly samples: Array<number>
  /** The repetition each sample was measured in (for paired ratios); absent for samples taken apart. */
  readonly rounds?: Array<number> | undefined
  readonly note?: string | undefined
  error?: string | undefined
  /** Runs thrown away and repeated because other processes loaded the machine. */
  repeated?: number
  /** Kept runs that other processes loaded anyway (the retry budget ran out). */
  loaded?: number
}

/** One table: a metric over contenders, with the ratio of ours to each. */
export interface Table {
  readonly id: string
  readonly title: string
  readonly unit: string
  /** `higher`: throughput-like, the ratio is ours ÷ peer; `lower`: time-like, the ratio is peer ÷ ours. */
  readonly better: "higher" | "lower"
  /** The key of our series, the numerator of the ratios. */
  readonly reference: string
  readonly rows: ReadonlyArray<Series>
  readonly notes?: ReadonlyArray<string>
  /** Extra columns computed from a series' median (e.g. speedup over sequential). */
  readonly extra?: { readonly header: string; readonly value: (series: Series) => string } | undefined
  /**
   * The scenario's key comparisons: each of our rows against the strongest
   * baseline, reported with their paired ratios under the table.
   */
  readonly pairs?: ReadonlyArray<Pair> | undefined
}

/** A key comparison: one of our rows (`ours`) against a baseline row. */
export interface Pair {
  readonly ours: string
  readonly baseline: string
}

export const med = (series: Series | undefined): number =>
  series === undefined || series.error !== undefined ? NaN : median(series.samples)

/** How many times better ours is than `series` (> 1: ours is better). */
export const ratioOf = (table: Table, series: Series): number => {
  const ref = med(table.rows.find((r) => r.key === table.reference))
  const value = med(series)
  return table.better === "higher" ? ref / value : value / ref
}

/**
 * The paired ratios of `ours` to `other`, oriented as the ratio column (> 1:
 * ours is better), one per repetition in which both ran.
 */
export const pairedOf = (table: Table, ours: Series | undefined, other: Series | undefined): Array<number> => {
  if (ours === undefined || other === undefined || ours.error !== undefined || other.error !== undefined) return []
  return table.better === "higher" ? pairedRatios(ours, other) : pairedRatios(other, ours)
}

const spread = (series: Series) => {
  if (series.error !== undefined || series.samples.length === 0) return "–"
  return `${fmt(Math.min(...series.samples))}–${fmt(Math.max(...series.samples))}`
}

interface Cells {
  readonly header: ReadonlyArray<string>
  readonly rows: ReadonlyArray<ReadonlyArray<string>>
}

const cells = (table: Table): Cells => {
  const ratioHeader = table.better === "higher" ? "ours ÷ this" : "this ÷ ours"
  const header = [
    "pool",
    `median (${table.unit})`,
    "runs: min–max",
    ...(table.extra ? [table.extra.header] : []),
    ratioHeader,
    "paired: median (min–max)"
  ]
  const reference = table.rows.find((r) => r.key === table.reference)
  const rows = table.rows.map((series) => {
    const isRef = series.key === table.reference
    const failed = series.error !== undefined
    return [
      series.label + (series.note ? ` ¹` : "") + ((series.loaded ?? 0) > 0 ? " †" : ""),
      failed ? `failed` : fmt(med(series)),
      spread(series),
      ...(table.extra ? [failed ? "–" : table.extra.value(series)] : []),
      isRef ? "(ours)" : failed ? "–" : fmtRatio(ratioOf(table, series)),
      isRef ? "" : fmtSummary(summarize(pairedOf(table, reference, series)))
    ]
  })
  return { header, rows }
}

const footnotes = (table: Table): Array<string> => {
  const out: Array<string> = []
  for (const series of table.rows) {
    if (series.note) out.push(`${series.label}: ${series.note}`)
    if (series.error) out.push(`${series.label} failed: ${series.error}`)
  }
  return out
}

/** The name of one of our rows without the package's name ("effect-multiprocessing: map" → "map"). */
const short = (label: string) => label.replace(/^effect-multiprocessing: /, "")

/**
 * The key comparisons, one line each: the paired ratio (median, min–max)
 * next to the ratio of medians. Empty when the table names none.
 */
const keyComparisons = (table: Table): Array<string> => {
  const lines = (table.pairs ?? []).flatMap((pair) => {
    const ours = table.rows.find((r) => r.key === pair.ours)
    const baseline = table.rows.find((r) => r.key === pair.baseline)
    if (ours === undefined || baseline === undefined) return []
    const s = summarize(pairedOf(table, ours, baseline))
    const ofMedians = table.better === "higher" ? med(ours) / med(baseline) : med(baseline) / med(ours)
    return [`${short(ours.label)} vs ${baseline.label}: ${fmtSummary(s)}; ratio of medians ${fmtRatio(ofMedians)}`]
  })
  if (lines.length === 0) return []
  const rounds = Math.max(0, ...table.rows.map((r) => r.rounds?.length ?? 0))
  return [
    `Key comparisons, paired run by run (each run of ours against the other's run in the same repetition; median ` +
    `(min–max) over ${rounds} repetition${rounds === 1 ? "" : "s"}; > 1 means ours is ahead):`,
    ...lines.map((line) => `- ${line}`)
  ]
}

/** A table for the terminal. */
export const toText = (table: Table): string => {
  const { header, rows } = cells(table)
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (r: ReadonlyArray<string>) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ")
  const ratioNote = table.better === "higher"
    ? "ratio = ours ÷ this (higher is better; > 1 means ours is ahead)"
    : "ratio = this ÷ ours (lower is better; > 1 means ours is ahead)"
  return [
    `${table.title}`,
    line(header),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...rows.map(line),
    `  ${ratioNote}`,
    ...footnotes(table).map((f) => `  ¹ ${f}`),
    ...keyComparisons(table).map((p) => `  ${p}`),
    ...(table.notes ?? []).map((n) => `  ${n}`)
  ].join("\n")
}

/** A table for the docs. */
export const toMarkdown = (table: Table): string => {
  const { header, rows } = cells(table)
  const esc = (s: string) => s.replace(/\|/g, "\\|")
  return [
    `| ${header.map(esc).join(" | ")} |`,
    `|${header.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
    ...rows.map((r) => `| ${r.map(esc).join(" | ")} |`),
    "",
    ...footnotes(table).map((f) => `¹ ${f}  `),
    ...(footnotes(table).length ? [""] : []),
    ...keyComparisons(table).map((p) => (p.startsWith("- ") ? p : `${p}  `)),
    ...(keyComparisons(table).length ? [""] : []),
    ...(table.notes ?? []).map((n) => `${n}  `)
  ].join("\n")
}
