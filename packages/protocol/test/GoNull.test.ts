import type { Endpoint } from "@docker-plugin-kit/protocol"
import { Apis, Authorization, GoNull, VolumeDriver, WireCodec } from "@docker-plugin-kit/protocol"
import { describe, expect, it } from "@effect/vitest"
import { Result, Schema } from "effect"
import * as SchemaAST from "effect/SchemaAST"

const Item = Schema.Struct({ Key: Schema.String, Tags: Schema.optionalKey(Schema.Array(Schema.String)) })
const Request = Schema.Struct({
  Name: Schema.String,
  Labels: Schema.Record(Schema.String, Schema.String),
  Items: Schema.Array(Item),
  Note: Schema.optionalKey(Schema.String),
  Body: Schema.optionalKey(Authorization.Base64),
  Nested: Schema.optionalKey(Item),
  Maybe: Schema.optionalKey(Schema.NullOr(Schema.String)),
  Anything: Schema.optionalKey(Schema.Unknown)
})

describe("GoNull.relax", () => {
  it("leaves out an optional field holding null, and reads a required slice or map as empty", () => {
    const relaxed = GoNull.relax(Request.ast, {
      Name: "n",
      Labels: null,
      Items: null,
      Note: null,
      Body: null,
      Nested: null
    })
    expect(relaxed).toEqual({ Name: "n", Labels: {}, Items: [] })
    expect(Object.keys(relaxed as object)).toEqual(["Name", "Labels", "Items"])
  })

  it("reaches nulls inside arrays and nested objects", () => {
    expect(
      GoNull.relax(Request.ast, {
        Name: "n",
        Labels: {},
        Items: [{ Key: "a", Tags: null }, { Key: "b" }],
        Nested: { Key: "c", Tags: null }
      })
    ).toEqual({ Name: "n", Labels: {}, Items: [{ Key: "a" }, { Key: "b" }], Nested: { Key: "c" } })
  })

  it("keeps a null the schema takes, and answers undefined when there is nothing to relax", () => {
    const body = { Name: "n", Labels: {}, Items: [], Maybe: null, Anything: null }
    expect(GoNull.relax(Request.ast, body)).toBeUndefined()
    expect(GoNull.relax(Request.ast, { ...body, Extra: null })).toBeUndefined()
    expect(GoNull.relax(Request.ast, null)).toBeUndefined()
  })

  it("leaves a null on a required string for the schema to report", () => {
    expect(GoNull.relax(Request.ast, { Name: null, Labels: {}, Items: [] })).toBeUndefined()
  })

  it("keeps a map entry named __proto__ as an entry", () => {
    const body = JSON.parse('{"Name":"n","Labels":{"__proto__":"x"},"Items":null}')
    const relaxed = GoNull.relax(Request.ast, body) as { Labels: object }
    expect(Object.getPrototypeOf(relaxed.Labels)).toBe(Object.prototype)
    expect(Object.entries(relaxed.Labels)).toEqual([["__proto__", "x"]])
  })
})

describe("WireCodec.requestDecoder", () => {
  const decode = WireCodec.requestDecoder(Request)

  it("accepts the nulls a Go plugin accepts", () => {
    expect(decode({ Name: "n", Labels: null, Items: [], Body: null })).toEqual(
      Result.succeed({ Name: "n", Labels: {}, Items: [] })
    )
  })

  it("names the field of a null that stays an error, and reports other mistakes as the plain decoder does", () => {
    expect(decode({ Name: null, Labels: {}, Items: [] })).toEqual(Result.fail("Name: Expected string, got null"))
    expect(decode({ Name: 1, Labels: null, Items: [] })).toEqual(Result.fail("Name: Expected string, got 1"))
    expect(WireCodec.requestDecoder(VolumeDriver.CreateRequest)({ Name: null })).toEqual(
      Result.fail("Name: Expected string, got null")
    )
  })
})

/** The optional top-level fields of a JSON request that refuse `null` (the daemon leaves them out when empty). */
const nullRefusingOptionalKeys = (schema: Endpoint.WireSchema): ReadonlyArray<string> => {
  const ast = SchemaAST.toEncoded(schema.ast)
  if (ast._tag !== "Objects") return []
  const decode = WireCodec.decoder(schema)
  return ast.propertySignatures
    .filter((ps) => SchemaAST.isOptional(ps.type))
    .map((ps) => String(ps.name))
    .filter((name) => {
      const decoded = decode({ [name]: null })
      return Result.isFailure(decoded) && decoded.failure.split("; ").some((issue) => issue.startsWith(`${name}:`))
    })
}

describe("every JSON request of every API", () => {
  for (const api of Apis.all) {
    for (const endpoint of Object.values(api.endpoints) as Array<Endpoint.Any>) {
      if (endpoint.request._tag !== "Json") continue
      const schema = endpoint.request.schema
      const keys = nullRefusingOptionalKeys(schema)
      if (keys.length === 0) continue
      it.prop(
        `${endpoint.path}: null in ${keys.join(", ")} reads as the field left out`,
        [schema],
        ([value]) => {
          const encoded = WireCodec.encoder(schema)(value)
          if (Result.isFailure(encoded)) throw new Error(encoded.failure)
          const body = JSON.parse(JSON.stringify(encoded.success)) as Record<string, unknown>
          const without = Object.fromEntries(Object.entries(body).filter(([k]) => !keys.includes(k)))
          const withNulls = { ...body, ...Object.fromEntries(keys.map((k) => [k, null])) }
          expect(WireCodec.requestDecoder(schema)(withNulls)).toEqual(WireCodec.decoder(schema)(without))
        },
        { arbitrary: { runs: 20 } }
      )
    }
  }
})
