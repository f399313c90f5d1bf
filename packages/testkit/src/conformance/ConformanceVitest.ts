/**
 * Conformance suites as vitest cases: one `it` per check, failing with the check's report lines.
 *
 * @since 0.1.0
 */
import type { PluginClient } from "@docker-plugin-kit/client"
import { describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Conformance from "./Conformance.ts"
import * as ConformanceReport from "./ConformanceReport.ts"

/**
 * Declares a `describe` block with one live test per check of `suite`, each against a fresh client from
 * `client` (e.g. `ConformanceSuites.inProcess(layer)`). Warnings pass.
 *
 * @since 0.1.0
 */
export const describeSuite = <E>(
  name: string,
  suite: Conformance.Suite,
  client: () => Effect.Effect<PluginClient.PluginClient, E, Scope.Scope>,
  options: Conformance.Options = {}
): void => {
  describe(name, () => {
    for (const check of suite.checks) {
      it.live(check.name, () =>
        Effect.gen(function* () {
          const outcome = yield* Conformance.runCheck(check, Conformance.context(yield* client(), options))
          if (outcome.status === "fail") {
            return yield* Effect.die(new Error(ConformanceReport.outcomeLines(outcome).join("\n").trim()))
          }
        })
      )
    }
  })
}
