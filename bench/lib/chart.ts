/** The docs' SVG chart: horizontal bar charts, hand-written (no chart library). */
import * as Os from "node:os"
import { SIZE } from "./config.ts"
import * as C from "./contenders.ts"
import * as R from "./report.ts"
import { table } from "./results.ts"
import { fmt, fmtRatio } from "./stats.ts"

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

// ---------------------------------------------------------------------------
// The benchmark's chart
// ---------------------------------------------------------------------------

/** A short label for the chart. */
const shortLabel = (label: string) =>
  label.replace(`${C.ours.label}: `, "ours: ").replace(/^Python [\d.]+ multiprocessing\.Pool: /, "Python Pool: ")

/** The docs' chart: scenario 1's throughputs and scenario 4's speedups. */
export const chart = (load: number | undefined): string => {
  const s1 = table("s1")
  const s4 = table("s4")
  const panels: Array<Panel> = []
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
  return toSvg(
    panels,
    `effect-multiprocessing vs peers, ${SIZE} workers, Node.js ${process.version}`,
    `${cpu}, ${new Date().toISOString().slice(0, 10)}${
      load === undefined ? "" : `; other processes used ${Math.round(load * 100)}% of the CPU time during the run`
    }. Details: benchmarks.md`
  )
}
