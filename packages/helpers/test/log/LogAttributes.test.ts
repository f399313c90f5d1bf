import { LogAttributes } from "@docker-plugin-kit/helpers"
import type { LogDriver } from "@docker-plugin-kit/protocol"
import { describe, expect, it } from "@effect/vitest"
import * as Result from "effect/Result"
import * as Os from "node:os"

const id = "0123456789abcdef".repeat(4)
const container = (config: Record<string, string>): LogDriver.Info => ({
  Config: config,
  ContainerID: id,
  ContainerName: "/web-1",
  ContainerEntrypoint: "sh",
  ContainerArgs: ["-c", "echo hi"],
  ContainerImageID: `sha256:${"f".repeat(64)}`,
  ContainerImageName: "busybox:latest",
  ContainerLabels: { app: "web", "com.example.team": "core", "com.example.tier": "front" },
  ContainerEnv: ["MODE=prod", "EMPTY=", "NOVALUE", "PATH=/bin", "REGION=eu=west"],
  ContainerCreated: "2026-11-28T12:00:00Z",
  LogPath: "",
  DaemonName: "docker"
})
const ok = (config: Record<string, string>) => Result.getOrThrow(LogAttributes.of(container(config)))
const err = (config: Record<string, string>) => {
  const result = LogAttributes.of(container(config))
  if (Result.isSuccess(result)) throw new Error(`expected a failure for ${JSON.stringify(config)}`)
  return result.failure.message
}

