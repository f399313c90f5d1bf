import { describe, expect, it } from "@effect/vitest"
import { Apis, JsonSchema, Manifest, PluginApi } from "../src/index.ts"
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
    for (const { api, endpoint } of allEndpoints) {
      if (endpoint.response._tag !== "Json") continue
      const doc = JsonSchema.forEndpoint(endpoint, api.errorField).response as { schema: { properties?: object } }
      expect(Object.keys(doc.schema.properties ?? {})).not.toContain("Err")
      expect(Object.keys(doc.schema.properties ?? {})).not.toContain("Error")
    }
  })

  it("the fixed answer of every absent optional endpoint is a valid response", () => {
    for (const { endpoint } of allEndpoints) {
      if (endpoint.whenAbsent._tag !== "Respond") continue
      expect(endpoint.optional).toBe(true)
      if (endpoint.response._tag === "Json") expectRoundTrip(endpoint.response.schema, endpoint.whenAbsent.body)
    }
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
      "LogDriver.Capabilities"
    ])
  })
})
