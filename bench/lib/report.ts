/**
 * Results, tables (plain text for the terminal, Markdown for the docs) and the
 * hand-written SVG chart.
 */
import { fmt, fmtRatio, median } from "./stats.ts"

/** The measurements of one contender in one scenario. */
export interface Series {
  readonly key: string
  readonly label: string
  /** The metric of each measured run (not the warm-up). */
  readonly samples: Array<number>
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
}

export const med = (series: Series | undefined): number =>
  series === undefined || series.error !== undefined ? NaN : median(series.samples)

/** How many times better ours is than `series` (> 1: ours is better). */
export const ratioOf = (table: Table, series: Series): number => {
  const ref = med(table.rows.find((r) => r.key === table.reference))
  const value = med(series)
  return table.better === "higher" ? ref / value : value / ref
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
  const header = ["pool", `median (${table.unit})`, "runs: min–max", ...(table.extra ? [table.extra.header] : []), ratioHeader]
  const rows = table.rows.map((series) => {
    const isRef = series.key === table.reference
    const failed = series.error !== undefined
    return [
      series.label + (series.note ? ` ¹` : "") + ((series.loaded ?? 0) > 0 ? " †" : ""),
      failed ? `failed` : fmt(med(series)),
      spread(series),
      ...(table.extra ? [failed ? "–" : table.extra.value(series)] : []),
      isRef ? "(ours)" : failed ? "–" : fmtRatio(ratioOf(table, series))
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
    ...(table.notes ?? []).map((n) => `${n}  `)
  ].join("\n")
}

// ---------------------------------------------------------------------------
// SVG
// ---------------------------------------------------------------------------

export interface Bar {
  readonly label: string
  readonly value: number
  readonly ours: boolean
}

export interface Panel {
  readonly title: string
  readonly unit: string
  readonly bars: ReadonlyArray<Bar>
  /** How a value is printed next to its bar (default `fmt` and the unit). */
  readonly format?: ((value: number) => string) | undefined
  /** A dashed reference line (e.g. the core count for speedups). */
  readonly line?: { readonly value: number; readonly label: string } | undefined
}

const escapeXml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")

/** Horizontal bar charts, one panel under the other. No chart library: plain SVG. */
export const toSvg = (panels: ReadonlyArray<Panel>, caption: string, subtitle?: string): string => {
  const width = 900
  const longest = Math.max(...panels.flatMap((p) => p.bars.map((b) => b.label.length)))
  const labelWidth = Math.min(420, Math.max(200, Math.round(longest * 6.6) + 16))
  const barArea = width - labelWidth - 110
  const barHeight = 20
  const gap = 6
  const out: Array<string> = []
  let y = 16
  out.push(
    `<text x="${width / 2}" y="${y + 6}" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(caption)}</text>`
  )
  y += 26
  if (subtitle) {
    out.push(`<text x="${width / 2}" y="${y}" text-anchor="middle" font-size="12" fill="#555">${escapeXml(subtitle)}</text>`)
    y += 14
  }
  for (const panel of panels) {
    const bars = panel.bars.filter((b) => Number.isFinite(b.value))
    const max = Math.max(...bars.map((b) => b.value), panel.line?.value ?? 0) * 1.05
    out.push(`<text x="10" y="${y + 14}" font-size="14" font-weight="bold">${escapeXml(panel.title)}</text>`)
    y += 24
    const top = y
    for (const bar of bars) {
      const w = Math.max(1, (bar.value / max) * barArea)
      out.push(
        `<text x="${labelWidth - 8}" y="${y + 14}" text-anchor="end" font-size="12"${
          bar.ours ? ` font-weight="bold"` : ""
        }>${escapeXml(bar.label)}</text>`,
        `<rect x="${labelWidth}" y="${y}" width="${w.toFixed(1)}" height="${barHeight}" fill="${
          bar.ours ? "#2f6fde" : "#9aa5b1"
        }"/>`,
        `<text x="${(labelWidth + w + 6).toFixed(1)}" y="${y + 14}" font-size="12">${
          escapeXml(panel.format ? panel.format(bar.value) : `${fmt(bar.value)} ${panel.unit}`)
        }</text>`
      )
      y += barHeight + gap
    }
    if (panel.line) {
      const x = labelWidth + (panel.line.value / max) * barArea
      out.push(
        `<line x1="${x.toFixed(1)}" y1="${top - 4}" x2="${x.toFixed(1)}" y2="${y}" stroke="#d9480f" stroke-dasharray="4 3"/>`,
        `<text x="${(x + 4).toFixed(1)}" y="${top - 6}" font-size="11" fill="#d9480f">${escapeXml(panel.line.label)}</text>`
      )
    }
    y += 18
  }
  const height = y
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    ...out,
    `</svg>`,
    ""
  ].join("\n")
}
