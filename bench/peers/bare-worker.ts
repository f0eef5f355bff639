/** The memory baseline: a worker thread that imports nothing and answers one message. */
import { parentPort } from "node:worker_threads"

parentPort!.on("message", (n: number) => parentPort!.postMessage(n + 1))
