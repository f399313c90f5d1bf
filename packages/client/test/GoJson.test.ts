import { GoJson } from "@docker-plugin-kit/client"
import { SecretProvider, VolumeDriver } from "@docker-plugin-kit/protocol"
import { describe, expect, it } from "@effect/vitest"
import { Result } from "effect"

describe("GoJson", () => {
  it("reads only the first JSON value, and EOF for an empty body", () => {
    expect(GoJson.firstValue('  {"a":"}"} {"b":2}')).toEqual(Result.succeed({ a: "}" }))
    expect(GoJson.firstValue('["x\\"]"]tail')).toEqual(Result.succeed(['x"]']))
    expect(GoJson.firstValue("null\n")).toEqual(Result.succeed(null))
    expect(GoJson.firstValue("42 ")).toEqual(Result.succeed(42))
    expect(GoJson.firstValue(" \n")).toEqual(Result.fail("EOF"))
    expect(GoJson.firstValue('{"a":')).toEqual(Result.fail("unexpected EOF"))
    expect(Result.isFailure(GoJson.firstValue("{nope}"))).toBe(true)
  })

  it("looks fields up case-insensitively, the last spelling winning", () => {
    expect(GoJson.field({ err: "a" }, "Err")).toBe("a")
    expect(GoJson.field({ Err: "a", ERR: "b" }, "Err")).toBe("b")
    expect(GoJson.field("text", "Err")).toBeUndefined()
    // `null` leaves a Go string as an earlier spelling set it: {"Err":"boom","err":null} is still a failure.
    expect(GoJson.field({ Err: "boom", err: null }, "Err")).toBe("boom")
    expect(GoJson.field({ err: null }, "Err")).toBeNull()
  })

  it("reshapes bodies like Go fills structs: key case, zero values, nested volumes", () => {
    const schema = VolumeDriver.ListResponse
    expect(GoJson.normalize(schema.ast, { volumes: [{ name: "a", mountpoint: "/a", extra: 1 }] })).toEqual({
      Volumes: [{ Name: "a", Mountpoint: "/a", extra: 1 }]
    })
    expect(GoJson.normalize(schema.ast, {})).toEqual({ Volumes: null })
    expect(GoJson.normalize(VolumeDriver.MountpointResponse.ast, { Mountpoint: null })).toEqual({ Mountpoint: "" })
    // A later null spelling leaves a string as an earlier one set it; a nullable field takes it.
    expect(GoJson.normalize(VolumeDriver.MountpointResponse.ast, { Mountpoint: "/a", mountpoint: null })).toEqual({
      Mountpoint: "/a"
    })
    expect(GoJson.normalize(schema.ast, { Volumes: [], volumes: null })).toEqual({ Volumes: null })
    // A byte slice (base64) is a slice: null empties it.
    expect(GoJson.normalize(SecretProvider.GetSecretResponse.ast, { Value: "YQ==", value: null })).toEqual({
      Value: ""
    })
    expect(GoJson.normalize(VolumeDriver.GetResponse.ast, { volume: { NAME: "v", status: { K: 1 } } })).toEqual({
      Volume: { Name: "v", Status: { K: 1 } }
    })
  })

  it("keeps map keys named after an object's built-in properties, reading and writing", () => {
    const status = JSON.parse('{"Volume":{"Name":"v","Status":{"__proto__":"kept","constructor":1}}}')
    const read = GoJson.normalize(VolumeDriver.GetResponse.ast, status) as { Volume: { Status: object } }
    expect(Object.entries(read.Volume.Status)).toEqual([
      ["__proto__", "kept"],
      ["constructor", 1]
    ])
    const options = JSON.parse('{"Name":"v","Opts":{"z":"1","__proto__":"2"}}')
    expect(GoJson.stringify(VolumeDriver.CreateRequest.ast, options)).toBe(
      '{"Name":"v","Opts":{"__proto__":"2","z":"1"}}\n'
    )
  })
})
