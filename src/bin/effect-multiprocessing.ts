#!/usr/bin/env node
/**
 * The package's command line: `npx effect-multiprocessing runner --port 4000
 * --peers host:4000,… [--size n] [--backend processes] [--root dir]`.
 *
 * @internal
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Runtime from "effect/Runtime"
import * as Command from "effect/cli/Command"
import { createRequire } from "node:module"
import { cli } from "./runnerCommand.ts"

const { version } = createRequire(import.meta.url)("../../package.json") as { readonly version: string }

/** A runner stopped by SIGTERM / SIGINT has shut down as asked: exit code 0 (the default teardown says 130). */
const teardown: Runtime.Teardown = (exit, onExit) =>
  Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) ? onExit(0) : Runtime.defaultTeardown(exit, onExit)

Command.run(cli, { version }).pipe(Effect.provide(NodeServices.layer), (program) => NodeRuntime.runMain(program, { teardown }))
