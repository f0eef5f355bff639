/**
 * A start-up reference: a plain worker thread that imports our task module
 * (`bench/tasks.ts`, which imports the package) and answers one message. What
 * a pool worker loads before its first task, without the pool.
 */
import { parentPort } from "node:worker_threads"
import { tasks } from "../tasks.ts"

parentPort!.on("message", (n: number) => parentPort!.postMessage(tasks.add.name === "add" ? n + 1 : -1))
