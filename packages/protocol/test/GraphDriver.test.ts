import { describe, expect, it } from "@effect/vitest"
import { GraphDriver, Wire } from "../src/index.ts"
import {
  describeFixtures,
  describeProperties,
  expectDecodeFailure,
  expectEncodeFailure,
  expectRoundTrip,
  type Fixtures,
  parseBody,
  parseQuery
} from "./support.ts"

const layer = "4a8237230732bc8a03a1e3bcce97cbe403ff34334493fe9800c5f3ab7d629301"
const parent = "70c122b193111cfebd387061f0dac428269a00a90dc9609546515f92565a213a"
const container = "f74cb1179245787eebb732b9dc391263f627cdb6f762efeb612a6fc019fb375f"
const idMaps = '[{"container_id":0,"host_id":100000,"size":65536}]'

const fixtures: Fixtures<typeof GraphDriver.Api> = {
  init: {
    requests: [
      '{"Home":"/var/lib/docker/myplugin","Opts":null,"UIDMaps":null,"GIDMaps":null}\n',
      `{"Home":"/var/lib/docker/myplugin","Opts":["size=10G","mode=fast"],"UIDMaps":${idMaps},"GIDMaps":${idMaps}}\n`,
      '{"Home":"/data/myplugin","Opts":[],"UIDMaps":[],"GIDMaps":[]}\n'
    ],
    responses: ["{}"]
  },
  create: { requests: [`{"ID":"${layer}"}\n`, `{"ID":"${layer}","Parent":"${parent}"}\n`], responses: ["{}"] },
  createReadWrite: {
    requests: [
      `{"ID":"${container}-init","Parent":"${layer}"}\n`,
      `{"ID":"${container}","Parent":"${container}-init","MountLabel":"system_u:object_r:container_file_t:s0:c1,c2","StorageOpt":{"size":"10G"}}\n`
    ],
    responses: ["{}"]
  },
  remove: { requests: [`{"ID":"${container}-init"}\n`], responses: ["{}"] },
  get: {
    requests: [
      `{"ID":"${container}"}\n`,
      `{"ID":"${container}","MountLabel":"system_u:object_r:container_file_t:s0:c1,c2"}\n`
    ],
    responses: [`{"Dir":"/var/lib/docker/myplugin/${container}/merged"}`]
  },
  put: { requests: [`{"ID":"${container}"}\n`], responses: ["{}"] },
  exists: { requests: [`{"ID":"${layer}"}\n`], responses: ['{"Exists":true}', '{"Exists":false}'] },
  status: {
    requests: ["{}\n"],
    responses: ['{"Status":[["Backing Filesystem","extfs"],["Layers","12"]]}', '{"Status":[]}', '{"Status":null}']
  },
  getMetadata: {
    requests: [`{"ID":"${layer}"}\n`],
    responses: [`{"Metadata":{"LowerDir":"/l/${parent}","UpperDir":"/l/${layer}"}}`, '{"Metadata":null}']
  },
  cleanup: { requests: ["{}\n"], responses: ["{}"] },
  diff: { requests: [`{"ID":"${container}","Parent":"${container}-init"}\n`, `{"ID":"${layer}"}\n`] },
  changes: {
    requests: [`{"ID":"${container}","Parent":"${container}-init"}\n`],
    responses: [
      '{"Changes":[{"Path":"/etc/hosts","Kind":0},{"Path":"/tmp/new","Kind":1},{"Path":"/var/old","Kind":2}]}',
      '{"Changes":null}'
    ]
  },
  applyDiff: { requests: [`id=${layer}&parent=${parent}`, `id=${layer}&parent=`], responses: ['{"Size":12345}'] },
  diffSize: {
    requests: [`{"ID":"${container}","Parent":"${container}-init"}\n`],
    responses: ['{"Size":0}', '{"Size":4096}']
  },
  capabilities: {
    requests: ["{}\n"],
    responses: ['{"Capabilities":{"ReproducesExactDiffs":true}}', '{"Capabilities":{"ReproducesExactDiffs":false}}']
  }
}

describe("GraphDriver wire", () => {
  describeFixtures(GraphDriver.Api, fixtures)

  it("Diff streams a tar and ApplyDiff reads one, with its parameters in the query string", () => {
    const { diff, applyDiff } = GraphDriver.Api.endpoints
    expect(diff.response).toEqual({ _tag: "Stream", contentType: Wire.TarContentType })
    expect(applyDiff.request._tag).toBe("Stream")
    if (applyDiff.request._tag === "Stream") expect(applyDiff.request.contentType).toBe(Wire.TarContentType)
    expect(expectRoundTrip(GraphDriver.ApplyDiffQuery, parseQuery(`id=${layer}&parent=`))).toEqual({
      id: layer,
      parent: ""
    })
  })

  it("an absent Capabilities answers 404, which the daemon reads as the defaults", () => {
    expect(GraphDriver.Api.endpoints.capabilities.optional).toBe(true)
    expect(GraphDriver.Api.endpoints.capabilities.whenAbsent).toEqual({ _tag: "NotFound" })
    expect(
      Object.values(GraphDriver.Api.endpoints)
        .filter((e) => e.optional)
        .map((e) => e.method)
    ).toEqual(["Capabilities"])
  })

  it("absent omitempty fields stay absent", () => {
    const request = expectRoundTrip(GraphDriver.CreateRequest, parseBody(fixtures.create.requests[0]!))
    expect(Object.keys(request)).toEqual(["ID"])
  })

  it("bad daemon payloads fail with a message naming the field", () => {
    expectDecodeFailure(
      GraphDriver.InitRequest,
      { Home: "/h", Opts: null, UIDMaps: [{ ContainerID: 0, HostID: 100000, Size: 65536 }], GIDMaps: null },
      "UIDMaps.0.container_id",
      "UIDMaps.0.host_id",
      "UIDMaps.0.size"
    )
    expectDecodeFailure(GraphDriver.InitRequest, { Opts: null, UIDMaps: null, GIDMaps: null }, "Home")
    expectDecodeFailure(GraphDriver.CreateRequest, { ID: layer, StorageOpt: { size: 10 } }, "StorageOpt.size")
    expectDecodeFailure(GraphDriver.LayerRequest, {}, "ID")
    expectDecodeFailure(GraphDriver.ApplyDiffQuery, parseQuery(`id=${layer}`), "parent")
  })

  it("driver answers the daemon cannot use are refused before they are sent", () => {
    expectEncodeFailure(GraphDriver.ChangesResponse, { Changes: [{ Path: "/x", Kind: 3 }] }, "Changes.0.Kind")
    expectEncodeFailure(GraphDriver.SizeResponse, { Size: 1.5 }, "Size")
    expectEncodeFailure(GraphDriver.StatusResponse, { Status: [["Layers"]] }, "Status.0")
    expectDecodeFailure(GraphDriver.CapabilitiesResponse, { ReproducesExactDiffs: true }, "Capabilities")
  })
})

describe("GraphDriver properties", () => {
  describeProperties(GraphDriver.Api)
})
