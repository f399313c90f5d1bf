/**
 * The testkit's vitest integration (`@docker-plugin-kit/testkit/vitest`), apart from the main entry so that
 * nothing outside a test run (e.g. `dpk probe`) loads vitest.
 *
 * @since 0.1.0
 */
export * as ConformanceVitest from "./conformance/ConformanceVitest.ts"
