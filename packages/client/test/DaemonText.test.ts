// The texts the daemon shows for a plugin's error answers (moby pkg/plugins/client.go, errors.go and the per-API
// adapters; fmt's doPrintf for the secret adapter's fmt.Errorf of the plugin's text).
import { BadResponse, DaemonText, RemoteError, StatusError } from "@docker-plugin-kit/client"
import { describe, expect, it } from "@effect/vitest"

describe("DaemonText.method", () => {
  it("is the string each adapter calls with: bare for most, slashed for secrets and Engine 28 metrics", () => {
    expect(DaemonText.method("/VolumeDriver.Create")).toBe("VolumeDriver.Create")
    expect(DaemonText.method("/Plugin.Activate")).toBe("Plugin.Activate")
    expect(DaemonText.method("/AuthZPlugin.AuthZReq")).toBe("AuthZPlugin.AuthZReq")
    expect(DaemonText.method("/SecretProvider.GetSecret")).toBe("/SecretProvider.GetSecret")
    expect(DaemonText.method("/MetricsCollector.StartMetrics")).toBe("/MetricsCollector.StartMetrics")
    expect(DaemonText.method("/MetricsCollector.StopMetrics")).toBe("/MetricsCollector.StopMetrics")
  })

  it("keeps ApplyDiff's query as the daemon formats it (Sprintf, unescaped)", () => {
    expect(DaemonText.method("/GraphDriver.ApplyDiff?id=abc&parent=")).toBe("GraphDriver.ApplyDiff?id=abc&parent=")
    expect(DaemonText.method("/GraphDriver.ApplyDiff?id=layer+1&parent=layer%260")).toBe(
      "GraphDriver.ApplyDiff?id=layer 1&parent=layer&0"
    )
  })
})

describe("DaemonText.goErrorf", () => {
  it("leaves a text without verbs alone and turns %% into %", () => {
    expect(DaemonText.goErrorf("no such secret")).toBe("no such secret")
    expect(DaemonText.goErrorf("100%% sure")).toBe("100% sure")
  })

  it("prints verbs without operands as Go does", () => {
    expect(DaemonText.goErrorf("disk at 90% full")).toBe("disk at 90%!f(MISSING)ull")
    expect(DaemonText.goErrorf("bad %d and %s")).toBe("bad %!d(MISSING) and %!s(MISSING)")
    expect(DaemonText.goErrorf("%-08.3f|")).toBe("%!f(MISSING)|")
    expect(DaemonText.goErrorf("100%")).toBe("100%!(NOVERB)")
    expect(DaemonText.goErrorf("%é")).toBe("%!é(MISSING)")
  })

  it("bad indexes, star widths and precisions", () => {
    expect(DaemonText.goErrorf("%[1]d")).toBe("%!d(BADINDEX)")
    expect(DaemonText.goErrorf("%[x]d")).toBe("%!d(BADINDEX)")
    expect(DaemonText.goErrorf("%[2d")).toBe("%!d(BADINDEX)")
    expect(DaemonText.goErrorf("%[]")).toBe("%!](BADINDEX)")
    expect(DaemonText.goErrorf("%*d")).toBe("%!(BADWIDTH)%!d(MISSING)")
    expect(DaemonText.goErrorf("%.*f")).toBe("%!(BADPREC)%!f(MISSING)")
    expect(DaemonText.goErrorf("%.")).toBe("%!.(MISSING)")
  })
})

describe("DaemonText.message", () => {
  it("a non-200 answer: the daemon's method, then Err or the raw body", () => {
    const secret = new StatusError({ method: DaemonText.method("/SecretProvider.GetSecret"), status: 500, detail: "x" })
    expect(DaemonText.message(secret)).toBe("/SecretProvider.GetSecret: x")
    const diff = new StatusError({
      method: DaemonText.method("/GraphDriver.ApplyDiff?id=a&parent=b"),
      status: 500,
      detail: "no space"
    })
    expect(DaemonText.message(diff)).toBe("GraphDriver.ApplyDiff?id=a&parent=b: no space")
  })

  it("a 200 with an error: remote: for network and IPAM, Go's format for secrets, bare otherwise", () => {
    expect(DaemonText.message(new RemoteError({ method: "NetworkDriver.CreateNetwork", err: "boom" }))).toBe(
      "remote: boom"
    )
    expect(DaemonText.message(new RemoteError({ method: "IpamDriver.RequestPool", err: "full" }))).toBe("remote: full")
    expect(DaemonText.message(new RemoteError({ method: "/SecretProvider.GetSecret", err: "50% done" }))).toBe(
      "50%!d(MISSING)one"
    )
    expect(DaemonText.message(new RemoteError({ method: "VolumeDriver.Create", err: "50% done" }))).toBe("50% done")
  })

  it("an unreadable 200: the decoder's error alone", () => {
    expect(DaemonText.message(new BadResponse({ method: "VolumeDriver.Get", reason: "EOF", body: "" }))).toBe("EOF")
  })
})
