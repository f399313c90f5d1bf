import { describe, expect, it } from "@effect/vitest"
import { Arbitrary, Result, Schema } from "effect"
import { NetAddress } from "effect/net"
import { IpamDriver, WireCodec } from "../src/index.ts"
import {
  describeFixtures,
  describeProperties,
  expectDecodeFailure,
  expectEncodeFailure,
  expectRoundTrip,
  type Fixtures
} from "./support.ts"

const fixtures: Fixtures<typeof IpamDriver.Api> = {
  getCapabilities: {
    requests: [""],
    responses: ['{"RequiresMACAddress":true,"RequiresRequestReplay":false}', '{"RequiresMACAddress":true}', "{}"]
  },
  getDefaultAddressSpaces: {
    requests: [""],
    responses: ['{"LocalDefaultAddressSpace":"probe-local","GlobalDefaultAddressSpace":"probe-global"}']
  },
  requestPool: {
    requests: [
      '{"AddressSpace":"probe-local","Pool":"","SubPool":"","Options":{},"V6":false}\n',
      '{"AddressSpace":"probe-local","Pool":"10.77.0.0/24","SubPool":"10.77.0.128/25","Options":{"io":"1"},"V6":false}\n',
      '{"AddressSpace":"probe-local","Pool":"fd00:77::/64","SubPool":"","Options":{},"V6":true}\n',
      '{"AddressSpace":"probe-local","Pool":"","SubPool":"","Options":null,"V6":true}\n'
    ],
    responses: [
      '{"PoolID":"pool-1","Pool":"10.77.0.0/24","Data":{"com.docker.network.gateway":"10.77.0.1/24"}}',
      '{"PoolID":"pool-v6","Pool":"fd00:77::/64","Data":null}',
      '{"PoolID":"pool-2","Pool":"10.78.0.0/16","Data":{}}'
    ]
  },
  releasePool: { requests: ['{"PoolID":"pool-1"}\n'], responses: ["{}"] },
  requestAddress: {
    requests: [
      '{"PoolID":"pool-auto","Address":"","Options":{"RequestAddressType":"com.docker.network.gateway"}}\n',
      '{"PoolID":"pool-10.77.0.0/24","Address":"10.77.0.254","Options":{"RequestAddressType":"com.docker.network.gateway"}}\n',
      '{"PoolID":"pool-10.77.0.0/24","Address":"10.77.0.5","Options":null}\n',
      '{"PoolID":"pool-auto","Address":"","Options":{"com.docker.network.endpoint.macaddress":"02:42:b3:80:d5:fa"}}\n',
      '{"PoolID":"pool-v6","Address":"fd00:77::5","Options":null}\n'
    ],
    responses: ['{"Address":"10.77.0.254/24","Data":{}}', '{"Address":"fd00:77::2/64","Data":null}']
  },
  releaseAddress: {
    requests: [
      '{"PoolID":"pool-10.77.0.0/24","Address":"10.77.0.5"}\n',
      '{"PoolID":"pool-v6","Address":"fd00:77::2"}\n'
    ],
    responses: ["{}"]
  }
}

