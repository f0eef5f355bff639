/**
 * "What the numbers say": a paragraph per scenario for the docs, with the
 * numbers behind each target and what stands in the way of the missed ones.
 * Every figure comes from the run's tables; a paragraph (or a clause) whose
 * rows the run lacks is left out.
 */
import { config, SIZE, thousands } from "./config.ts"
import * as R from "./report.ts"
import { known, loads, type Lookup, lookup, tables } from "./results.ts"
import { fmt, fmtRatio, fmtSummary, summarize } from "./stats.ts"

/** The fastest Node.js pool of a scenario 3 table (every row but the loops and Python's). */
const fastestPool = (L: Lookup, id: string) =>
  Math.min(
    ...(L.table(id)?.rows ?? [])
      .filter((r) => r.key !== "seq" && !r.key.startsWith("py-"))
      .map((r) => R.med(r))
      .filter(Number.isFinite)
  )
const near = (a: number, b: number) => Math.abs(a / b - 1) <= 0.25
const pct = (share: number | undefined) => (share === undefined ? "an unknown share" : `${Math.round(share * 100)}%`)
/** " (paired 1.23× (1.10–1.31×))": row `num` ÷ row `den`, run by run; "" without paired runs. */
const paired = (L: Lookup, id: string, num: string, den: string) => {
  const s = L.quotients(id, num, den)
  return s.n === 0 ? "" : ` (paired ${fmtSummary(s)})`
}

type Paragraphs = (L: Lookup, out: Array<string>) => void

const burst: Paragraphs = (L, out) => {
  const [ours, oursAsync, raw, raw1] = [L.get("s1", "ours"), L.get("s1", "oursAsync"), L.get("s1", "raw"), L.get("s1", "raw1")]
  if (!known(ours, oursAsync, raw)) return
  const piscina = Math.max(L.get("s1", "piscina"), L.get("s1", "piscina64"))
  out.push(
    `**Scenario 1.** Ours ran ${fmt(ours)} tasks/s with \`Effect.forEach(apply)\` and ${fmt(oursAsync)} with ` +
      `\`applyAsync\`; raw \`postMessage\` ran ${fmt(raw)} pipelined${
        known(raw1) ? ` and ${fmt(raw1)} with one task in flight per thread` : ""
      }: ours ran at ${fmtRatio(ours / raw)}${paired(L, "s1", "ours", "raw")} and ${fmtRatio(oursAsync / raw)}${
        paired(L, "s1", "oursAsync", "raw")
      } the rate of raw pipelined${
        known(piscina)
          ? `, and at ${fmtRatio(ours / piscina)} and ${fmtRatio(oursAsync / piscina)} that of piscina's best ` +
            `setting (${fmt(piscina)} tasks/s)`
          : ""
      }. Our dispatcher sends many tiny tasks per message, which is how a pool that keeps a record of every task ` +
      `can ${
        Math.max(ours, oursAsync) >= raw ? "pass one bare message per task, as here" : "come near one bare message per task"
      }. Mind the min–max spread: single runs of ours varied by ${fmtRatio(L.spreadOf("s1", "ours"))} (slowest to ` +
      `fastest) in this run.`
  )
}

const roundTrip: Paragraphs = (L, out) => {
  const [ours, raw, py] = [L.get("s2", "ours"), L.get("s2", "raw"), L.get("s2", "python")]
  if (!known(ours, raw)) return
  const pairedOursRaw = L.quotients("s2", "ours", "raw")
  out.push(
    `**Scenario 2.** One round trip took ${fmt(ours)} µs with ours and ${fmt(raw)} µs with one raw \`postMessage\` ` +
      `each way to one worker${known(py) ? `, and ${fmt(py)} µs with Python's \`Pool.apply\`` : ""}.` +
      (known(py)
        ? ` Issue 5 assumed Python at ~2k calls/s (about 500 µs a call); measured here, 10× would need ` +
          `${fmt(py / 10)} µs per call` +
          (py / 10 < raw ? `, less than a raw round trip in the same run: no thread pool can meet it on this machine.` : `.`)
        : "") +
      (pairedOursRaw.n > 0
        ? ` Run by run, ours took ${fmtSummary(pairedOursRaw)} the raw round trip's time (median, min–max of the ` +
          `${pairedOursRaw.n} repetitions), against issue 13's target of 0.6×; one call at a time is where the ` +
          `machine's idle behaviour shows most (see the note under the table).`
        : "")
  )
}