describe("LogAttributes", () => {
  it("has none unless asked (json-file has no default tag)", () => {
    expect(ok({})).toEqual({})
    expect(ok({ "max-size": "1m", labels: "" })).toEqual({})
  })

  it("picks labels and environment variables by name, leaving out those the container lacks", () => {
    expect(ok({ labels: "app,missing", env: "MODE,EMPTY,NOVALUE,REGION" })).toEqual({
      app: "web",
      MODE: "prod",
      EMPTY: "",
      REGION: "eu=west"
    })
  })

  it("picks by regular expression, matching anywhere in the name", () => {
    expect(ok({ "labels-regex": "^com\\.example\\.", "env-regex": "ION" })).toEqual({
      "com.example.team": "core",
      "com.example.tier": "front",
      REGION: "eu=west"
    })
  })

  it("keeps a label or variable named after an object's built-in property, as any other", () => {
    // As the daemon's JSON decoding yields the labels: own properties, not a prototype.
    const labels = JSON.parse('{"__proto__":"from-label","constructor":"c"}')
    const info = { ...container({ "labels-regex": ".", env: "toString" }), ContainerLabels: labels }
    const attributes = Result.getOrThrow(LogAttributes.of({ ...info, ContainerEnv: ["toString=from-env"] }))
    expect(LogAttributes.toGoJson(attributes)).toBe(
      '{"__proto__":"from-label","constructor":"c","toString":"from-env"}'
    )
  })

  it("lets later sources override earlier ones: labels, then environment, then the tag", () => {
    const info = { ...container({ labels: "app,tag", env: "app" }), ContainerEnv: ["app=from-env"] }
    const withTag = { ...info, ContainerLabels: { app: "web", tag: "label" } }
    expect(Result.getOrThrow(LogAttributes.of(withTag))).toEqual({ app: "from-env", tag: "label" })
    const tagged = { ...withTag, Config: { ...withTag.Config, tag: "{{.Name}}" } }
    expect(Result.getOrThrow(LogAttributes.of(tagged))).toEqual({ app: "from-env", tag: "web-1" })
  })

  it("renders tag templates as the daemon's fields answer them", () => {
    expect(ok({ tag: "{{.Name}}/{{.ID}}" }).tag).toBe(`web-1/${id.slice(0, 12)}`)
    expect(ok({ tag: "{{ .FullID }} {{.ImageName}} {{.DaemonName}}" }).tag).toBe(`${id} busybox:latest docker`)
    // The daemon shortens the image ID with its prefix.
    expect(ok({ tag: "{{.ImageID}}" }).tag).toBe("sha256:fffff")
    expect(ok({ tag: "{{.Command}}" }).tag).toBe("sh -c echo hi")
    expect(ok({ tag: "{{.Hostname}}" }).tag).toBe(Os.hostname())
    expect(ok({ tag: "static" }).tag).toBe("static")
    expect(Result.getOrThrow(LogAttributes.of(container({}), { defaultTag: "{{.ID}}" }))).toEqual({
      tag: id.slice(0, 12)
    })
  })

  it("refuses what it cannot render or compile, naming the option and the value", () => {
    expect(err({ tag: "{{.Nmae}}" })).toMatch(
      /^log-opt tag=\{\{\.Nmae\}\}: unknown placeholder \{\{\.Nmae\}\} \(known: ID, /
    )
    expect(err({ tag: "{{.Name | upper}}" })).toBe(
      "log-opt tag={{.Name | upper}}: only placeholders such as {{.Name}} and {{.ID}} are supported, not functions or pipelines"
    )
    expect(err({ tag: "{{json .Name}}" })).toMatch(/^log-opt tag=\{\{json \.Name\}\}: only placeholders/)
    expect(err({ "labels-regex": "(" })).toMatch(/^log-opt labels-regex=\(: Invalid regular expression/)
    expect(err({ "env-regex": "[" })).toMatch(/^log-opt env-regex=\[: /)
  })

  it("runs expressions in linear time, as Go's RE2 does: a backtracking pattern cannot stall the plugin", () => {
    // A backtracking engine takes hours on the 41-character label (the time doubles with each `a`); the vitest timeout
    // fails this test long before.
    const labels = { [`${"a".repeat(40)}!`]: "stall", aaaa: "kept", b: "other" }
    const info = { ...container({ "labels-regex": "^(a+)+$", "env-regex": "^(.*)*=$" }), ContainerLabels: labels }
    expect(Result.getOrThrow(LogAttributes.of(info))).toEqual({ aaaa: "kept" })
  })

  it("refuses what RE2 refuses: lookarounds and backreferences, naming the option and the value", () => {
    const re2 = "Go's RE2, which json-file uses, refuses it too"
    expect(err({ "labels-regex": "(?<=com\\.)example" })).toBe(
      `log-opt labels-regex=(?<=com\\.)example: lookbehind is not supported: ${re2}`
    )
    expect(err({ "env-regex": "(?<!X)MODE" })).toBe(`log-opt env-regex=(?<!X)MODE: lookbehind is not supported: ${re2}`)
    expect(err({ "labels-regex": "^(a)\\1" })).toMatch(/^log-opt labels-regex=\^\(a\)\\1: .*linear time.*RE2/)
    expect(err({ "env-regex": "MODE(?=X)" })).toMatch(/^log-opt env-regex=MODE\(\?=X\): .*linear time.*RE2/)
    // An escaped parenthesis or one in a class is a plain character, not a lookbehind.
    const info = container({ "labels-regex": "[(?<=]|\\(\\?<=" })
    const attributes = Result.getOrThrow(
      LogAttributes.of({ ...info, ContainerLabels: { "x(?<=": "1", "<": "2", y: "3" } })
    )
    expect(attributes).toEqual({ "x(?<=": "1", "<": "2" })
  })

  it("writes attributes as Go's json.Marshal writes a map: keys in byte order, HTML characters escaped", () => {
    expect(LogAttributes.toGoJson({ b: "1", a: "2", "10": "x", "9": "y", Z: "<&>\u2028" })).toBe(
      '{"10":"x","9":"y","Z":"\\u003c\\u0026\\u003e\\u2028","a":"2","b":"1"}'
    )
    // Byte order, as Go sorts: U+1F600 comes first in UTF-16 (a surrogate pair), after U+FF61 in UTF-8.
    expect(LogAttributes.toGoJson({ "\uff61": "1", "\u{1f600}": "2" })).toBe('{"｡":"1","😀":"2"}')
    expect(LogAttributes.toGoJson({})).toBe("{}")
  })

  it("writes backspace and form feed as \\u0008 and \\u000c, as Go's json.Marshal of Engine 20.10 (Go 1.19) does", () => {
    // JSON.stringify writes \b and \f; Go before 1.22 has only \n, \r and \t as short escapes. An escaped
    // backslash followed by b or f stays as it is.
    expect(LogAttributes.toGoJson({ k: "a\bb\fc\n\t\r\u0001\\b\\f\\\b" })).toBe(
      '{"k":"a\\u0008b\\u000cc\\n\\t\\r\\u0001\\\\b\\\\f\\\\\\u0008"}'
    )
    expect(LogAttributes.toGoJson({ "\b": "x" })).toBe('{"\\u0008":"x"}')
  })
})
