/**
 * `dpk probe TARGET`: activate a plugin (name, socket path or URL), run the conformance suites of every subsystem it
 * implements (the semantic suite where one exists, and the generic suite derived from the declarations for every
 * known API), print the report, and exit non-zero on any failure.
 *
 * @since 0.1.0
 */
import type { PluginClient } from "@docker-plugin-kit/client"
import type { Conformance } from "@docker-plugin-kit/testkit"
import * as Console from "effect/Console"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import { folderFlags, foldersOf } from "./discover.ts"

/**
 * The probe found a defect, or could not reach the plugin; the report is already printed.
 *
 * @since 0.1.0
 */
export class ProbeFailed extends Data.TaggedError("ProbeFailed")<{ readonly summary: string }> {
  override readonly [Runtime.errorReported] = false
  override get message() {
    return this.summary
  }
}

/**
 * The result of a probe, as `--json` prints it.
 *
 * @since 0.1.0
 */
export interface Result {
  readonly target: string
  readonly address: string | null
  readonly implements: ReadonlyArray<string>
  readonly reports: ReadonlyArray<Conformance.Report>
  /** Which suites ran against which subsystem, and how many checks each made. */
  readonly suites: ReadonlyArray<{ readonly subsystem: string; readonly suite: string; readonly checks: number }>
  /** Implemented subsystems that had only the generic checks (no semantic suite yet). */
  readonly genericOnly: ReadonlyArray<string>
  /** Implemented subsystems of no known API: nothing was checked. */
  readonly uncovered: ReadonlyArray<string>
  readonly passed: boolean
  readonly error?: string
}

/**
 * Probes a target. The testkit is loaded only here, so other commands start without it.
 *
 * @since 0.1.0
 */
export const probe = (
  target: string,
  folders: ReturnType<typeof foldersOf>,
  checks: Conformance.Options = {}
): Effect.Effect<{ readonly result: Result; readonly text: string }> =>
  Effect.scoped(
    Effect.gen(function* () {
      const { ConformanceReport, ConformanceSuites } = yield* Effect.promise(() => import("@docker-plugin-kit/testkit"))
      const failed = (address: string | null, error: string) => ({
        result: {
          target,
          address,
          implements: [],
          reports: [],
          suites: [],
          genericOnly: [],
          uncovered: [],
          passed: false,
          error
        },
        text: `probe ${target}: ${error}`
      })
      const connected = yield* Effect.result(ConformanceSuites.running(target, { folders }))
      if (connected._tag === "Failure") return failed(null, connected.failure.message)
      const client: PluginClient.PluginClient = connected.success
      const run = yield* Effect.result(ConformanceSuites.runAll(client, { checks }))
      if (run._tag === "Failure") return failed(client.address, `activation failed: ${run.failure.message}`)
      const { implements: subsystems, reports, genericOnly, uncovered } = run.success
      // Nothing checked is not a pass: a plugin that implements nothing known fails.
      const passed = reports.length > 0 && reports.every((r) => r.passed)
      const suites = reports.map((r) => ({
        subsystem: r.subsystem,
        suite: r.suite ?? "semantic",
        checks: r.outcomes.length
      }))
      const lines = [
        `probe ${target} (${client.address}): implements ${subsystems.length === 0 ? "nothing" : subsystems.join(", ")}`,
        ...reports.map(ConformanceReport.format),
        `suites run: ${suites.length === 0 ? "none" : suites.map((s) => `${s.subsystem} ${s.suite} (${s.checks} checks)`).join(", ")}`,
        ...(genericOnly.length === 0
          ? []
          : [`only the generic checks (no semantic suite yet) for: ${genericOnly.join(", ")}`]),
        ...(uncovered.length === 0 ? [] : [`not checked (unknown API): ${uncovered.join(", ")}`]),
        passed ? "result: PASS" : "result: FAIL"
      ]
      return {
        result: {
          target,
          address: client.address,
          implements: subsystems,
          reports,
          suites,
          genericOnly,
          uncovered,
          passed
        },
        text: lines.join("\n")
      }
    })
  )

/**
 * The command.
 *
 * @since 0.1.0
 */
export const command = Command.make(
  "probe",
  {
    target: Argument.String("target").pipe(
      Argument.withDescription(
        "Plugin name (found like the daemon finds it), socket path, or unix://, tcp://, https:// URL"
      )
    ),
    ...folderFlags,
    json: Flag.Boolean("json").pipe(Flag.withDescription("Print JSON"), Flag.withDefault(false)),
    secretName: Flag.String("secret-name").pipe(
      Flag.withDescription("A secret the SecretProvider holds: its value is judged, and failing to answer it fails"),
      Flag.optional
    )
  },
  (values) =>
    Effect.gen(function* () {
      const { result, text } = yield* probe(values.target, foldersOf(values), {
        secretName: Option.getOrUndefined(values.secretName)
      })
      yield* Console.log(values.json ? JSON.stringify(result, null, 2) : text)
      if (!result.passed) {
        return yield* new ProbeFailed({ summary: result.error ?? "conformance checks failed" })
      }
    })
).pipe(Command.withDescription("Activate a plugin and run the conformance suites of everything it implements"))