const seed: Paragraphs = (L, out) => {
  const [seq, ours, raw, raw1, imap] = [
    L.get("s3-large", "seq"),
    L.get("s3-large", "ours"),
    L.get("s3-large", "raw"),
    L.get("s3-large", "raw1"),
    L.get("s3-large", "oursImap")
  ]
  const [seqSmall, oursSmall, rawSmall, pyMapSmall, pySeqSmall] = [
    L.get("s3-seed", "seq"),
    L.get("s3-seed", "ours"),
    L.get("s3-seed", "raw"),
    L.get("s3-seed", "py-map"),
    L.get("s3-seed", "py-sequential")
  ]
  if (known(seqSmall, oursSmall, rawSmall)) {
    out.push(
      `**Scenario 3, ${thousands(config.seedRows)} rows.** The Node.js loop takes ${fmt(seqSmall)} ms ` +
        `(${fmt((seqSmall * 1e6) / config.seedRows)} ns a row)${
          known(pySeqSmall) ? `, Python's ${fmt(pySeqSmall)} ms` : ""
        }. A pool must copy each row to a worker and its count back${
          fastestPool(L, "s3-seed") > seqSmall
            ? `, which costs more than counting it: every Node.js pool here is slower than the loop (the fastest ` +
              `took ${fmt(fastestPool(L, "s3-seed"))} ms)`
            : ""
        }. Ours took ${fmt(oursSmall)} ms, raw pipelined \`postMessage\` with the same chunks ${fmt(rawSmall)} ms: ` +
        `ours ${fmtRatio(oursSmall / rawSmall)} raw's time${paired(L, "s3-seed", "ours", "raw")}.` +
        (known(pyMapSmall)
          ? ` Python's \`Pool.map\` took ${fmt(pyMapSmall)} ms` +
            (rawSmall * 3 > pyMapSmall
              ? `: pickling small lists is cheaper than structured-cloning small arrays, so not even raw ` +
                `\`postMessage\` is 3× faster than Python's pool on this input (scenario 7 holds the same rows in ` +
                `shared memory instead).`
              : `.`)
          : "")
    )
  }
  if (known(seq, ours, raw)) {
    out.push(
      `**Scenario 3, ${thousands(config.largeRows)} rows.** The loop takes ${fmt(seq)} ms; ours \`map\` ` +
        `${fmt(ours)} ms, raw pipelined \`postMessage\` with the same chunks ${fmt(raw)} ms (${fmtRatio(seq / raw)} ` +
        `of the loop's speed)${
          fastestPool(L, "s3-large") > seq / 1.6
            ? `, so the 1.6× speedup is out of reach for any thread pool on this workload: the time goes into ` +
              `copying rows, not counting them`
            : ""
        }.${
          known(raw1)
            ? ` Raw with one chunk in flight per thread took ${fmt(raw1)} ms (${fmtRatio(raw1 / raw)} raw ` +
              `pipelined's time: what keeping the next chunk in flight is worth); ours keeps two chunks in flight on each thread worker ` +
              `whatever their cost ([chunking](./chunking.md)), and took ${fmtRatio(ours / raw)} raw pipelined's ` +
              `time${paired(L, "s3-large", "ours", "raw")}`
            : ""
        }${known(imap) ? `; \`imap\` with chunks of ${thousands(config.imapChunksize)} took ${fmt(imap)} ms` : ""}.`
    )
  }
}

const cpuBound: Paragraphs = (L, out) => {
  const [seq, ours, starmap, raw] = [L.get("s4", "seq"), L.get("s4", "ours"), L.get("s4", "oursStarmap"), L.get("s4", "raw")]
  if (!known(seq, ours, starmap, raw)) return
  out.push(
    `**Scenario 4.** Speedup over the sequential loop: ours ${fmtRatio(seq / ours)} (\`apply\`) and ` +
      `${fmtRatio(seq / starmap)} (\`starmap\`), raw worker_threads ${fmtRatio(seq / raw)}, ideal ${SIZE}×. Other ` +
      `processes used ${pct(loads["s4"])} of the machine's CPU time during this scenario; whatever they take ` +
      `comes out of every pool's speedup alike, so compare the pools with each other (the ratio column) rather ` +
      `than with ${SIZE}×.`
  )
}

const payloads: Paragraphs = (L, out) => {
  const [copy, transfer, rawCopy, raw1Copy] = [
    L.get("s5-copy", "ours"),
    L.get("s5-transfer", "ours"),
    L.get("s5-copy", "raw"),
    L.get("s5-copy", "raw1")
  ]
  if (!known(copy, transfer, rawCopy, raw1Copy)) return
  out.push(
    `**Scenario 5.** Ours moved ${fmt(transfer)} GB/s with transfers and ${fmt(copy)} GB/s with copies ` +
      `(${fmtRatio(transfer / copy)}); the spread between runs was ${fmtRatio(L.spreadOf("s5-transfer", "ours"))} ` +
      `with transfers. On the copy path, raw pipelined \`postMessage\` reached ${fmt(rawCopy)} GB/s and raw with ` +
      `one array in flight per thread ${fmt(raw1Copy)} GB/s${
        copy < rawCopy / 1.2 && near(copy, raw1Copy)
          ? `: ours is close to the latter, which does not overlap sending one array with the work on the previous one`
          : ""
      }.`
  )
}

const startup: Paragraphs = (L, out) => {
  const [ours, raw, rawCached, bare, bareEffect, bareTasks] = [
    L.get("s6-startup", "ours"),
    L.get("s6-startup", "raw"),
    L.get("s6-startup", "raw-cc"),
    L.get("s6-startup", "bare"),
    L.get("s6-startup", "bare-effect"),
    L.get("s6-startup", "bare-tasks")
  ]
  if (known(ours, raw, rawCached, bare, bareEffect, bareTasks)) {
    out.push(
      `**Scenario 6.** From nothing to the first result: ours ${fmt(ours)} ms, raw ${fmt(raw)} ms, raw with ` +
        `Node's compile cache ${fmt(rawCached)} ms; ${SIZE} bare worker threads answer in ${fmt(bare)} ms, ${SIZE} ` +
        `that import effect in ${fmt(bareEffect)} ms, and ${SIZE} that import our task module through the real ` +
        `package index (effect and the whole pool) in ${fmt(bareTasks)} ms. Our workers load neither: in a worker the ` +
        `package index is a light one (\`Task\`, the rest on first use), the worker entry speaks effect's worker ` +
        `protocol without effect, and effect is loaded only when a task returns an Effect or its module declares a ` +
        `layer. Our workers also start with Node's compile cache on, which spares them compiling and type-stripping ` +
        `the \`.ts\` files that the raw worker compiles afresh: the raw row with the cache is the like-for-like ` +
        `reference for that part: ours takes ${fmtRatio(ours / rawCached)} its time` +
        `${paired(L, "s6-startup", "ours", "raw-cc")}, against issue 13's target of 1.3×.`
    )
  }
  const [mem, memBare, memEffect] = [L.get("s6-memory", "ours"), L.get("s6-memory", "bare"), L.get("s6-memory", "bare-effect")]
  if (known(mem, memBare, memEffect)) {
    out.push(
      `Memory: ${fmt(mem)} MiB per worker for ours, ${fmt(memEffect)} MiB for a bare worker thread that imports ` +
        `effect (its whole barrel), ${fmt(memBare)} MiB for an empty one.`
    )
  }
}

const sharedMap: Paragraphs = (L, out) => {
  const numpy = (id: string) => {
    const [shm, one, ours] = [L.get(id, "py-shm"), L.get(id, "py-numpy"), L.get(id, "ours")]
    return known(shm, one)
      ? ` Python's own answer, \`shared_memory\` + NumPy, took ${fmt(shm)} ms with a pool over the same ranges ` +
        `(ours ${fmtRatio(shm / ours)} its speed${paired(L, id, "py-shm", "ours")}) and ${fmt(one)} ms vectorized in ` +
        `one process.`
      : ""
  }
  const [seqSmall, oursSmall, procSmall, pySmall] = [
    L.get("s7-seed", "seq"),
    L.get("s7-seed", "ours"),
    L.get("s7-seed", "oursProcesses"),
    L.get("s7-seed", "py-map")
  ]
  if (known(seqSmall, oursSmall)) {
    out.push(
      `**Scenario 7, ${thousands(config.seedRows)} rows.** With the rows already in a shared \`Int32Array\`, ` +
        `\`Shared.map\` on threads took ${fmt(oursSmall)} ms and the loop over the same array ${fmt(seqSmall)} ms ` +
        `(ours ${fmtRatio(seqSmall / oursSmall)} the loop's speed${
          seqSmall < oursSmall
            ? `: at ${fmt((seqSmall * 1e6) / config.seedRows)} ns a row, these rows hold less work than it costs ` +
              `to send ranges to the workers and wake them`
            : ""
        }).${known(procSmall) ? ` On child processes, which copy each range in and its counts back, ${fmt(procSmall)} ms.` : ""}${
          known(pySmall)
            ? ` Python's \`Pool.map\` over the same rows as lists took ${fmt(pySmall)} ms: ours is ` +
              `${fmtRatio(pySmall / oursSmall)} faster${paired(L, "s7-seed", "py-map", "ours")}, against issue 13's ` +
              `target of 5×${
                known(L.get("s3-seed", "py-map"), L.get("s3-seed", "ours"))
                  ? `; from plain arrays (scenario 3) ours was ${
                    fmtRatio(L.get("s3-seed", "py-map") / L.get("s3-seed", "ours"))
                  } faster`
                  : ""
              }.`
            : ""
        }${numpy("s7-seed")}`
    )
  }
  const [seq, ours, proc, plain] = [
    L.get("s7-large", "seq"),
    L.get("s7-large", "ours"),
    L.get("s7-large", "oursProcesses"),
    L.get("s3-large", "ours")
  ]
  if (known(seq, ours)) {
    out.push(
      `**Scenario 7, ${thousands(config.largeRows)} rows.** The loop over the typed array takes ${fmt(seq)} ms, ` +
        `\`Shared.map\` on ${SIZE} threads ${fmt(ours)} ms: a speedup of ${fmtRatio(seq / ours)}` +
        `${paired(L, "s7-large", "seq", "ours")}, ideal ${SIZE}×, issue 13's target 1.7×. No row is copied: each ` +
        `range's task reads its rows and writes its counts in place.${
          known(plain)
            ? ` The same rows as JS arrays took ${fmt(plain)} ms through \`map\` in scenario 3 ` +
              `(${fmtRatio(plain / ours)} the shared-memory map's time).`
            : ""
        }${known(proc) ? ` On child processes, which copy the ranges, ${fmt(proc)} ms.` : ""}${numpy("s7-large")}`
    )
  }
}

const firstCall: Paragraphs = (L, out) => {
  const keys = ["plain", "plain-preload", "effect", "effect-preload"] as const
  const [first, ratio, ready] = (["s8-first", "s8-ratio", "s8-ready"] as const).map((id) =>
    Object.fromEntries(keys.map((k) => [k, L.get(id, k)])) as Record<(typeof keys)[number], number>
  )
  if (!keys.every((k) => known(first[k], ratio[k]))) return
  const runs = (key: string) => fmtSummary(summarize(L.row("s8-ratio", key)!.samples))
  out.push(
    `**Scenario 8.** The first call after \`make\` took ${fmt(first.plain)} ms for a module of plain functions ` +
      `without \`preload\` and ${fmt(first["plain-preload"])} ms with it; for a module that uses effect, ` +
      `${fmt(first.effect)} ms without and ${fmt(first["effect-preload"])} ms with. Against a later call of the same ` +
      `pool, run by run, the first call with preload took ${runs("plain-preload")} (plain) and ` +
      `${runs("effect-preload")} (Effect) its time, against issue 13's target of 1.2×${
        Math.max(ratio["plain-preload"], ratio["effect-preload"]) > 1.2
          ? `: the workers have loaded the module before \`make\` returns, so what the first call still pays is the ` +
            `first run of the call path itself in a fresh process, on the caller's side and the worker's`
          : ""
      }.${
        known(ready.plain, ready["plain-preload"], ready.effect, ready["effect-preload"])
          ? ` Preload moves the import into \`make\`: \`make\` and the first result together took ` +
            `${fmt(ready["plain-preload"])} ms with it and ${fmt(ready.plain)} ms without (plain), ` +
            `${fmt(ready["effect-preload"])} and ${fmt(ready.effect)} ms (Effect).`
          : ""
      }`
  )
}

const cluster: Paragraphs = (L, out) => {
  const [local, two, three] = ["local", "two", "three"].map((k) => L.get("s9-throughput", k))
  const [localLat, twoLat, threeLat] = ["local", "two", "three"].map((k) => L.get("s9-latency", k))
  if (!known(local, two, three, localLat, twoLat, threeLat)) return
  out.push(
    `**Scenario 9.** On this one machine over loopback, a \`ClusterPool\` of 2 runners ran ${fmt(two)} tasks/s in ` +
      `one \`starmap\` and 3 runners ${fmt(three)}, against ${fmt(local)} for the local pool (${fmtRatio(local / two)} ` +
      `and ${fmtRatio(local / three)} the cluster's rate); one call at a time took ${fmt(twoLat)} and ` +
      `${fmt(threeLat)} µs against ${fmt(localLat)} µs locally (${fmtRatio(twoLat / localLat)} and ` +
      `${fmtRatio(threeLat / localLat)}). Runners and client share ${SIZE} cores here, so these figures are the ` +
      `cluster's overhead (TCP, serialization, routing), not its speed-up${
        three < two ? `: a third runner on the same cores adds a process to schedule, not a core` : ""
      }.`
  )
}

/** Paragraphs for the docs, one per scenario measured in `from` (default: this run's tables). */
export const findings = (from: ReadonlyArray<R.Table> = tables): Array<string> => {
  const L = lookup(from)
  const out: Array<string> = []
  for (const paragraphs of [burst, roundTrip, seed, cpuBound, payloads, startup, sharedMap, firstCall, cluster]) {
    paragraphs(L, out)
  }
  return out
}
