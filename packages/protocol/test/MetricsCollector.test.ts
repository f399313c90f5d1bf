import { describe, expect, it } from "@effect/vitest"
import { MetricsCollector } from "../src/index.ts"
import { describeFixtures, describeProperties, type Fixtures } from "./support.ts"

const fixtures: Fixtures<typeof MetricsCollector.Api> = {
  startMetrics: { requests: [""], responses: ["{}"] },
  stopMetrics: { requests: [""], responses: ["{}"] }
}

describe("MetricsCollector wire", () => {
  describeFixtures(MetricsCollector.Api, fixtures)

  it("both calls are mandatory and sent with empty bodies", () => {
    for (const endpoint of Object.values(MetricsCollector.Api.endpoints)) {
      expect(endpoint.optional).toBe(false)
      expect(endpoint.request._tag === "Json" && endpoint.request.emptyBody).toBe(true)
    }
    expect(MetricsCollector.Api.interfaceType).toBe("docker.metricscollector/1.0")
  })
})

describe("MetricsCollector properties", () => {
  describeProperties(MetricsCollector.Api)
})
