/**
 * "What the numbers say": a paragraph per scenario for the docs, with the
 * numbers behind each target and what stands in the way of the missed ones.
 */
import { config, SIZE, thousands } from "./config.ts"
import * as Data from "./data.ts"
import * as R from "./report.ts"
import { get, known, loads, quotients, spreadOf, table } from "./results.ts"
import { fmt, fmtRatio, fmtSummary } from "./stats.ts"

/** The fastest Node.js pool of a scenario 3 table (every row but the loops and Python's). */
const fastestPool = (id: string) =>
  Math.min(
    ...(table(id)?.rows ?? [])
      .filter((r) => r.key !== "seq" && !r.key.startsWith("py-"))
      .map((r) => R.med(r))
      .filter(Number.isFinite)
  )
const near = (a: number, b: number) => Math.abs(a / b - 1) <= 0.25
const pct = (share: number | undefined) => (share === undefined ? "an unknown share" : `${Math.round(share * 100)}%`)

const burst = (out: Array<string>) => {
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

const roundTrip = (out: Array<string>) => {
  const [ours, raw, py] = [get("s2", "ours"), get("s2", "raw"), get("s2", "python")]
  const pairedOursRaw = quotients("s2", "ours", "raw")
  if (known(ours, raw, py)) {
    out.push(
      `**Scenario 2.** One round trip took ${fmt(ours)} µs with ours, ${fmt(raw)} µs with one raw \`postMessage\` ` +
        `each way to one worker, and ${fmt(py)} µs with Python's \`Pool.apply\`. Issue 5 assumed Python at ~2k calls/s (about ` +
        `500 µs a call); measured here, 10× would need ${fmt(py / 10)} µs per call` +
        (py / 10 < raw ? `, less than a raw round trip in the same run: no thread pool can meet it on this machine.` : `.`) +
        (pairedOursRaw.n > 0
          ? ` Run by run, ours took ${fmtSummary(pairedOursRaw)} the raw round trip's time (median, min–max of the ` +
            `${pairedOursRaw.n} repetitions); one call at a time is where the machine's idle behaviour shows most ` +
            `(see the note under the table).`
          : "")
    )
  }
}

const seed = (out: Array<string>) => {
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
      `**Scenario 3, ${thousands(config.seedRows)} rows.** The Node.js loop takes ${fmt(seqSmall)} ms ` +
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
      `**Scenario 3, ${thousands(config.largeRows)} rows.** The loop takes ${fmt(seq)} ms; ours \`map\` ` +
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
              `([chunking](./chunking.md)), so the next ${thousands(Data.defaultChunksize(config.largeRows, SIZE))}-row ` +
              `chunk is serialized while its worker waits instead of ahead of time`
            : ""
        }${known(imap) ? `; \`imap\` with chunks of ${thousands(config.imapChunksize)} took ${fmt(imap)} ms` : ""}.`
    )
  }
}

const cpuBound = (out: Array<string>) => {
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

const payloads = (out: Array<string>) => {
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

const startup = (out: Array<string>) => {
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

/** Paragraphs for the docs, one per scenario measured. */
export const findings = (): Array<string> => {
  const out: Array<string> = []
  for (const paragraphs of [burst, roundTrip, seed, cpuBound, payloads, startup]) paragraphs(out)
  return out
}
