/**
 * How many CPUs this process may use: `WorkerPool.cpuCount`, the pool's
 * answer to Python's `mp.cpu_count()`.
 */
import * as Effect from "effect/Effect"
import * as Os from "node:os"

/**
 * How many tasks this process can run in parallel: the number of CPUs it may
 * run on, which is also a pool's default `size`. Python's `os.cpu_count()`
 * and `multiprocessing.cpu_count()` count every CPU of the machine; this is
 * `os.availableParallelism()`, which honours the process's CPU affinity, as
 * Python 3.13's `os.process_cpu_count()` does (`taskset -c 0 node app.ts`
 * gives 1). On Linux, libuv also lowers it to a cgroup v2 CPU quota
 * (`cpu.max`, such as a container's `--cpus`, rounded down; a quota under one
 * CPU is ignored) when the process is in a cgroup v2 hierarchy; a cgroup v1
 * quota may go unseen (it does on a host whose v1 `cpu` controller is mounted
 * on its own): pass `size` explicitly there.
 *
 * An Effect, not a constant: the affinity can change while the program runs
 * (`taskset -p <pid>`), and it is read again each time the Effect runs.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { WorkerPool } from "effect-multiprocessing"
 *
 * const program = Effect.gen(function*() {
 *   const cpus = yield* WorkerPool.cpuCount
 *   console.log(`Number of processors: ${cpus}`)
 *   const pool = yield* WorkerPool.make({ size: cpus }) // the default size, spelled out
 * })
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const cpuCount: Effect.Effect<number> = Effect.sync(() => Os.availableParallelism())
