import { BridgeOptions } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"
import { Result } from "effect"

const generic = (options: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  "com.docker.network.generic": options,
  ...extra
})
const ok = (options: Parameters<typeof BridgeOptions.decode>[0]) => {
  const decoded = BridgeOptions.decode(options)
  if (Result.isFailure(decoded)) throw new Error(decoded.failure.message)
  return decoded.success
}
const reason = (options: Parameters<typeof BridgeOptions.decode>[0]) => {
  const decoded = BridgeOptions.decode(options)
  if (Result.isSuccess(decoded)) throw new Error("expected a failure")
  return decoded.failure.message
}

describe("BridgeOptions.decode", () => {
  it("defaults when the daemon sends no options (null, {}, or no generic map)", () => {
    for (const options of [null, undefined, {}, generic({}), { "com.docker.network.enable_ipv4": true }]) {
      expect(ok(options)).toEqual({ internal: false, prefix: "eth", routes: [] })
    }
  })

  it("reads every option under its short name and the engine bridge driver's name", () => {
    expect(
      ok(generic({ bridge: "br-x", mtu: "1400", internal: "true", prefix: "net", routes: "10.9.0.0/16" }))
    ).toEqual({
      bridge: "br-x",
      mtu: 1400,
      internal: true,
      prefix: "net",
      routes: [{ destination: "10.9.0.0/16" }]
    })
    expect(
      ok(
        generic({
          "com.docker.network.bridge.name": "br-y",
          "com.docker.network.driver.mtu": "9000",
          "com.docker.network.container_iface_prefix": "e"
        })
      )
    ).toEqual({ bridge: "br-y", mtu: 9000, internal: false, prefix: "e", routes: [] })
  })

  it("--internal makes the network internal whatever -o internal says", () => {
    expect(ok(generic({}, { "com.docker.network.internal": true })).internal).toBe(true)
    expect(ok(generic({ internal: "false" }, { "com.docker.network.internal": true })).internal).toBe(true)
    for (const t of ["1", "t", "TRUE", "True"]) expect(ok(generic({ internal: t })).internal).toBe(true)
    for (const f of ["0", "f", "FALSE", "False"]) expect(ok(generic({ internal: f })).internal).toBe(false)
  })

  it("masquerade: true is recorded, false (the default) is not, anything else is refused", () => {
    expect(ok(generic({ masquerade: "true" })).masquerade).toBe(true)
    expect(ok(generic({ masquerade: "false" }))).toEqual({ internal: false, prefix: "eth", routes: [] })
    expect(reason(generic({ masquerade: "yes" }))).toBe("option masquerade=yes: expected true or false")
  })

  it("static routes: on-link or via a next hop of the same family", () => {
    expect(ok(generic({ routes: "192.168.50.0/24@10.0.0.254, fd00:1::/64@fd00::1,10.200.0.0/16" })).routes).toEqual([
      { destination: "192.168.50.0/24", nextHop: "10.0.0.254" },
      { destination: "fd00:1::/64", nextHop: "fd00::1" },
      { destination: "10.200.0.0/16" }
    ])
    expect(reason(generic({ routes: "10.0.0.0/8@fd00::1" }))).toBe(
      "option routes=10.0.0.0/8@fd00::1: next hop fd00::1 is not of the family of 10.0.0.0/8"
    )
    expect(reason(generic({ routes: "10.0.0.1" }))).toContain('"10.0.0.1" is not a CIDR')
    expect(reason(generic({ routes: "10.9.0.5/16@10.0.0.1" }))).toBe(
      'option routes=10.9.0.5/16@10.0.0.1: "10.9.0.5/16" has host bits set: the network is 10.9.0.0/16'
    )
    expect(reason(generic({ routes: "fd00:1::1/64" }))).toContain("the network is fd00:1::/64")
    expect(ok(generic({ routes: "10.9.0.5/32,FD00:1::/64" })).routes).toEqual([
      { destination: "10.9.0.5/32" },
      { destination: "FD00:1::/64" }
    ])
    expect(reason(generic({ routes: "10.0.0.0/8@x" }))).toContain('next hop "x" is not an IP address')
    expect(reason(generic({ routes: "10.0.0.0/8@1.1.1.1@2.2.2.2" }))).toContain("more than one @")
  })

  it("refuses a route destination given twice (the second route fails with 'file exists' when a container joins)", () => {
    expect(reason(generic({ routes: "10.9.0.0/16,192.168.1.0/24@10.0.0.1,10.9.0.0/16@10.0.0.2" }))).toBe(
      "option routes=10.9.0.0/16,192.168.1.0/24@10.0.0.1,10.9.0.0/16@10.0.0.2: a route to 10.9.0.0/16 is given twice"
    )
    expect(reason(generic({ routes: "fd00:1::/64, FD00:1:0::/64@fd00::1" }))).toContain(
      "a route to fd00:1::/64 is given twice"
    )
    expect(ok(generic({ routes: "10.9.0.0/16,10.9.0.0/24" })).routes).toHaveLength(2)
  })

  it("refuses an MTU below 1280 on an IPv6 network (the kernel then refuses every IPv6 address)", () => {
    const ipv6 = { "com.docker.network.enable_ipv6": true }
    expect(reason(generic({ mtu: "1279" }, ipv6))).toBe(
      "option mtu=1279: IPv6 needs an MTU of at least 1280, and the network has IPv6 enabled"
    )
    expect(reason(generic({ "com.docker.network.driver.mtu": "1000" }, ipv6))).toContain(
      "option com.docker.network.driver.mtu=1000: IPv6 needs"
    )
    expect(ok(generic({ mtu: "1280" }, ipv6)).mtu).toBe(1280)
    expect(ok(generic({ mtu: "1000" }, { "com.docker.network.enable_ipv6": false })).mtu).toBe(1000)
  })

  it("refuses unknown keys, naming every one and listing the known ones", () => {
    const message = reason(generic({ mtu: "1400", colour: "blue", Bridge: "x" }))
    expect(message).toContain("unknown options Bridge, colour")
    expect(message).toContain("network-bridge understands bridge, com.docker.network.bridge.name, mtu")
    expect(reason(generic({ nope: "1" }))).toContain("unknown option nope (")
  })

  it("refuses malformed values, naming the option and the value", () => {
    expect(reason(generic({ mtu: "67" }))).toBe("option mtu=67: expected an MTU from 68 to 65535")
    expect(reason(generic({ mtu: "65536" }))).toContain("option mtu=65536")
    expect(reason(generic({ mtu: "1e3" }))).toContain("option mtu=1e3")
    expect(reason(generic({ internal: "yes" }))).toBe("option internal=yes: expected true or false")
    for (const name of ["a/b", "sixteen-chars-xx", "", "..", "br x", "br:0", "-br"]) {
      expect(reason(generic({ bridge: name }))).toContain(`option bridge=${name}: expected an interface name`)
    }
    expect(reason(generic({ prefix: "0eth" }))).toContain("option prefix=0eth")
    expect(reason(generic({ prefix: "abcdefghijklm" }))).toContain("1 to 12 letters or digits")
  })

  it("refuses a key given twice under two names, a non-string value and a generic map that is not one", () => {
    expect(reason(generic({ mtu: "1400", "com.docker.network.driver.mtu": "1400" }))).toBe(
      "options com.docker.network.driver.mtu and mtu set the same thing; give one"
    )
    expect(reason(generic({ mtu: 1400 }))).toBe("option mtu: expected a string, got 1400")
    expect(reason({ "com.docker.network.generic": "mtu=1400" })).toBe(
      "com.docker.network.generic: expected an object of driver options"
    )
  })

  it("knows which names Linux accepts for an interface", () => {
    expect(BridgeOptions.isInterfaceName("br-0.1_x")).toBe(true)
    expect(BridgeOptions.isInterfaceName("x".repeat(15))).toBe(true)
    expect(BridgeOptions.isInterfaceName("x".repeat(16))).toBe(false)
    expect(BridgeOptions.isInterfaceName(".")).toBe(false)
  })
})
