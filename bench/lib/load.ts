/**
 * How busy the machine was with other processes while a scenario ran (Linux
 * only, from /proc): a shared machine's background load skews every absolute
 * number, and the report says how much of it there was.
 */
import * as Fs from "node:fs"

interface Sample {
  /** CPU ticks of the whole machine: busy (including steal) and total. */
  readonly busy: number
  readonly total: number
  /** CPU ticks of this process and all its descendants (threads included, reaped children included). */
  readonly mine: number
}

const read = (path: string): string | undefined => {
  try {
    return Fs.readFileSync(path, "utf8")
  } catch {
    return undefined
  }
}

/** `[ppid, ticks]` of a process: utime + stime + cutime + cstime. */
const stat = (pid: string): [number, number] | undefined => {
  const text = read(`/proc/${pid}/stat`)
  if (text === undefined) return undefined
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ")
  // fields[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14..17
  return [Number(fields[1]), Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])]
}

const sample = (): Sample | undefined => {
  const line = read("/proc/stat")?.split("\n")[0]
  if (line === undefined || !line.startsWith("cpu ")) return undefined
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number)
  const busy = user + nice + system + irq + softirq + (steal ?? 0)
  const total = busy + idle + iowait
  // this process and its descendants
  const procs = new Map<number, [number, number]>()
  for (const entry of Fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    const s = stat(entry)
    if (s) procs.set(Number(entry), s)
  }
  const mineSet = new Set<number>([process.pid])
  let grew = true
  while (grew) {
    grew = false
    for (const [pid, [ppid]] of procs) {
      if (!mineSet.has(pid) && mineSet.has(ppid)) {
        mineSet.add(pid)
        grew = true
      }
    }
  }
  let mine = 0
  for (const pid of mineSet) mine += procs.get(pid)?.[1] ?? 0
  return { busy, total, mine }
}

/** Starts watching; `stop` gives the share of the machine's CPU time other processes used meanwhile (0–1). */
export const watch = (): { readonly stop: () => number | undefined } => {
  const start = sample()
  return {
    stop: () => {
      const end = sample()
      if (start === undefined || end === undefined || end.total === start.total) return undefined
      const others = end.busy - start.busy - (end.mine - start.mine)
      return Math.max(0, others / (end.total - start.total))
    }
  }
}
