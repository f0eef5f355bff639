/**
 * The task module of `tracing.ts`: an Effect task that works in two steps,
 * each in a span of its own, and logs as it goes.
 */
import { Effect } from "effect"
import { Task } from "../src/index.ts"

/** Keeps this thread busy for `ms` milliseconds: stands in for real CPU work. */
const spin = (ms: number) => {
  const end = performance.now() + ms
  while (performance.now() < end) {
    // busy
  }
}

export const tasks = Task.module(import.meta.url, {
  /** Parses and scores a document: two spans, and a log line with an annotation. */
  score: (document: string) =>
    Effect.gen(function*() {
      const words = yield* Effect.sync(() => {
        spin(5)
        return document.split(" ")
      }).pipe(Effect.withSpan("parse", { attributes: { "document.length": document.length } }))
      const score = yield* Effect.sync(() => {
        spin(10)
        return words.length * 10
      }).pipe(Effect.withSpan("score"))
      yield* Effect.log(`scored ${words.length} words`).pipe(Effect.annotateLogs("document", document.slice(0, 12)))
      return score
    })
})
