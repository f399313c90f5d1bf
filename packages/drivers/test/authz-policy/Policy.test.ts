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

  it("reads strictly: an unknown tag, an unsupported YAML version or a second document is an error", () => {
    // Without the check the tag was a warning on stderr and the policy loaded as if it were not there.
    expect(reasonOf("default: !foo allow\nrules: []\n")).toMatch(/^invalid policy test.yaml: Unresolved tag: !foo/)
    expect(reasonOf("default: !!js/function 'x'\nrules: []\n")).toContain("Unresolved tag")
    expect(reasonOf("%YAML 1.3\n---\ndefault: allow\nrules: []\n")).toContain("Unsupported YAML version 1.3")
    expect(reasonOf("default: allow\nrules: []\n---\ndefault: deny\nrules: []\n")).toContain(
      "more than one YAML document"
    )
  })

  it("refuses alias bombs and deep nesting with a reason naming the limit, without exhausting the process", () => {
    const laughs = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for (let i = 1; i < 10; i++)
      laughs.push(
        `a${i}: &a${i} [${Array(9)
          .fill(`*a${i - 1}`)
          .join(", ")}]`
      )
    expect(reasonOf(laughs.join("\n"))).toContain(`more than ${Policy.maxAliasCount} aliases expanded`)
    expect(reasonOf(`default: allow\nrules: ${"[".repeat(20000)}${"]".repeat(20000)}`)).toContain(
      "collections nested too deeply to read"
    )
  })

  it("names at most maxIssues problems, and counts the others", () => {
    const rules = Array.from({ length: 500 }, (_, i) => `  - { name: r${i}, decision: deny, methods: [get] }`)
    const reason = reasonOf(`default: allow\nrules:\n${rules.join("\n")}`)
    expect(reason.match(/expected an upper-case HTTP method/g)).toHaveLength(Policy.maxIssues)
    expect(reason).toMatch(/; and 490 more problems$/)
    const long = reasonOf(`default: allow\nrules:\n  - { name: a, decision: deny, routes: [${"x".repeat(10000)}] }`)
    expect(long.length).toBeLessThan(500)
  })
})
