#!/usr/bin/env node
import * as ClosedOutput from "@docker-plugin-kit/server/ClosedOutput"
import * as ExitCode from "@docker-plugin-kit/server/ExitCode"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import { run } from "./Cli.ts"
import * as StartFlags from "./StartFlags.ts"

// `dpk serve` runs until SIGINT/SIGTERM: a clean shutdown then is its normal end (exit 0), a failure exits 1. The
// first argument names the command, as for loading it (Cli.ts); the other commands keep Effect's 130 for a stop.
// A reader that goes away (`dpk schema | head -1`) ends no command: output is dropped, `serve` keeps serving, a
// one-shot command finishes with its own status (ClosedOutput.ts).
ClosedOutput.tolerate()
const teardown = process.argv[2] === "serve" ? ExitCode.teardown : undefined
run.pipe(
  Effect.provide(NodeServices.layer),
  Effect.provideService(StartFlags.Restartable, true),
  NodeRuntime.runMain({ teardown })
)
