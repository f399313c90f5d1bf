// One plugin process serving two APIs at once (a network driver that brings its own IPAM), through the real router.
import { DriverError, IpamDriver, NetworkDriver } from "@docker-plugin-kit/protocol"
import { InProcess } from "@docker-plugin-kit/testkit"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"

const networkId = "68514aadf3c2e1b0a9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9bec37d52".slice(0, 64)
const endpointId = "5730a042c3e5f7a9b1d3e5f7a9c1e3f5a7b9d1f3e5a7c9e1b3d5f7a9c1e35982".slice(0, 64)

/** A network driver implementing only the mandatory endpoints. */
const networkLayer = Layer.sync(NetworkDriver.NetworkDriver, () => {
  const networks = new Map<string, NetworkDriver.CreateNetworkRequest>()
  const driver: NetworkDriver.Driver = {
    getCapabilities: () => Effect.succeed({ Scope: "local", ConnectivityScope: "local" }),
    createNetwork: (request) => Effect.sync(() => void networks.set(request.NetworkID, request)).pipe(Effect.as({})),
    deleteNetwork: (request) =>
      networks.delete(request.NetworkID)
        ? Effect.succeed({})
        : Effect.fail(new DriverError({ message: `no such network: ${request.NetworkID}` })),
    allocateNetwork: (request) => Effect.succeed({ Options: request.Options ?? null }),
    freeNetwork: () => Effect.succeed({}),
    createEndpoint: () => Effect.succeed({}),
    endpointOperInfo: () => Effect.succeed({ Value: {} }),
    deleteEndpoint: () => Effect.succeed({}),
    join: (request) =>
      Effect.succeed({
        InterfaceName: { SrcName: `veth${request.EndpointID.slice(0, 7)}`, DstPrefix: "eth" },
        Gateway: networks.get(request.NetworkID)?.IPv4Data?.[0]?.Gateway?.split("/")[0] ?? ""
      }),
    leave: () => Effect.succeed({})
  }
  return driver
})

/** An IPAM driver handing out one /24 per pool request, without GetCapabilities. */
const ipamLayer = Layer.sync(IpamDriver.IpamDriver, () => {
  const pools = new Map<string, { readonly base: string; readonly used: Set<number> }>()
  let next = 77
  const driver: IpamDriver.Driver = {
    getDefaultAddressSpaces: () =>
      Effect.succeed({ LocalDefaultAddressSpace: "stub-local", GlobalDefaultAddressSpace: "stub-global" }),
    requestPool: (request) =>
      Effect.suspend(() => {
        if (request.V6) return Effect.fail(new DriverError({ message: "IPv6 pools are not supported" }))
        const pool = request.Pool === "" ? `10.${next++}.0.0/24` : request.Pool
        const id = `pool-${pool}`
        pools.set(id, { base: pool.split(".").slice(0, 3).join("."), used: new Set() })
        return Effect.succeed({ PoolID: id, Pool: pool, Data: {} })
      }),
    releasePool: (request) => Effect.sync(() => void pools.delete(request.PoolID)).pipe(Effect.as({})),
    requestAddress: (request) =>
      Effect.suspend(() => {
        const pool = pools.get(request.PoolID)
        if (pool === undefined) return Effect.fail(new DriverError({ message: `no such pool: ${request.PoolID}` }))
        const isGateway = request.Options?.[IpamDriver.Labels.RequestAddressType] === IpamDriver.Labels.Gateway
        const host =
          request.Address !== ""
            ? Number(request.Address.split(".")[3])
            : isGateway
              ? 1
              : [...Array(253).keys()].map((i) => i + 2).find((h) => !pool.used.has(h))!
        pool.used.add(host)
        return Effect.succeed({ Address: `${pool.base}.${host}/24`, Data: null })
      }),
    releaseAddress: (request) =>
      Effect.sync(() => void pools.get(request.PoolID)?.used.delete(Number(request.Address.split(".")[3]))).pipe(
        Effect.as({})
      )
  }
  return driver
})

const both = InProcess.make(Layer.mergeAll(networkLayer, ipamLayer))
const networkOnly = InProcess.make(networkLayer)

