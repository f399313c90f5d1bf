// Prints vitest's JSON report as one plain closing line ("N passed, N failed, N skipped") and fails when
// any test failed or the report is missing, so CI logs say plainly how many tests ran.
import { existsSync, readFileSync } from "node:fs"

const file = process.argv[2] ?? ".tmp/vitest-report.json"
if (!existsSync(file)) {
  console.error(`test-summary: no report at ${file}`)
  process.exit(1)
}
const report = JSON.parse(readFileSync(file, "utf8")) as {
  numPassedTests: number
  numFailedTests: number
  numPendingTests: number
  numTodoTests: number
  success: boolean
}
const skipped = report.numPendingTests + report.numTodoTests
console.log(`${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped`)
process.exit(report.success && report.numFailedTests === 0 ? 0 : 1)
