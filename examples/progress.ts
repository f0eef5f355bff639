/**
 * Progress bars for a long `map` and for one long call, drawn with cli-progress
 * (https://www.npmjs.com/package/cli-progress, a devDependency of this
 * repository: to run a copy, `npm install cli-progress @types/cli-progress`).
 *
 * - A `map` of 3,000 items reports `{ done, total }` through `onProgress` as
 *   its chunks finish: no worker message is needed for that.
 * - One long `scan` reports its own progress with `Task.progress(...)`;
 *   `pool.applyWithProgress` turns it into a `Stream` of updates, then the
 *   result. The worker coalesces the updates (here: at most one per 50 ms).
 *
 * The bars go to stderr, and only when it is a terminal; piped or in CI the
 * output is the plain result lines on stdout. Run it with
 * `npx node examples/progress.ts`.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import CliProgress from "cli-progress"
import { Effect, Stream } from "effect"
import { WorkerPool } from "../src/index.ts"
import { tasks } from "./progress-tasks.ts"

const ITEMS = 3_000
const ROWS = 2_000

/** A bar on stderr (drawn only on a terminal), stopped when the scope closes, also on an interruption. */
const progressBar = (label: string, total: number) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const bar = new CliProgress.SingleBar({
        format: `${label.padEnd(5)} |{bar}| {value}/{total} | {duration_formatted}`,
        hideCursor: true
      }, CliProgress.Presets.shades_classic)
      bar.start(total, 0)
      return bar
    }),
    (bar) => Effect.sync(() => bar.stop())
  )

const program = Effect.gen(function*() {
  const pool = yield* WorkerPool.make({ size: yield* WorkerPool.cpuCount })

  // a long map: items done out of total, as its chunks finish
  const scores = yield* Effect.scoped(Effect.gen(function*() {
    const bar = yield* progressBar("map", ITEMS)
    return yield* pool.map(tasks.score, Array.from({ length: ITEMS }, (_, i) => i), {
      chunksize: 25,
      onProgress: ({ done }) => bar.update(done)
    })
  }))
  console.log(`map: ${scores.length} items, total score ${scores.reduce((a, b) => a + b, 0)}`)

  // one long call: the task's own updates, then its result, as a Stream
  const sum = yield* Effect.scoped(Effect.gen(function*() {
    const bar = yield* progressBar("scan", ROWS)
    let result = 0
    yield* pool.applyWithProgress(tasks.scan, [ROWS], { progressInterval: "50 millis" }).pipe(
      Stream.runForEach((update) =>
        Effect.sync(() => {
          if (update._tag === "Progress") bar.update((update.value as { readonly row: number }).row)
          else result = update.value
        })
      )
    )
    return result
  }))
  console.log(`scan: ${ROWS} rows, sum ${sum}`)
}).pipe(Effect.scoped)

NodeRuntime.runMain(program)
