import { describe, expect, it } from "@effect/vitest"
import { Manifest, VolumeDriver } from "../src/index.ts"
import {
  describeFixtures,
  describeProperties,
  expectDecodeFailure,
  expectEncodeFailure,
  expectRoundTrip,
  type Fixtures,
  parseBody
} from "./support.ts"

const mountId = "3b5d9a1f0c7e4e2a9d8b6c5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b7a6f5e"

const fixtures: Fixtures<typeof VolumeDriver.Api> = {
  create: {
    requests: [
      '{"Name":"v1","Opts":null}\n',
      '{"Name":"v1","Opts":{}}\n',
      '{"Name":"v2","Opts":{"foo":"bar","size":"1G"}}\n',
      '{"Name":"v3","Opts":{"o":"a\\u0026b\\u003cc\\u003e"}}\n'
    ],
    responses: ["{}"]
  },
  remove: { requests: ['{"Name":"v1"}\n'], responses: ["{}"] },
  mount: { requests: [`{"Name":"v1","ID":"${mountId}"}\n`], responses: ['{"Mountpoint":"/mnt/volumes/v1"}'] },
  path: { requests: ['{"Name":"v1"}\n'], responses: ['{"Mountpoint":"/mnt/volumes/v1"}'] },
  unmount: { requests: [`{"Name":"v1","ID":"${mountId}"}\n`], responses: ["{}"] },
  get: {
    requests: ['{"Name":"v1"}\n'],
    responses: [
      '{"Volume":{"Name":"v1","Mountpoint":"/mnt/volumes/v1","CreatedAt":"2026-11-21T14:50:27.723Z","Status":{"mounts":0,"options":{}}}}',
      '{"Volume":{"Name":"v1","CreatedAt":"2026-11-21T15:50:27+01:00"}}',
      '{"Volume":{"Name":"v1","CreatedAt":null}}',
      '{"Volume":null}'
    ]
  },
  list: {
    requests: ["{}\n"],
    responses: [
      '{"Volumes":[{"Name":"v1","Mountpoint":"/mnt/volumes/v1"},{"Name":"v2"}]}',
      '{"Volumes":[]}',
      '{"Volumes":null}'
    ]
  },
  capabilities: {
    requests: ["{}\n"],
    responses: ['{"Capabilities":{"Scope":"global"}}', '{"Capabilities":{"Scope":"local"}}']
  }
}

describe("VolumeDriver wire", () => {
  describeFixtures(VolumeDriver.Api, fixtures)

  it("an absent Capabilities answers the daemon's default, which is itself a valid response", () => {
    const absent = VolumeDriver.Api.endpoints.capabilities.whenAbsent
    expect(absent).toEqual({ _tag: "Respond", body: { Capabilities: { Scope: "local" } } })
    if (absent._tag === "Respond") expectRoundTrip(VolumeDriver.CapabilitiesResponse, absent.body)
  })

  it("bad payloads fail with a message naming the field", () => {
    expectDecodeFailure(VolumeDriver.CreateRequest, { Name: 42, Opts: null }, "Name")
    expectDecodeFailure(VolumeDriver.CreateRequest, { Name: "v1", Opts: { size: 1 } }, "Opts.size")
    expectDecodeFailure(VolumeDriver.MountRequest, { Name: "v1" }, "ID")
    expectDecodeFailure(VolumeDriver.GetResponse, { Volume: { Name: "v1", CreatedAt: "" } }, "Volume.CreatedAt")
    expectDecodeFailure(VolumeDriver.CapabilitiesResponse, { Capabilities: { Scope: "cluster" } }, "Capabilities.Scope")
    expectEncodeFailure(
      VolumeDriver.ListResponse,
      { Volumes: [{ Name: "v1", CreatedAt: "yesterday" }] },
      "Volumes.0.CreatedAt"
    )
  })
})

describe("Plugin.Activate wire", () => {
  it("the daemon's empty body decodes as no arguments", () => {
    expectRoundTrip(Manifest.Activate.request.schema, parseBody(""))
  })

  it("manifests round-trip exactly", () => {
    for (const text of [
      '{"Implements":["VolumeDriver","NetworkDriver"]}',
      '{"Implements":["authz"]}',
      '{"Implements":null}'
    ]) {
      expectRoundTrip(Manifest.Manifest, parseBody(text))
    }
  })

  it("a bad manifest fails with a message naming the field", () => {
    expectDecodeFailure(Manifest.Manifest, { Implements: "VolumeDriver" }, "Implements")
    expectDecodeFailure(Manifest.Manifest, { Implements: ["VolumeDriver", 1] }, "Implements.1")
  })

  it.prop("manifest encode → JSON → decode", [Manifest.Manifest], ([value]) => {
    expectRoundTrip(Manifest.Manifest, JSON.parse(JSON.stringify(value)))
  })
})

describe("VolumeDriver properties", () => {
  describeProperties(VolumeDriver.Api)
})
