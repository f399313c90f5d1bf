import { describe, expect, it } from "@effect/vitest"
import { NetworkDriver } from "../src/index.ts"
import {
  describeFixtures,
  describeProperties,
  expectDecodeFailure,
  expectEncodeFailure,
  expectRoundTrip,
  type Fixtures,
  parseBody
} from "./support.ts"

const nid = "fdc680e6b1c24f2f0a9d1e3c5b7a9f8e6d4c2b0a1f3e5d7c9b8a6f4e2d0c7a18ee".slice(0, 64)
const eid = "5730a042c3e5f7a9b1d3e5f7a9c1e3f5a7b9d1f3e5a7c9e1b3d5f7a9c1e35982".slice(0, 64)
const ids = `"NetworkID":"${nid}","EndpointID":"${eid}"`
const sandboxOptions =
  '{"com.docker.network.endpoint.exposedports":[{"Proto":6,"Port":81},{"Proto":6,"Port":80}],' +
  '"com.docker.network.portmap":[{"Proto":6,"IP":"","Port":80,"HostIP":"","HostPort":8080,"HostPortEnd":8080}]}'

const fixtures: Fixtures<typeof NetworkDriver.Api> = {
  getCapabilities: {
    requests: [""],
    responses: [
      '{"Scope":"local","ConnectivityScope":"global"}',
      '{"Scope":"global"}',
      '{"Scope":"local","ConnectivityScope":""}',
      // Engine 28 and later read the flag; older daemons ignore it.
      '{"Scope":"local","ConnectivityScope":"local","GwAllocChecker":true}'
    ]
  },
  createNetwork: {
    requests: [
      // docker network create -d D --ipam-driver D --subnet ... --gateway ... --aux-address a=... -o k=v --internal
      `{"NetworkID":"${nid}","Options":{"com.docker.network.enable_ipv6":false,"com.docker.network.generic":{"k":"v"},"com.docker.network.internal":true},"IPv4Data":[{"AddressSpace":"probe-local","AuxAddresses":{"a":"10.77.0.5/24"},"Gateway":"10.77.0.254/24","Pool":"10.77.0.0/24"}],"IPv6Data":[]}\n`,
      `{"NetworkID":"${nid}","Options":{"com.docker.network.enable_ipv6":true,"com.docker.network.generic":{}},"IPv4Data":[{"AddressSpace":"LocalDefault","Gateway":"172.18.0.1/16","Pool":"172.18.0.0/16"}],"IPv6Data":[{"AddressSpace":"LocalDefault","Gateway":"fd00:77::1/64","Pool":"fd00:77::/64"}]}\n`,
      `{"NetworkID":"${nid}","Options":null,"IPv4Data":null,"IPv6Data":null}\n`
    ],
    responses: ["{}"]
  },
  deleteNetwork: { requests: [`{"NetworkID":"${nid}"}\n`], responses: ["{}"] },
  allocateNetwork: {
    requests: [
      `{"NetworkID":"${nid}","Options":{"k":"v"},"IPv4Data":[{"AddressSpace":"","Gateway":"10.0.9.1/24","Pool":"10.0.9.0/24"}],"IPv6Data":null}\n`,
      `{"NetworkID":"${nid}","Options":null,"IPv4Data":[{"AddressSpace":"","Gateway":"10.0.9.1/24","Pool":"10.0.9.0/24"}],"IPv6Data":null}\n`
    ],
    responses: ['{"Options":{"k":"v","vxlan-id":"4097"}}', '{"Options":null}', "{}"]
  },
  freeNetwork: { requests: [`{"NetworkID":"${nid}"}\n`], responses: ["{}"] },
  createEndpoint: {
    requests: [
      `{${ids},"Interface":{"Address":"10.123.0.10/24","AddressIPv6":"","MacAddress":"02:42:b3:80:d5:fa"},"Options":{"com.docker.network.endpoint.dnsservers":["1.1.1.1"],"com.docker.network.endpoint.exposedports":[{"Proto":6,"Port":81},{"Proto":6,"Port":80}],"com.docker.network.portmap":[{"Proto":6,"IP":"","Port":80,"HostIP":"","HostPort":8080,"HostPortEnd":8080}]}}\n`,
      `{${ids},"Interface":{"Address":"10.123.0.11/24","AddressIPv6":"fd00:123::11/64","MacAddress":""},"Options":{"com.docker.network.endpoint.macaddress":"AkKsEQAJ","opt":"x"}}\n`,
      `{${ids},"Interface":{"Address":"","AddressIPv6":"","MacAddress":""},"Options":{}}\n`
    ],
    responses: [
      '{"Interface":{"Address":"","AddressIPv6":"","MacAddress":"6e:75:32:60:44:c9"}}',
      '{"Interface":{"MacAddress":"6e:75:32:60:44:c9"}}',
      '{"Interface":null}',
      "{}"
    ]
  },
  endpointOperInfo: {
    requests: [`{${ids}}\n`],
    responses: ['{"Value":{}}', '{"Value":{"ports":[80,443],"veth":"veth1a2b3c"}}', '{"Value":null}']
  },
  deleteEndpoint: { requests: [`{${ids}}\n`], responses: ["{}"] },
  join: {
    requests: [
      `{${ids},"SandboxKey":"/var/run/docker/netns/98bc457c16a3","Options":${sandboxOptions}}\n`,
      `{${ids},"SandboxKey":"/var/run/docker/netns/98bc457c16a3","Options":{"com.docker.network.endpoint.exposedports":[],"com.docker.network.generic":{"ChildEndpoints":["c1"],"ParentEndpoints":[]},"com.docker.network.portmap":[]}}\n`
    ],
    responses: [
      '{"InterfaceName":{"SrcName":"veth1a2b3c","DstPrefix":"eth"},"Gateway":"10.123.0.1","GatewayIPv6":"","StaticRoutes":[{"Destination":"192.168.50.0/24","RouteType":0,"NextHop":"10.123.0.254"},{"Destination":"10.200.0.0/16","RouteType":1}],"DisableGatewayService":false}',
      '{"InterfaceName":{"SrcName":"veth9","DstPrefix":"eth","DstName":"ignored"},"GatewayIPv6":"fd00:123::1"}',
      '{"InterfaceName":null,"Gateway":"","GatewayIPv6":"","StaticRoutes":null,"DisableGatewayService":true}',
      "{}"
    ]
  },
  leave: { requests: [`{${ids}}\n`], responses: ["{}"] },
  discoverNew: {
    requests: [
      '{"DiscoveryType":1,"DiscoveryData":{"Address":"10.0.0.12","BindAddress":"","Self":false}}\n',
      '{"DiscoveryType":1,"DiscoveryData":{"Address":"192.168.65.3","BindAddress":"0.0.0.0","Self":true}}\n'
    ],
    responses: ["{}"]
  },
  discoverDelete: {
    requests: ['{"DiscoveryType":1,"DiscoveryData":{"Address":"10.0.0.12","BindAddress":"","Self":false}}\n'],
    responses: ["{}"]
  },
  programExternalConnectivity: { requests: [`{${ids},"Options":${sandboxOptions}}\n`], responses: ["{}"] },
  revokeExternalConnectivity: { requests: [`{${ids}}\n`], responses: ["{}"] },
  gwAllocCheck: {
    requests: [
      // docker network create --internal on Engine 28: the options the coming CreateNetwork carries
      '{"Options":{"com.docker.network.enable_ipv4":true,"com.docker.network.enable_ipv6":false,"com.docker.network.generic":{"mtu":"1400"},"com.docker.network.internal":true}}\n',
      '{"Options":null}\n'
    ],
    responses: ['{"SkipIPv4":true,"SkipIPv6":true}', '{"SkipIPv4":false}', "{}"]
  }
}

