/**
 * The raw `worker_threads` baseline: one `postMessage` per task each way,
 * `[id, fn, data]` in and `[id, result]` out, no pool logic at all.
 */
import { parentPort } from "node:worker_threads"
import * as Work from "../work.ts"

const port = parentPort!

port.on("message", (message: [id: number, fn: string, data: any]) => {
  const [id, fn, data] = message
  switch (fn) {
    case "add":
      return port.postMessage([id, Work.add(data[0], data[1])])
    case "howManyWithinRangeRows":
      return port.postMessage([id, Work.howManyWithinRangeRows(data)])
    case "cpu":
      return port.postMessage([id, Work.cpu(data[0], data[1])])
    case "scaleCopy":
      return port.postMessage([id, Work.scale(data)])
    case "scaleTransfer": {
      const result = Work.scale(data)
      return port.postMessage([id, result], [result.buffer])
    }
  }
})
port.postMessage("ready")
