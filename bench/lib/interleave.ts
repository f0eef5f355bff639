/**
 * The runner: every contender of a scenario warmed up, then measured in
 * interleaved repetitions (each repetition runs every contender once, in a
 * rotated order), with a full GC before each run, its result checked outside
 * the timing, and runs under other processes' load thrown away and repeated.
 */
import { config, log } from "./config.ts"
import * as Load from "./load.ts"
import type { Series } from "./report.ts"
import { gc, rotate, sleep } from "./stats.ts"
import { describe, withTimeout } from "./timeout.ts"

/** One contender in one scenario. */
export interface Entry<I = any, O = any> {
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
export const LOADED = 0.2
export const MAX_REPEATS = 2
/** Short runs are judged over a window of at least this long (the /proc counters tick every 10 ms). */
const MIN_WINDOW_MS = 100
const REPEAT_PAUSE_MS = 1_000
/** What is left of the whole run's budget for repeating loaded runs. */
let retryBudgetMs = config.retryBudgetMs

/** Warms every entry up `warmups` times, then runs `reps` interleaved repetitions. */
export const interleave = async (
  scenario: string,
  entries: ReadonlyArray<Entry>,
  reps = config.reps,
  warmups = 1
): Promise<Array<Series>> => {
  const series: Array<Series> = entries.map((e) => ({
    key: e.key,
    label: e.label,
    note: e.note,
    samples: [],
    rounds: [],
    repeated: 0,
    loaded: 0
  }))
  const lastMs: Array<number> = []
  /** One run of entry `i`: a warm-up when `round` is undefined, else measured in that repetition. */
  const once = async (i: number, round: number | undefined) => {
    const entry = entries[i]
    const s = series[i]
    if (s.error !== undefined) return
    const measured = round !== undefined
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
        s.rounds!.push(round)
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
    for (const i of indices) await once(i, undefined)
  }
  for (let r = 0; r < reps; r++) {
    log(`  repetition ${r + 1}/${reps}`)
    for (const i of rotate(indices, r)) await once(i, r)
  }
  return series
}