describe("a plugin serving NetworkDriver and IpamDriver", () => {
  it.effect("/Plugin.Activate lists exactly both", () =>
    Effect.gen(function* () {
      const plugin = yield* both
      const res = yield* plugin.call("/Plugin.Activate")
      expect(res.status).toBe(200)
      expect(res.body).toEqual({ Implements: ["NetworkDriver", "IpamDriver"] })
      const reversed = yield* InProcess.make(Layer.mergeAll(ipamLayer, networkLayer))
      expect((yield* reversed.call("/Plugin.Activate")).body).toEqual({ Implements: ["NetworkDriver", "IpamDriver"] })
    })
  )

  it.effect("registration: the argument-less calls answer their empty bodies", () =>
    Effect.gen(function* () {
      const plugin = yield* both
      const capabilities = yield* plugin.call("/NetworkDriver.GetCapabilities")
      expect([capabilities.status, capabilities.body]).toEqual([200, { Scope: "local", ConnectivityScope: "local" }])
      const ipamCapabilities = yield* plugin.call("/IpamDriver.GetCapabilities")
      expect([ipamCapabilities.status, ipamCapabilities.body]).toEqual([
        200,
        { RequiresMACAddress: false, RequiresRequestReplay: false }
      ])
      const spaces = yield* plugin.call("/IpamDriver.GetDefaultAddressSpaces")
      expect(spaces.body).toEqual({ LocalDefaultAddressSpace: "stub-local", GlobalDefaultAddressSpace: "stub-global" })
    })
  )

  it.effect("docker network create, run, rm: IPAM and network calls in the daemon's order", () =>
    Effect.gen(function* () {
      const plugin = yield* both
      const pool = yield* plugin.call("/IpamDriver.RequestPool", {
        AddressSpace: "stub-local",
        Pool: "",
        SubPool: "",
        Options: {},
        V6: false
      })
      expect(pool.body).toEqual({ PoolID: "pool-10.77.0.0/24", Pool: "10.77.0.0/24", Data: {} })
      const gateway = yield* plugin.call("/IpamDriver.RequestAddress", {
        PoolID: "pool-10.77.0.0/24",
        Address: "",
        Options: { RequestAddressType: "com.docker.network.gateway" }
      })
      expect(gateway.body).toEqual({ Address: "10.77.0.1/24", Data: null })
      const created = yield* plugin.call("/NetworkDriver.CreateNetwork", {
        NetworkID: networkId,
        Options: { "com.docker.network.enable_ipv6": false, "com.docker.network.generic": {} },
        IPv4Data: [{ AddressSpace: "stub-local", Gateway: "10.77.0.1/24", Pool: "10.77.0.0/24" }],
        IPv6Data: []
      })
      expect([created.status, created.body]).toEqual([200, {}])

      const address = yield* plugin.call("/IpamDriver.RequestAddress", {
        PoolID: "pool-10.77.0.0/24",
        Address: "",
        Options: null
      })
      expect(address.body).toEqual({ Address: "10.77.0.2/24", Data: null })
      const endpoint = yield* plugin.call("/NetworkDriver.CreateEndpoint", {
        NetworkID: networkId,
        EndpointID: endpointId,
        Interface: { Address: "10.77.0.2/24", AddressIPv6: "", MacAddress: "" },
        Options: {}
      })
      expect([endpoint.status, endpoint.body]).toEqual([200, {}])
      const join = yield* plugin.call("/NetworkDriver.Join", {
        NetworkID: networkId,
        EndpointID: endpointId,
        SandboxKey: "/var/run/docker/netns/98bc457c16a3",
        Options: { "com.docker.network.endpoint.exposedports": [], "com.docker.network.portmap": [] }
      })
      expect(join.body).toEqual({ InterfaceName: { SrcName: "veth5730a04", DstPrefix: "eth" }, Gateway: "10.77.0.1" })

      for (const [path, body] of [
        ["/NetworkDriver.Leave", { NetworkID: networkId, EndpointID: endpointId }],
        ["/NetworkDriver.DeleteEndpoint", { NetworkID: networkId, EndpointID: endpointId }],
        ["/IpamDriver.ReleaseAddress", { PoolID: "pool-10.77.0.0/24", Address: "10.77.0.2" }],
        ["/IpamDriver.ReleaseAddress", { PoolID: "pool-10.77.0.0/24", Address: "10.77.0.1" }],
        ["/IpamDriver.ReleasePool", { PoolID: "pool-10.77.0.0/24" }],
        ["/NetworkDriver.DeleteNetwork", { NetworkID: networkId }]
      ] as const) {
        const res = yield* plugin.call(path, body)
        expect([path, res.status, res.body]).toEqual([path, 200, {}])
      }
    })
  )

  it.effect("IPAM failures answer non-200 with Err, which is the form the daemon reads on non-200", () =>
    Effect.gen(function* () {
      const plugin = yield* both
      const v6 = yield* plugin.call("/IpamDriver.RequestPool", {
        AddressSpace: "stub-local",
        Pool: "",
        SubPool: "",
        Options: null,
        V6: true
      })
      expect([v6.status, v6.body]).toEqual([500, { Err: "IPv6 pools are not supported" }])
      const unknown = yield* plugin.call("/IpamDriver.RequestAddress", { PoolID: "nope", Address: "", Options: null })
      expect([unknown.status, unknown.body]).toEqual([500, { Err: "no such pool: nope" }])
      const bad = yield* plugin.call("/IpamDriver.ReleaseAddress", { PoolID: "p", Address: "10.77.0.2/24" })
      expect(bad.status).toBe(400)
      expect((bad.body as { Err: string }).Err).toContain("Address: Expected an IP address")
    })
  )

  it.effect("an IPAM answer the daemon could not parse is refused with a message naming the field", () =>
    Effect.gen(function* () {
      const broken = Layer.succeed(IpamDriver.IpamDriver, {
        getDefaultAddressSpaces: () =>
          Effect.succeed({ LocalDefaultAddressSpace: "l", GlobalDefaultAddressSpace: "g" }),
        requestPool: () => Effect.succeed({ PoolID: "p", Pool: "10.77.0.0", Data: null }),
        releasePool: () => Effect.succeed({}),
        requestAddress: () => Effect.succeed({ Address: "10.77.0.2/24", Data: null }),
        releaseAddress: () => Effect.succeed({})
      })
      const plugin = yield* InProcess.make(Layer.mergeAll(networkLayer, broken))
      const res = yield* plugin.call("/IpamDriver.RequestPool", {
        AddressSpace: "l",
        Pool: "",
        SubPool: "",
        Options: null,
        V6: false
      })
      expect(res.status).toBe(500)
      expect((res.body as { Err: string }).Err).toContain("Pool: Expected a CIDR address")
    })
  )

  it.effect("absent optional NetworkDriver endpoints answer as declared", () =>
    Effect.gen(function* () {
      const plugin = yield* both
      const ids = { NetworkID: networkId, EndpointID: endpointId }
      for (const [path, body] of [
        ["/NetworkDriver.ProgramExternalConnectivity", { ...ids, Options: {} }],
        ["/NetworkDriver.RevokeExternalConnectivity", ids],
        [
          "/NetworkDriver.DiscoverNew",
          { DiscoveryType: 1, DiscoveryData: { Address: "10.0.0.12", BindAddress: "", Self: false } }
        ],
        [
          "/NetworkDriver.DiscoverDelete",
          { DiscoveryType: 1, DiscoveryData: { Address: "10.0.0.12", BindAddress: "", Self: false } }
        ]
      ] as const) {
        const endpoint = Object.values(NetworkDriver.Api.endpoints).find((e) => e.path === path)!
        const res = yield* plugin.call(path, body)
        expect([path, res.status, res.body]).toEqual([
          path,
          200,
          endpoint.whenAbsent._tag === "Respond" ? endpoint.whenAbsent.body : undefined
        ])
        expect(res.body).toEqual({})
      }
    })
  )
})

describe("a plugin serving NetworkDriver only", () => {
  it.effect("activates as NetworkDriver and exposes no IpamDriver route", () =>
    Effect.gen(function* () {
      const plugin = yield* networkOnly
      expect((yield* plugin.call("/Plugin.Activate")).body).toEqual({ Implements: ["NetworkDriver"] })
      expect((yield* plugin.call("/NetworkDriver.GetCapabilities")).status).toBe(200)
      for (const endpoint of Object.values(IpamDriver.Api.endpoints)) {
        const res = yield* plugin.call(endpoint.path, {})
        expect([endpoint.path, res.status]).toEqual([endpoint.path, 404])
        expect(res.body).toHaveProperty("Err")
      }
    })
  )
})
