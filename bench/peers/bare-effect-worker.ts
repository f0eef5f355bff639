/** The memory baseline of issue 5: a bare worker thread that imports effect, runs an Effect and answers one message. */
import { Effect } from "effect"
import { parentPort } from "node:worker_threads"

parentPort!.on("message", (n: number) => parentPort!.postMessage(Effect.runSync(Effect.succeed(n + 1))))
