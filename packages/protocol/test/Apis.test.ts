import { describe, expect, it } from "@effect/vitest"
import { Duration } from "effect"
import { Apis, Endpoint, JsonSchema, Manifest, PluginApi } from "../src/index.ts"
import { expectRoundTrip } from "./support.ts"

const allEndpoints = Apis.all.flatMap((api) => PluginApi.endpointList(api).map((endpoint) => ({ api, endpoint })))

describe("Apis registry", () => {
  it("lists every subsystem the daemon knows, once, in the Subsystem order", () => {
    expect(Apis.all.map((api) => api.subsystem)).toEqual([
      "VolumeDriver",
      "NetworkDriver",
      "IpamDriver",
      "GraphDriver",
      "authz",
      "LogDriver",
      "secretprovider",
      "MetricsCollector"
    ])
    for (const api of Apis.all) expect(Apis.bySubsystem(api.subsystem)).toBe(api)
    expect(Apis.bySubsystem("LoggingDriver")).toBeUndefined()
  })

  it("prefixes, service keys and v2 interface types are unique; interface types are lower case", () => {
    for (const field of ["prefix", "serviceKey", "interfaceType"] as const) {
      const values = Apis.all.map((api) => api[field])
      expect(new Set(values).size).toBe(values.length)
    }
    for (const api of Apis.all) {
      expect(api.interfaceType).toMatch(/^docker\.[a-z]+\/1\.0$/)
      expect(api.interfaceType).toBe(`docker.${api.subsystem.toLowerCase()}/1.0`)
    }
  })

  it("only IPAM reports errors in Error", () => {
    expect(Apis.all.filter((api) => api.errorField === "Error").map((api) => api.subsystem)).toEqual(["IpamDriver"])
  })

  it("every endpoint path is unique, derived from prefix and method, and distinct from /Plugin.Activate", () => {
    const paths = allEndpoints.map(({ endpoint }) => endpoint.path)
    expect(new Set(paths).size).toBe(paths.length)
    expect(paths).not.toContain(Manifest.Activate.path)
    for (const { api, endpoint } of allEndpoints) {
      expect(endpoint.api).toBe(api.prefix)
      expect(endpoint.path).toBe(`/${api.prefix}.${endpoint.method}`)
    }
    expect(paths.length).toBe(8 + 15 + 6 + 15 + 2 + 4 + 1 + 2)
  })

  it("JsonSchema.forEndpointName documents every endpoint and Plugin.Activate", () => {
    for (const { api, endpoint } of allEndpoints) {
      const doc = JsonSchema.forEndpointName(`${endpoint.api}.${endpoint.method}`)
      expect(doc).toBeDefined()
      expect(doc?.path).toBe(endpoint.path)
      expect(doc?.errorField).toBe(api.errorField)
      expect(doc?.optional).toBe(endpoint.optional)
      expect(doc?.request).toBeDefined()
      expect(doc?.response).toBeDefined()
      expect(JSON.parse(JSON.stringify(doc))).toEqual(doc)
    }
    expect(JsonSchema.forEndpointName("Plugin.Activate")?.path).toBe("/Plugin.Activate")
    expect(JsonSchema.forEndpointName("NetworkDriver.Nope")).toBeUndefined()
  })

  it("response schemas never declare the error field (the server adds it on failure only)", () => {
    for (const { endpoint } of allEndpoints) {
      if (endpoint.response._tag !== "Json") continue
      const doc = JsonSchema.forEndpoint(endpoint).response as { schema: { properties?: object } }
      expect(Object.keys(doc.schema.properties ?? {})).not.toContain("Err")
      expect(Object.keys(doc.schema.properties ?? {})).not.toContain("Error")
    }
  })

  it("the answer of every absent optional endpoint is a valid response, whatever else the driver implements", () => {
    for (const { endpoint } of allEndpoints) {
      if (endpoint.whenAbsent._tag === "NotFound") continue
      expect(endpoint.optional).toBe(true)
      for (const implemented of [() => true, () => false]) {
        const body = Endpoint.absentBody(endpoint.whenAbsent, implemented)
        if (endpoint.response._tag === "Json") expectRoundTrip(endpoint.response.schema, body)
      }
    }
  })

  it("every endpoint carries its API's error field, the daemon's timeout and the server's deadline", () => {
    for (const { api, endpoint } of allEndpoints) {
      expect(endpoint.errorField).toBe(api.errorField)
      const streamed = Endpoint.isStreamed(endpoint)
      expect(Duration.isFinite(endpoint.deadline)).toBe(!streamed)
      if (!streamed) expect(Duration.toMillis(endpoint.deadline)).toBe(120_000)
      expect(endpoint.daemonTimeout === undefined).toBe(api.subsystem !== "VolumeDriver")
    }
    const streamed = allEndpoints.filter(({ endpoint }) => Endpoint.isStreamed(endpoint))
    expect(streamed.map(({ endpoint }) => `${endpoint.api}.${endpoint.method}`)).toEqual([
      "GraphDriver.Diff",
      "GraphDriver.ApplyDiff",
      "LogDriver.ReadLogs"
    ])
    expect([Manifest.Activate.errorField, Manifest.Activate.daemonTimeout]).toEqual(["Err", undefined])
  })

  it("the endpoints the daemon calls with an empty body are exactly the documented ones", () => {
    const empty = allEndpoints
      .filter(({ endpoint }) => endpoint.request._tag === "Json" && endpoint.request.emptyBody)
      .map(({ endpoint }) => `${endpoint.api}.${endpoint.method}`)
    expect(empty).toEqual([
      "NetworkDriver.GetCapabilities",
      "IpamDriver.GetCapabilities",
      "IpamDriver.GetDefaultAddressSpaces",
      "LogDriver.Capabilities",
      "MetricsCollector.StartMetrics",
      "MetricsCollector.StopMetrics"
    ])
    expect(Manifest.Activate.request.emptyBody).toBe(true)
  })

  it("optional endpoints are exactly the ones the daemon tolerates missing", () => {
    const optional = allEndpoints
      .filter(({ endpoint }) => endpoint.optional)
      .map(({ endpoint }) => `${endpoint.api}.${endpoint.method}`)
    expect(optional).toEqual([
      "VolumeDriver.Capabilities",
      "NetworkDriver.DiscoverNew",
      "NetworkDriver.DiscoverDelete",
      "NetworkDriver.ProgramExternalConnectivity",
      "NetworkDriver.RevokeExternalConnectivity",
      "NetworkDriver.GwAllocCheck",
      "IpamDriver.GetCapabilities",
      "GraphDriver.Capabilities",
      "LogDriver.Capabilities",
      "LogDriver.ReadLogs"
    ])
  })
})
