/**
 * Conformance reports for people: one line per check (✓ pass, ✗ fail, ! warning), and under each failure the
 * offending request and response.
 *
 * @since 0.1.0
 */
import type { PluginClient } from "@docker-plugin-kit/client"
import type * as Conformance from "./Conformance.ts"

const clip = (text: string, max = 300): string => {
  const one = text.replace(/\n$/, "").replace(/\n/g, "\\n")
  return one.length > max ? `${one.slice(0, max)}… (${one.length} chars)` : one
}

const requestLine = (request: PluginClient.Exchange["request"]) =>
  `POST ${request.path}${request.body === "" ? " (empty body)" : ` ${clip(request.body)}`}`

const responseLine = (response: PluginClient.Exchange["response"] | undefined) =>
  response === undefined
    ? "(none)"
    : `${response.status} ${response.text === "" ? "(empty body)" : clip(response.text)}`

const marks = { pass: "✓", fail: "✗", warn: "!" } as const

/**
 * The lines of one outcome.
 *
 * @since 0.1.0
 */
export const outcomeLines = (outcome: Conformance.Outcome): ReadonlyArray<string> => {
  const head = `  ${marks[outcome.status]} ${outcome.check}${outcome.reason === undefined ? "" : `: ${outcome.reason}`}`
  if (outcome.status === "pass") return [head]
  return [
    head,
    ...(outcome.request === undefined ? [] : [`      request:  ${requestLine(outcome.request)}`]),
    ...(outcome.request === undefined ? [] : [`      response: ${responseLine(outcome.response)}`]),
    `      why: ${outcome.why}`
  ]
}

/**
 * Counts of a report.
 *
 * @since 0.1.0
 */
export const counts = (report: Conformance.Report) => ({
  passed: report.outcomes.filter((o) => o.status === "pass").length,
  failed: report.outcomes.filter((o) => o.status === "fail").length,
  warnings: report.outcomes.filter((o) => o.status === "warn").length
})

/**
 * A report as text.
 *
 * @since 0.1.0
 */
export const format = (report: Conformance.Report): string => {
  const c = counts(report)
  const summary = `${c.passed} passed, ${c.failed} failed${c.warnings === 0 ? "" : `, ${c.warnings} warning${c.warnings === 1 ? "" : "s"}`}`
  return [
    `${report.subsystem}${report.suite === undefined ? "" : ` ${report.suite}`} conformance of ${report.target}: ${summary}`,
    ...report.outcomes.flatMap(outcomeLines)
  ].join("\n")
}