describe("NetworkDriver wire", () => {
  describeFixtures(NetworkDriver.Api, fixtures)

  it("GetCapabilities is mandatory and sent with an empty body", () => {
    const endpoint = NetworkDriver.Api.endpoints.getCapabilities
    expect(endpoint.optional).toBe(false)
    expect(endpoint.request.emptyBody).toBe(true)
  })

  it("external connectivity and discovery are optional and answer {} when absent", () => {
    for (const key of [
      "programExternalConnectivity",
      "revokeExternalConnectivity",
      "discoverNew",
      "discoverDelete"
    ] as const) {
      const endpoint = NetworkDriver.Api.endpoints[key]
      expect(endpoint.optional).toBe(true)
      expect(endpoint.whenAbsent).toEqual({ _tag: "Respond", body: {} })
    }
    const optional = Object.values(NetworkDriver.Api.endpoints).filter((e) => e.optional)
    expect(optional.map((e) => e.method).sort()).toEqual([
      "DiscoverDelete",
      "DiscoverNew",
      "GwAllocCheck",
      "ProgramExternalConnectivity",
      "RevokeExternalConnectivity"
    ])
  })

  it("GwAllocCheck is optional and answers 404 when absent (the daemon only calls it after GwAllocChecker)", () => {
    const endpoint = NetworkDriver.Api.endpoints.gwAllocCheck
    expect(endpoint.path).toBe("/NetworkDriver.GwAllocCheck")
    expect(endpoint.optional).toBe(true)
    expect(endpoint.whenAbsent).toEqual({ _tag: "NotFound" })
  })

  it("reads MAC addresses in every form Go's net.ParseMAC accepts, and nothing else", () => {
    const mac = (MacAddress: string) => ({ Interface: { MacAddress } })
    for (const ok of [
      "",
      "02:42:ac:11:00:02",
      "02-42-AC-11-00-02",
      "0242.ac11.0002",
      "02:00:5e:10:00:00:00:01",
      "0200.5e10.0000.0001",
      "00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01",
      "0000.0000.fe80.0000.0000.0000.0200.5e10.0000.0001"
    ]) {
      expectRoundTrip(NetworkDriver.CreateEndpointResponse, mac(ok))
    }
    for (const bad of [
      "02:42:ac:11:00",
      "02:42-ac:11:00:02",
      "0242ac110002",
      "02:42:ac:11:00:02:03",
      "0242.ac11.00023",
      "02:42:ac:11:00:0g",
      " 02:42:ac:11:00:02"
    ]) {
      expectEncodeFailure(NetworkDriver.CreateEndpointResponse, mac(bad), "Interface.MacAddress")
    }
  })

  it("keeps the daemon's option values as they came (MAC as base64, port maps as objects)", () => {
    const request = expectRoundTrip(
      NetworkDriver.CreateEndpointRequest,
      parseBody(fixtures.createEndpoint.requests[1]!)
    )
    expect(request.Options?.[NetworkDriver.OptionKeys.MacAddress]).toBe("AkKsEQAJ")
    expect(request.Interface.MacAddress).toBe("")
  })

  it("bad daemon payloads fail with a message naming the field", () => {
    expectDecodeFailure(NetworkDriver.NetworkRequest, {}, "NetworkID")
    expectDecodeFailure(
      NetworkDriver.CreateNetworkRequest,
      { NetworkID: nid, Options: {}, IPv4Data: [{ AddressSpace: "x", Pool: "10.77.0.0" }], IPv6Data: [] },
      "IPv4Data.0.Pool",
      "CIDR"
    )
    expectDecodeFailure(
      NetworkDriver.CreateNetworkRequest,
      { NetworkID: nid, Options: {}, IPv4Data: [], IPv6Data: [{ Pool: "fd00::/64" }] },
      "IPv6Data.0.AddressSpace"
    )
    expectDecodeFailure(
      NetworkDriver.CreateEndpointRequest,
      { NetworkID: nid, EndpointID: eid, Interface: null, Options: {} },
      "Interface"
    )
    expectDecodeFailure(
      NetworkDriver.DiscoveryNotification,
      { DiscoveryType: 2, DiscoveryData: { Address: "", BindAddress: "", Self: false } },
      "DiscoveryType"
    )
    expectDecodeFailure(NetworkDriver.JoinRequest, { NetworkID: nid, EndpointID: eid, Options: null }, "SandboxKey")
  })

  it("driver answers the daemon cannot use are refused before they are sent", () => {
    expectEncodeFailure(NetworkDriver.CapabilitiesResponse, { Scope: "Local" }, "Scope")
    expectEncodeFailure(
      NetworkDriver.CapabilitiesResponse,
      { Scope: "local", ConnectivityScope: "swarm" },
      "ConnectivityScope"
    )
    expectEncodeFailure(NetworkDriver.JoinResponse, { Gateway: "10.0.0.1/24" }, "Gateway", "IP address")
    expectEncodeFailure(
      NetworkDriver.JoinResponse,
      { StaticRoutes: [{ Destination: "10.0.0.0/8", RouteType: 2 }] },
      "StaticRoutes.0.RouteType"
    )
    expectEncodeFailure(
      NetworkDriver.JoinResponse,
      { StaticRoutes: [{ Destination: "10.0.0.1", RouteType: 0 }] },
      "StaticRoutes.0.Destination"
    )
    expectEncodeFailure(NetworkDriver.JoinResponse, { InterfaceName: { SrcName: "veth0" } }, "InterfaceName.DstPrefix")
    expectEncodeFailure(
      NetworkDriver.CreateEndpointResponse,
      { Interface: { MacAddress: "6e:75:32:60:44" } },
      "Interface.MacAddress"
    )
    expectEncodeFailure(
      NetworkDriver.CreateEndpointResponse,
      { Interface: { Address: "10.0.0.5" } },
      "Interface.Address"
    )
    expectEncodeFailure(NetworkDriver.GwAllocCheckResponse, { SkipIPv4: "true" }, "SkipIPv4")
    expectEncodeFailure(NetworkDriver.AllocateNetworkResponse, { Options: { "vxlan-id": 4097 } }, "Options.vxlan-id")
  })

  it("a next-hop route (RouteType 0) without its NextHop is refused: the container could not start with it", () => {
    // The daemon takes such a Join answer, then fails the container's start looking for the route to no next hop.
    for (const route of [
      { Destination: "10.0.0.0/8", RouteType: 0 },
      { Destination: "10.0.0.0/8", RouteType: 0, NextHop: "" }
    ]) {
      expectEncodeFailure(NetworkDriver.JoinResponse, { StaticRoutes: [route] }, "StaticRoutes.0.NextHop")
    }
    expectDecodeFailure(
      NetworkDriver.JoinResponse,
      parseBody('{"StaticRoutes":[{"Destination":"10.0.0.0/8","RouteType":0}]}'),
      "StaticRoutes.0.NextHop"
    )
    // A connected route needs none; a next-hop route with one is fine.
    expectRoundTrip(NetworkDriver.JoinResponse, {
      StaticRoutes: [
        { Destination: "10.200.0.0/16", RouteType: 1 },
        { Destination: "192.168.50.0/24", RouteType: 0, NextHop: "10.123.0.254" }
      ]
    })
  })
})

describe("NetworkDriver properties", () => {
  describeProperties(NetworkDriver.Api)
})
