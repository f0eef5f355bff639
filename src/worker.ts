/**
 * The pool's worker entry, for bundlers: the file every pool worker starts.
 *
 * Only a bundled program needs it. Build it, with the program and its task
 * modules, as an entry point of its own named `workerEntry`, next to the
 * program's bundle, where the pool looks for it (or anywhere, named by the
 * `workerEntry` option of `Backend`):
 *
 * ```ts
 * await esbuild.build({
 *   entryPoints: { main: "src/main.ts", tasks: "src/tasks.ts", workerEntry: "effect-multiprocessing/worker" },
 *   bundle: true, splitting: true, format: "esm", platform: "node", outdir: "dist"
 * })
 * ```
 *
 * Importing it anywhere but in a pool's worker ends the program with an
 * error: it starts a worker. It exports nothing. See docs/bundling.md.
 *
 * @since 0.1.0
 */
import "./internal/workerEntry.ts"
