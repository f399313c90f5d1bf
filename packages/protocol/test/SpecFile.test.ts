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

  it("trims white space as Go does: a byte-order mark stays (and is refused), U+0085 goes", () => {
    expect(error(SpecFile.parseSpec("\ufefftcp://127.0.0.1:8080"))).toMatch(/Unknown protocol/)
    expect(ok(SpecFile.parseSpec("tcp://127.0.0.1:8080\u0085\r\n")).url).toBe("tcp://127.0.0.1:8080")
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

  it("refuses hosts as Go's url.Parse and dialer do: bad characters, ASCII escapes, IPv6 without brackets", () => {
    expect(error(SpecFile.parseUrl("tcp://exa mple:80"))).toBe(
      '"tcp://exa mple:80": invalid character " " in host name'
    )
    expect(error(SpecFile.parseUrl("tcp://h{x}:80"))).toContain('invalid character "{" in host name')
    expect(error(SpecFile.parseUrl("tcp://h%41:80"))).toBe('"tcp://h%41:80": invalid URL escape "%41"')
    expect(error(SpecFile.parseUrl("tcp://::1:8080"))).toContain("too many colons in address")
    // What Go takes: sub-delimiters, escapes of non-ASCII bytes and of "%", non-ASCII text, bracketed IPv6.
    expect(ok(SpecFile.parseUrl("tcp://a-b_c.d~e:1"))).toMatchObject({ host: "a-b_c.d~e", port: 1 })
    expect(ok(SpecFile.parseUrl("tcp://h%C3%A9:1"))).toMatchObject({ host: "hé", port: 1 })
    expect(ok(SpecFile.parseUrl("tcp://[fe80::1%25eth0]:1"))).toMatchObject({ host: "fe80::1%eth0", port: 1 })
    expect(ok(SpecFile.parseUrl("unix://rel.sock"))).toEqual({ _tag: "Unix", path: "rel.sock" })
  })

  it("dials every scheme but unix and npipe over TCP, plain HTTP unless https (newTransport)", () => {
    expect(ok(SpecFile.parseSpec("udp://1.2.3.4:5")).address).toEqual({
      _tag: "Tcp",
      host: "1.2.3.4",
      port: 5,
      https: false
    })
    expect(ok(SpecFile.parseUrl("foo+bar://h:9"))).toEqual({ _tag: "Tcp", host: "h", port: 9, https: false })
    expect(ok(SpecFile.parseUrl("HTTPS://h"))).toEqual({ _tag: "Tcp", host: "h", port: 443, https: true })
    expect(ok(SpecFile.parseUrl("http://h:"))).toEqual({ _tag: "Tcp", host: "h", port: 80, https: false })
    expect(ok(SpecFile.parseUrl("tcp://user:pw@h:1/x?y#z"))).toEqual({ _tag: "Tcp", host: "h", port: 1, https: false })
    expect(error(SpecFile.parseSpec("npipe:////./pipe/docker"))).toContain("protocol not available")
  })

  it("unix:// dials the URL's host when it has one, else its path (Go's url.Parse, unescaped)", () => {
    expect(ok(SpecFile.parseUrl("unix://rel.sock"))).toEqual({ _tag: "Unix", path: "rel.sock" })
    expect(ok(SpecFile.parseUrl("unix://host/run/x.sock"))).toEqual({ _tag: "Unix", path: "host" })
    expect(ok(SpecFile.parseUrl("unix:/abs.sock"))).toEqual({ _tag: "Unix", path: "/abs.sock" })
    expect(ok(SpecFile.parseUrl("unix:///a%20b.sock?x#y"))).toEqual({ _tag: "Unix", path: "/a b.sock" })
    expect(error(SpecFile.parseSpec("unix://"))).toContain("names no socket path")
    expect(error(SpecFile.parseSpec("unix:rel.sock"))).toContain("names no socket path")
    expect(error(SpecFile.parseSpec("unix:///a%zz.sock"))).toContain('invalid URL escape "%zz"')
  })

  it("refuses a socket path over sun_path (108 bytes) with go-connections' text", () => {
    const fits = `/${"s".repeat(107)}`
    expect(ok(SpecFile.parseUrl(`unix://${fits}`))).toEqual({ _tag: "Unix", path: fits })
    expect(error(SpecFile.parseUrl(`unix://${fits}x`))).toBe(`unix socket path "${fits}x" is too long`)
  })

  it("says why an address the daemon would take dials nowhere", () => {
    expect(error(SpecFile.parseSpec("localhost:8080"))).toContain(
      'reads as the scheme "localhost" with no host: write tcp://localhost:8080'
    )
    expect(error(SpecFile.parseSpec("tcp:///x"))).toContain("names no host")
    expect(error(SpecFile.parseSpec("tcp://h:x"))).toContain('invalid port ":x" after host')
    expect(error(SpecFile.parseSpec(":8080"))).toContain("missing protocol scheme")
    expect(error(SpecFile.parseSpec("tcp://h\n:1"))).toContain("invalid control character in URL")
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

  it("says which field is wrong, in Go's words", () => {
    expect(error(SpecFile.parseJson("{"))).toMatch(/^not valid JSON/)
    expect(error(SpecFile.parseJson("[]"))).toContain('"Addr"')
    expect(error(SpecFile.parseJson("{}"))).toMatch(/^Addr: /)
    expect(error(SpecFile.parseJson('{"Addr":42}'))).toBe(
      "json: cannot unmarshal number into Go struct field Plugin.Addr of type string"
    )
    expect(error(SpecFile.parseJson('{"Addr":"x.sock"}'))).toMatch(/^Addr: Unknown protocol/)
    // The daemon takes Addr as written, so white space around it makes the URL unusable there too.
    expect(error(SpecFile.parseJson('{"Addr":" tcp://h:1"}'))).toMatch(/^Addr: Unknown protocol/)
    expect(Result.isFailure(SpecFile.parseJson('{"Addr":"tcp://h:1 "}'))).toBe(true)
    expect(error(SpecFile.parseJson('{"Addr":"tcp://h:1","TLSConfig":{"CAFile":1}}'))).toBe(
      "json: cannot unmarshal number into Go struct field Plugin.TLSConfig.CAFile of type string"
    )
    expect(error(SpecFile.parseJson('{"Addr":"tcp://h:1","TLSConfig":"yes"}'))).toBe(
      "json: cannot unmarshal string into Go struct field Plugin.TLSConfig of type tlsconfig.Options"
    )
  })

  it("resolves keys as encoding/json does: any case, the last one wins, null leaves a field alone", () => {
    const address = (json: string) => ok(SpecFile.parseJson(json)).address
    expect(address('{"Addr":"tcp://a:1","addr":"tcp://b:2"}')).toMatchObject({ host: "b" })
    expect(address('{"addr":"tcp://b:2","ADDR":"tcp://a:1"}')).toMatchObject({ host: "a" })
    expect(address('{"Addr":"tcp://a:1","Addr":null}')).toMatchObject({ host: "a" })
    expect(address('{"Name":5,"Addr":"tcp://a:1"} trailing text the decoder never reads')).toMatchObject({ host: "a" })
    expect(address('{"Ad\\u0064r":"tcp://a\\"b:1"}')).toMatchObject({ host: 'a"b' })
    expect(error(SpecFile.parseJson('{"Addr":"tcp://a:1\n"}'))).toMatch(/^not valid JSON/)
    // A type error is an error even when a later key would have been fine.
    expect(error(SpecFile.parseJson('{"Addr":1,"Addr":"tcp://a:1"}'))).toContain("Plugin.Addr of type string")
    // The Kelvin sign folds to k, as in Go.
    const kelvin = '{"Addr":"https://h","TLSConfig":{"CAFile":"/ca","InsecureS\u212aipVerify":true}}'
    expect(ok(SpecFile.parseJson(kelvin)).tls.insecureSkipVerify).toBe(true)
  })

  it("decodes a repeated TLSConfig into the one already there, and null drops it", () => {
    const merged = ok(
      SpecFile.parseJson(
        '{"Addr":"https://h","TLSConfig":{"CAFile":"/ca"},"tlsconfig":{"CertFile":"/c","KeyFile":"/k"}}'
      )
    )
    expect(merged.tls).toEqual({ caFile: "/ca", certFile: "/c", keyFile: "/k", insecureSkipVerify: false })
    const dropped = ok(SpecFile.parseJson('{"Addr":"https://h","TLSConfig":{"CAFile":"/ca"},"TLSConfig":null}'))
    expect(dropped.tls).toEqual({ insecureSkipVerify: false })
  })

  it("checks TLSConfig as tlsconfig.Client does: the key pair, MinVersion, ExclusiveRootPools, Passphrase", () => {
    expect(error(SpecFile.parseJson('{"Addr":"https://h","TLSConfig":{"CertFile":"/c.pem"}}'))).toContain(
      "CertFile is set but KeyFile is not"
    )
    expect(error(SpecFile.parseJson('{"Addr":"unix:///x.sock","TLSConfig":{"KeyFile":"/k.pem"}}'))).toContain(
      "KeyFile is set but CertFile is not"
    )
    const tls = (config: string) => ok(SpecFile.parseJson(`{"Addr":"https://h","TLSConfig":${config}}`)).tls
    expect(tls('{"CAFile":"/ca","MinVersion":772,"ExclusiveRootPools":true,"Passphrase":"pw"}')).toEqual({
      caFile: "/ca",
      exclusiveRootPools: true,
      minVersion: "TLSv1.3",
      passphrase: "pw",
      insecureSkipVerify: false
    })
    expect(tls('{"MinVersion":771}')).toEqual({ insecureSkipVerify: true })
    expect(error(SpecFile.parseJson('{"Addr":"https://h","TLSConfig":{"MinVersion":769}}'))).toBe(
      "TLSConfig.MinVersion: requested minimum TLS version is too low. Should be at-least: 303"
    )
    expect(error(SpecFile.parseJson('{"Addr":"https://h","TLSConfig":{"MinVersion":5}}'))).toBe(
      "TLSConfig.MinVersion: invalid minimum TLS version: 5"
    )
    expect(error(SpecFile.parseJson('{"Addr":"https://h","TLSConfig":{"MinVersion":70000}}'))).toBe(
      "json: cannot unmarshal number 70000 into Go struct field Plugin.TLSConfig.MinVersion of type uint16"
    )
  })

  it("formats addresses back as URLs", () => {
    expect(SpecFile.formatAddress({ _tag: "Unix", path: "/a.sock" })).toBe("unix:///a.sock")
    expect(SpecFile.formatAddress({ _tag: "Tcp", host: "::1", port: 5, https: true })).toBe("https://[::1]:5")
  })
})
