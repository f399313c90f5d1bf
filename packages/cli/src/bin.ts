#!/usr/bin/env node
import { PluginServer } from "@docker-plugin-kit/server"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import { run } from "./Cli.ts"

// A command stopped by SIGINT/SIGTERM that shut down cleanly (`dpk serve` runs until then) exits 0; a failure, 1.
run.pipe(Effect.provide(NodeServices.layer), NodeRuntime.runMain({ teardown: PluginServer.teardown }))
