import { SpecFile } from "@docker-plugin-kit/protocol"
import { describe, expect, it } from "@effect/vitest"
import { Result } from "effect"

const ok = <A>(result: Result.Result<A, string>): A => {
  if (Result.isFailure(result)) throw new Error(`expected success, got: ${result.failure}`)
  return result.success
}
const error = <A>(result: Result.Result<A, string>): string => {
  if (Result.isSuccess(result)) throw new Error(`expected a failure, got ${JSON.stringify(result.success)}`)
  return result.failure
}

describe("SpecFile.parseSpec", () => {
  it("reads one trimmed URL per file", () => {
    expect(ok(SpecFile.parseSpec("  unix:///run/x/plug.sock\n"))).toEqual({
      url: "unix:///run/x/plug.sock",
      address: { _tag: "Unix", path: "/run/x/plug.sock" },
      tls: { insecureSkipVerify: true }
    })
    expect(ok(SpecFile.parseSpec("tcp://127.0.0.1:8080\n")).address).toEqual({
      _tag: "Tcp",
      host: "127.0.0.1",
      port: 8080,
      https: false
    })
  })

  it("drops the path of an https URL and skips verification (spec-file plugins are not verified)", () => {
    const spec = ok(SpecFile.parseSpec("https://plugins.example:8443/ignored/path"))
    expect(spec.address).toEqual({ _tag: "Tcp", host: "plugins.example", port: 8443, https: true })
    expect(spec.tls.insecureSkipVerify).toBe(true)
  })

  it("fills default ports and unwraps IPv6 hosts", () => {
    expect(ok(SpecFile.parseUrl("https://h"))).toMatchObject({ port: 443 })
    expect(ok(SpecFile.parseUrl("tcp://h"))).toMatchObject({ port: 80 })
    expect(ok(SpecFile.parseUrl("tcp://[::1]:9000"))).toEqual({ _tag: "Tcp", host: "::1", port: 9000, https: false })
  })

  it("fails like the daemon when there is no scheme", () => {
    expect(error(SpecFile.parseSpec("/run/docker/plugins/x.sock"))).toMatch(/^Unknown protocol/)
    expect(error(SpecFile.parseSpec("127.0.0.1:8080"))).toMatch(/^Unknown protocol/)
    expect(error(SpecFile.parseSpec(""))).toMatch(/^Unknown protocol/)
  })

  it("names unsupported schemes and empty socket paths", () => {
    expect(error(SpecFile.parseSpec("udp://1.2.3.4:5"))).toContain('unsupported protocol "udp"')
    expect(error(SpecFile.parseSpec("unix://"))).toContain("names no socket path")
    expect(ok(SpecFile.parseSpec("unix:/abs.sock")).address).toEqual({ _tag: "Unix", path: "/abs.sock" })
  })
})

describe("SpecFile.parseJson", () => {
  it("ignores Name and takes the address from Addr", () => {
    const spec = ok(SpecFile.parseJson('{"Name":"other","Addr":"tcp://10.0.0.1:7000"}'))
    expect(spec.address).toEqual({ _tag: "Tcp", host: "10.0.0.1", port: 7000, https: false })
    // No TLSConfig: an https address would be verified against the system roots.
    expect(spec.tls).toEqual({ insecureSkipVerify: false })
  })

  it("switches verification off when TLSConfig has no CAFile, keeps it with one", () => {
    const noCa = ok(SpecFile.parseJson('{"Addr":"https://h:1","TLSConfig":{"CertFile":"/c.pem","KeyFile":"/k.pem"}}'))
    expect(noCa.tls).toEqual({ certFile: "/c.pem", keyFile: "/k.pem", insecureSkipVerify: true })
    const withCa = ok(SpecFile.parseJson('{"Addr":"https://h:1","TLSConfig":{"CAFile":"/ca.pem"}}'))
    expect(withCa.tls).toEqual({ caFile: "/ca.pem", insecureSkipVerify: false })
    const forced = ok(
      SpecFile.parseJson('{"Addr":"https://h:1","TLSConfig":{"CAFile":"/ca.pem","InsecureSkipVerify":true}}')
    )
    expect(forced.tls.insecureSkipVerify).toBe(true)
  })

  it("matches keys case-insensitively like Go's encoding/json", () => {
    const spec = ok(SpecFile.parseJson('{"addr":"unix:///x.sock","tlsconfig":{"cafile":"/ca.pem"}}'))
    expect(spec.address).toEqual({ _tag: "Unix", path: "/x.sock" })
    expect(spec.tls.caFile).toBe("/ca.pem")
  })

  it("says which field is wrong", () => {
    expect(error(SpecFile.parseJson("{"))).toMatch(/^not valid JSON/)
    expect(error(SpecFile.parseJson("[]"))).toContain('"Addr"')
    expect(error(SpecFile.parseJson("{}"))).toMatch(/^Addr: /)
    expect(error(SpecFile.parseJson('{"Addr":42}'))).toMatch(/^Addr: Expected string/)
    expect(error(SpecFile.parseJson('{"Addr":"x.sock"}'))).toMatch(/^Addr: Unknown protocol/)
    expect(error(SpecFile.parseJson('{"Addr":"tcp://h:1","TLSConfig":{"CAFile":1}}'))).toMatch(
      /^TLSConfig\.CAFile: Expected string/
    )
  })

  it("formats addresses back as URLs", () => {
    expect(SpecFile.formatAddress({ _tag: "Unix", path: "/a.sock" })).toBe("unix:///a.sock")
    expect(SpecFile.formatAddress({ _tag: "Tcp", host: "::1", port: 5, https: true })).toBe("https://[::1]:5")
  })
})
