/**
 * Vitest global setup: a PostgreSQL for the cluster tests.
 *
 * - `EFFECT_MP_TEST_POSTGRES_URL` set (as `.ci/run` does): use that server.
 * - Unset: start a private one with `scripts/postgres.sh` (it needs the server binaries: Debian's
 *   `postgresql` package; this setup never installs anything) and stop and delete it after the run.
 * - Neither possible: the Postgres tests skip, with the reason printed once, unless
 *   `EFFECT_MP_TEST_REQUIRE_POSTGRES` is set (CI sets it): then the run fails here, so CI never skips.
 *
 * The tests read the URL with `inject("postgresUrl")` ("" when there is none) and the reason with
 * `inject("postgresSkipReason")`; each test file makes its own database on that server
 * (`test/cluster/postgres.ts`), so files running in parallel never share cluster tables.
 */
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import type { TestProject } from "vitest/node"

declare module "vitest" {
  export interface ProvidedContext {
    postgresUrl: string
    postgresSkipReason: string
  }
}

const script = fileURLToPath(new URL("../../scripts/postgres.sh", import.meta.url))

const run = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Promise<{ stdout: string; stderr: string }> =>
  new Promise((resolve, reject) =>
    execFile("bash", [script, ...args], { env }, (error, stdout, stderr) =>
      error ? reject(Object.assign(error, { stdout, stderr })) : resolve({ stdout, stderr }))
  )

const parseExports = (stdout: string): Record<string, string> =>
  Object.fromEntries(
    stdout.split("\n").flatMap((line) => {
      const match = /^export ([A-Z_]+)=(.*)$/.exec(line.trim())
      return match ? [[match[1], match[2]]] : []
    })
  )

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const given = process.env.EFFECT_MP_TEST_POSTGRES_URL
  if (given) {
    project.provide("postgresUrl", given)
    project.provide("postgresSkipReason", "")
    return undefined
  }
  try {
    // EFFECT_MP_PG_NO_INSTALL: a developer's test run never installs system packages.
    // EFFECT_MP_PG_WATCH_PID: the server goes with this process even if it is killed before its teardown.
    const { stdout } = await run(["start"], {
      ...process.env,
      EFFECT_MP_PG_NO_INSTALL: "1",
      EFFECT_MP_PG_WATCH_PID: String(process.pid)
    })
    const vars = parseExports(stdout)
    const url = vars.EFFECT_MP_TEST_POSTGRES_URL
    const dir = vars.EFFECT_MP_TEST_POSTGRES_DIR
    if (!url || !dir) throw new Error(`scripts/postgres.sh start printed no URL:\n${stdout}`)
    project.provide("postgresUrl", url)
    project.provide("postgresSkipReason", "")
    return async () => {
      await run(["stop", dir], process.env)
    }
  } catch (error) {
    const detail = (error as { stderr?: string }).stderr?.trim() || String(error)
    const reason = `no PostgreSQL for the cluster tests (set EFFECT_MP_TEST_POSTGRES_URL, or install Debian's ` +
      `postgresql package): ${detail}`
    if (process.env.EFFECT_MP_TEST_REQUIRE_POSTGRES) throw new Error(reason)
    process.stderr.write(`\n[postgres-setup] the Postgres tests skip: ${reason}\n\n`)
    project.provide("postgresUrl", "")
    project.provide("postgresSkipReason", reason)
    return undefined
  }
}
