/**
 * The run's settings: the environment (BENCH_QUICK, BENCH_ONLY, BENCH_WRITE),
 * the pool size, and the sizes and repetitions of every scenario.
 */
import * as Os from "node:os"

export const QUICK = process.env.BENCH_QUICK === "1"
/** BENCH_ONLY=1,round-trip: scenario numbers or names (`undefined`: every scenario). */
export const ONLY: ReadonlyArray<string> | undefined = process.env.BENCH_ONLY
  ? process.env.BENCH_ONLY.split(",").map((s) => s.trim()).filter((s) => s !== "")
  : undefined
export const WRITE = process.env.BENCH_WRITE === "1" || (!QUICK && ONLY === undefined)
/** The pool size of every contender. */
export const SIZE = Os.availableParallelism()
export const MiB = 1024 * 1024

export const config = QUICK
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

/** Progress goes to stderr; the tables go to stdout. */
export const log = (message: string) => process.stderr.write(message + "\n")

/** 20000 → "20,000". */
export const thousands = (n: number) => n.toLocaleString("en-US")
