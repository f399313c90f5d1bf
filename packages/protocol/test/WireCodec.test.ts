import { Wire, WireCodec } from "@docker-plugin-kit/protocol"
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
    // A vertical tab, a form feed or a no-break space is not JSON whitespace: such a body is garbage, not blank.
    for (const text of ['{"Name":', ' {"Name": }\n', "nope", "\u000b", " \f\n", "\u00a0"]) {
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
      Result.fail("Name: Expected string, got 42; Opts.a: Expected string, got 1")
    )
    // A large value received is cut, not echoed whole.
    const long = interpreted.decode({ Name: { big: "x".repeat(10_000) } })
    const prefix = 'Name: Expected string, got {"big":"'
    expect(Result.isFailure(long) && long.failure).toBe(
      `${prefix}${"x".repeat(WireCodec.maxIssueLength - 1 - prefix.length)}…`
    )
    expect(Result.isFailure(long) && long.failure.length).toBe(WireCodec.maxIssueLength)
  })
})

describe("Rfc3339", () => {
  const decode = WireCodec.decoder(Wire.Rfc3339)
  it("accepts what Go's time.Time reads: leap days, any number of fractional digits, offsets", () => {
    for (const ok of [
      "2024-02-29T23:59:59Z",
      "2026-11-21T14:50:27.723Z",
      "2026-11-21T14:50:27.1234567890123Z",
      "2026-11-21T14:50:27+23:59",
      "2000-02-29T00:00:00-05:00"
    ]) {
      expect([ok, Result.isSuccess(decode(ok))]).toEqual([ok, true])
    }
  })
  it("refuses shapes that are not real times, which the daemon's parser would reject with the whole answer", () => {
    for (const bad of [
      "2024-02-30T25:61:00Z",
      "2023-02-29T00:00:00Z",
      "1900-02-29T00:00:00Z",
      "2026-04-31T00:00:00Z",
      "2026-13-01T00:00:00Z",
      "2026-11-21T24:00:00Z",
      "2026-11-21T14:50:60Z",
      "2026-11-21T14:50:27+24:00",
      "2026-11-21T14:50:27.Z",
      "2026-11-21 14:50:27Z",
      ""
    ]) {
      expect([bad, Result.isSuccess(decode(bad))]).toEqual([bad, false])
    }
  })
  it("says the day does not exist only of a well-formed date that does not; a malformed time gets the format", () => {
    const format = "Expected an RFC 3339 timestamp such as 2026-11-21T14:50:27.723Z"
    for (const malformed of [
      "2023-11-14T22:13:60Z",
      "2023-11-14T22:60:00Z",
      "2023-11-14T22:13:00+0100",
      "2023-11-14T22:13:00,1Z"
    ]) {
      expect([malformed, decode(malformed)]).toEqual([malformed, Result.fail(format)])
    }
    expect(decode("2023-02-29T00:00:00Z")).toEqual(
      Result.fail("Expected an RFC 3339 timestamp with a real date (the day does not exist in that month)")
    )
  })
})

describe("GoInt", () => {
  const decode = WireCodec.decoder(Schema.Struct({ Tail: Wire.GoInt }))
  it("accepts the integers a JavaScript number holds exactly", () => {
    for (const ok of [-1, 0, 1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER]) {
      expect(decode({ Tail: ok })).toEqual(Result.succeed({ Tail: ok }))
    }
  })
  it("refuses a larger Go int as beyond the supported range, not as a non-integer", () => {
    const range = `Tail: Expected an integer from ${Number.MIN_SAFE_INTEGER} to ${Number.MAX_SAFE_INTEGER} (a larger Go int is beyond the range supported here)`
    expect(decode({ Tail: 9007199254740992 })).toEqual(Result.fail(range))
    expect(decode({ Tail: -9007199254740992 })).toEqual(Result.fail(range))
    expect(decode({ Tail: 1.5 })).toEqual(Result.fail("Tail: Expected an integer, got 1.5"))
  })
})
