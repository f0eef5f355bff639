/**
 * A start-up reference: a plain worker thread that imports our task module
 * (`bench/tasks.ts`, which imports the package) and answers one message: what
 * a pool worker would load before its first task if the package index were the
 * real one there (a pool worker gets a light one: see src/internal/workerIndex.ts).
 */
import { parentPort } from "node:worker_threads"
import { tasks } from "../tasks.ts"

parentPort!.on("message", (n: number) => parentPort!.postMessage(tasks.add.name === "add" ? n + 1 : -1))
