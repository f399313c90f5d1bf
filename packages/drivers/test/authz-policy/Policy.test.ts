import { Policy } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"
import * as Result from "effect/Result"
import * as Fs from "node:fs"
import { fileURLToPath } from "node:url"

const baselinePath = fileURLToPath(new URL("../../../../examples/authz-policy/baseline.yaml", import.meta.url))

const reasonOf = (text: string) => {
  const parsed = Policy.parse(text, "test.yaml")
  if (Result.isSuccess(parsed)) throw new Error("expected an invalid policy")
  return parsed.failure.message
}

describe("Policy.parse", () => {
  it("reads the shipped baseline", () => {
    const parsed = Policy.parse(Fs.readFileSync(baselinePath, "utf8"), baselinePath)
    expect(Result.isSuccess(parsed)).toBe(true)
    const policy = Result.getOrThrow(parsed)
    expect(policy.default).toBe("allow")
    expect(policy.rules.map((r) => [r.name, r.decision])).toEqual([
      ["no-privileged", "deny"],
      ["no-host-root-etc-or-docker-socket", "deny"],
      ["no-sys-admin-or-net-admin", "deny"]
    ])
  })

  it("reads JSON as well as YAML", () => {
    const parsed = Policy.parse(
      JSON.stringify({ default: "deny", rules: [{ name: "pings", decision: "allow", routes: ["_ping"] }] }),
      "p.json"
    )
    expect(Result.getOrThrow(parsed)).toEqual({
      default: "deny",
      rules: [{ name: "pings", decision: "allow", routes: ["_ping"] }]
    })
  })

  it("rejects unknown keys, so a misspelt condition never widens a rule", () => {
    expect(reasonOf("default: allow\nrules:\n  - name: x\n    decision: deny\n    privilged: true\n")).toBe(
      "invalid policy test.yaml: rules[0].privilged: unknown key"
    )
  })

  it("names every problem with its place", () => {
    const reason = reasonOf(
      [
        "default: maybe",
        "rules:",
        "  - name: a",
        "    decision: deny",
        "    routes: [container/create]",
        "    methods: [post]",
        "    hostMounts: [etc]",
        "    hostNamespaces: [net]",
        "    fromContainers: [uts]"
      ].join("\n")
    )
    expect(reason).toContain('default: Expected "allow" | "deny"')
    expect(reason).toContain('rules[0].routes[0]: unknown route "container/create"')
    expect(reason).toContain("rules[0].methods[0]: expected an upper-case HTTP method")
    expect(reason).toContain('rules[0].hostMounts[0]: expected an absolute host path, got "etc"')
    expect(reason).toContain("rules[0].hostNamespaces[0]:")
    expect(reason).toContain('rules[0].fromContainers[0]: Expected "volumes" | "network" | "pid" | "ipc"')
  })

  it("rejects broken YAML, duplicate keys, duplicate rule names, an empty file and missing fields", () => {
    expect(reasonOf("default: allow\nrules: [")).toMatch(/^invalid policy test.yaml: /)
    expect(reasonOf("default: allow\ndefault: deny\nrules: []")).toMatch(/unique/i)
    expect(reasonOf("default: allow\nrules:\n  - {name: a, decision: deny}\n  - {name: a, decision: allow}\n")).toBe(
      'invalid policy test.yaml: two rules are named "a"'
    )
    expect(reasonOf("")).toBe("invalid policy test.yaml: the file is empty")
    expect(reasonOf("rules: []")).toContain("default: Missing key")
    expect(reasonOf("- 1")).toMatch(/Expected object/)
  })
})
