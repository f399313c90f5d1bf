import { WireCodec } from "@docker-plugin-kit/protocol"
import { describe, expect, it } from "@effect/vitest"
import { Result, Schema } from "effect"

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

describe("WireCodec compiled codecs", () => {
  it("answer as the interpreted ones do, messages of invalid input included", () => {
    // Compiling is a property of a schema's AST: each side gets schemas of its own, alike in shape.
    const request = () =>
      Schema.Struct({
        Name: Schema.String,
        Opts: Schema.optionalKey(Schema.Record(Schema.String, Schema.String))
      })
    const response = () =>
      Schema.Struct({
        Volume: Schema.Struct({ Name: Schema.String, Mountpoint: Schema.optionalKey(Schema.String) })
      })
    const inputs: ReadonlyArray<unknown> = [
      { Name: "v" },
      { Name: "v", Opts: { a: "b" } },
      { Name: 42, Opts: { a: 1 } },
      {},
      null
    ]
    const outputs: ReadonlyArray<unknown> = [
      { Volume: { Name: "v" } },
      { Volume: { Name: "v", Extra: 1 } },
      { Volume: { Name: 1 } },
      {}
    ]
    const interpreted = { decode: WireCodec.decoder(request()), encode: WireCodec.encoder(response()) }
    const compiled = {
      decode: WireCodec.decoder(request(), { compiled: true }),
      encode: WireCodec.encoder(response(), { compiled: true })
    }
    for (const input of inputs) expect(compiled.decode(input)).toEqual(interpreted.decode(input))
    for (const output of outputs) expect(compiled.encode(output as never)).toEqual(interpreted.encode(output as never))
    expect(compiled.decode({ Name: 42, Opts: { a: 1 } })).toEqual(
      Result.fail("Name: Expected string; Opts.a: Expected string")
    )
  })
})
