/** The built package (`npm run build` → dist/) works in plain Node, without type stripping. */
import { assert, describe, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"

describe("package", () => {
  it("dist runs a pool with a JavaScript task module, type stripping disabled", async () => {
    const root = fileURLToPath(new URL("..", import.meta.url))
    assert.isTrue(existsSync(`${root}/dist/index.js`), "run `npm run build` first (npm test does)")
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ["--no-experimental-strip-types", "test/fixtures/package-smoke.mjs"],
        { cwd: root, timeout: 20_000 },
        (error, out, err) => error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)
      )
    )
    assert.deepStrictEqual(JSON.parse(stdout), { squares: [1, 4, 9], streamed: [16, 25], negative: true })
  })
})