describe("IpamDriver wire", () => {
  describeFixtures(IpamDriver.Api, fixtures)

  it("errors travel in Error, and the argument-less calls have empty bodies", () => {
    expect(IpamDriver.Api.errorField).toBe("Error")
    expect(IpamDriver.Api.endpoints.getCapabilities.request.emptyBody).toBe(true)
    expect(IpamDriver.Api.endpoints.getDefaultAddressSpaces.request.emptyBody).toBe(true)
    expect(IpamDriver.Api.endpoints.getDefaultAddressSpaces.optional).toBe(false)
  })

  it("an absent GetCapabilities answers the daemon's defaults, a valid response", () => {
    const absent = IpamDriver.Api.endpoints.getCapabilities.whenAbsent
    expect(absent).toEqual({ _tag: "Respond", body: { RequiresMACAddress: false, RequiresRequestReplay: false } })
    if (absent._tag === "Respond") expectRoundTrip(IpamDriver.CapabilitiesResponse, absent.body)
  })

  it("bad daemon payloads fail with a message naming the field", () => {
    expectDecodeFailure(
      IpamDriver.RequestPoolRequest,
      { AddressSpace: "s", Pool: "", SubPool: "", Options: {}, V6: "false" },
      "V6"
    )
    expectDecodeFailure(
      IpamDriver.RequestPoolRequest,
      { AddressSpace: "s", Pool: "10.77.0.0/33", SubPool: "", Options: {}, V6: false },
      "Pool: Expected a CIDR"
    )
    expectDecodeFailure(
      IpamDriver.RequestAddressRequest,
      { PoolID: "p", Address: "10.0.0.5/24", Options: null },
      "Address"
    )
    expectDecodeFailure(IpamDriver.ReleaseAddressRequest, { PoolID: "p", Address: "" }, "Address")
    expectDecodeFailure(IpamDriver.ReleasePoolRequest, { PoolID: 7 }, "PoolID")
  })

  it("answers the daemon cannot parse are refused before they are sent", () => {
    expectEncodeFailure(IpamDriver.RequestPoolResponse, { PoolID: "p", Pool: "" }, "Pool")
    expectEncodeFailure(IpamDriver.RequestPoolResponse, { PoolID: "p", Pool: "10.77.0.0" }, "Pool")
    expectEncodeFailure(IpamDriver.RequestAddressResponse, { Address: "10.77.0.254" }, "Address", "CIDR")
    expectEncodeFailure(
      IpamDriver.AddressSpacesResponse,
      { LocalDefaultAddressSpace: "l" },
      "GlobalDefaultAddressSpace"
    )
  })
})

// Addresses as Go formats them (net.IP.String / net.IPNet.String), built independently of the schemas' own hints.
const octet = Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 255 })))
const segment = Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 0xffff })))
const ipv4 = Arbitrary.all([octet, octet, octet, octet]).pipe(Arbitrary.map((octets) => octets.join(".")))
const ipv6 = Arbitrary.all([segment, segment, segment, segment, segment, segment, segment, segment]).pipe(
  Arbitrary.map((segments) => NetAddress.formatIp(Result.getOrThrow(NetAddress.ipv6FromSegments(segments))))
)
const prefix = (max: number) => Arbitrary.schema(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: max })))
const cidr4 = Arbitrary.all([ipv4, prefix(32)]).pipe(Arbitrary.map(([ip, p]) => `${ip}/${p}`))
const cidr6 = Arbitrary.all([ipv6, prefix(128)]).pipe(Arbitrary.map(([ip, p]) => `${ip}/${p}`))

const accepts = (schema: Schema.Top & { readonly DecodingServices: never; readonly EncodingServices: never }) => {
  const decode = WireCodec.decoder(schema)
  return (value: string) => Result.isSuccess(decode(value))
}

describe("IpamDriver address schemas", () => {
  it.prop("Cidr accepts every IPv4 CIDR, host bits included", [cidr4], ([value]) => {
    expect(accepts(IpamDriver.Cidr)(value)).toBe(true)
    expect(accepts(IpamDriver.IpAddress)(value)).toBe(false)
  })

  it.prop("Cidr accepts every IPv6 CIDR", [cidr6], ([value]) => {
    expect(accepts(IpamDriver.Cidr)(value)).toBe(true)
    expect(accepts(IpamDriver.CidrOrEmpty)(value)).toBe(true)
  })

  it.prop("IpAddress accepts every plain IPv4 and IPv6 address and Cidr refuses them", [ipv4, ipv6], ([v4, v6]) => {
    for (const ip of [v4, v6]) {
      expect(accepts(IpamDriver.IpAddress)(ip)).toBe(true)
      expect(accepts(IpamDriver.Cidr)(ip)).toBe(false)
    }
  })

  it("only the OrEmpty variants accept an empty string", () => {
    expect(accepts(IpamDriver.Cidr)("")).toBe(false)
    expect(accepts(IpamDriver.IpAddress)("")).toBe(false)
    expect(accepts(IpamDriver.CidrOrEmpty)("")).toBe(true)
    expect(accepts(IpamDriver.IpAddressOrEmpty)("")).toBe(true)
    for (const junk of ["10.0.0.0/33", "fd00::/129", "10.0.0", "pool-1", " 10.0.0.0/8", "fe80::1%eth0/64"]) {
      expect(accepts(IpamDriver.CidrOrEmpty)(junk)).toBe(false)
    }
  })
})

describe("IpamDriver properties", () => {
  describeProperties(IpamDriver.Api)
})
