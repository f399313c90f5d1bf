import { WireCodec } from "@docker-plugin-kit/protocol"
import { describe, expect, it } from "@effect/vitest"
import { Result } from "effect"

describe("WireCodec.parseBody", () => {
  it("reads an empty or blank body as no arguments, as the daemon means it", () => {
    expect(WireCodec.parseBody("")).toEqual(Result.succeed({}))
    expect(WireCodec.parseBody(" \r\n\t")).toEqual(Result.succeed({}))
  })

  it("parses a body with the newline the daemon's JSON encoder ends it with", () => {
    expect(WireCodec.parseBody('{"Name":"v1"}\n')).toEqual(Result.succeed({ Name: "v1" }))
    expect(WireCodec.parseBody(" null ")).toEqual(Result.succeed(null))
  })

  it("answers malformed JSON with a message, whitespace around it or not", () => {
    for (const text of ['{"Name":', ' {"Name": }\n', "nope"]) {
      const parsed = WireCodec.parseBody(text)
      expect(Result.isFailure(parsed) && parsed.failure).toMatch(/^request body is not valid JSON \(/)
    }
  })
})
