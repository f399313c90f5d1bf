import { describe, expect, it } from "@effect/vitest"
import { Endpoint, LogDriver, Wire } from "../src/index.ts"
import {
  describeFixtures,
  describeProperties,
  expectDecodeFailure,
  expectEncodeFailure,
  expectRoundTrip,
  type Fixtures
} from "./support.ts"

const file = "/run/docker/logging/70c122b193111cfebd387061f0dac428269a00a90dc9609546515f92565a213a"
const info =
  '{"Config":{"tag":"x"},"ContainerID":"f74cb1179245787eebb732b9dc391263f627cdb6f762efeb612a6fc019fb375f","ContainerName":"/c1","ContainerEntrypoint":"sh","ContainerArgs":["-c","echo hello; echo world 1\\u003e\\u00262; ls /data"],"ContainerImageID":"sha256:4a8237230732bc8a03a1e3bcce97cbe403ff34334493fe9800c5f3ab7d629301","ContainerImageName":"probeimg:1","ContainerCreated":"2026-11-21T14:50:45.334095859Z","ContainerEnv":["FOO=bar"],"ContainerLabels":{"cl":"1"},"LogPath":"","DaemonName":"docker"}'
const bareInfo =
  '{"Config":{},"ContainerID":"a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90","ContainerName":"/quiet","ContainerEntrypoint":"/pause","ContainerArgs":null,"ContainerImageID":"sha256:4a8237230732bc8a03a1e3bcce97cbe403ff34334493fe9800c5f3ab7d629301","ContainerImageName":"pause","ContainerCreated":"2026-11-21T14:50:45Z","ContainerEnv":null,"ContainerLabels":null,"LogPath":"","DaemonName":"docker"}'

const fixtures: Fixtures<typeof LogDriver.Api> = {
  startLogging: {
    requests: [`{"File":"${file}","Info":${info}}\n`, `{"File":"${file}","Info":${bareInfo}}\n`],
    responses: ["{}"]
  },
  stopLogging: { requests: [`{"File":"${file}"}\n`], responses: ["{}"] },
  capabilities: { requests: [""], responses: ['{"Cap":{"ReadLogs":true}}', '{"Cap":{"ReadLogs":false}}'] },
  readLogs: {
    requests: [
      `{"Info":${info},"Config":{"Since":"0001-01-01T00:00:00Z","Until":"0001-01-01T00:00:00Z","Tail":-1,"Follow":false}}\n`,
      `{"Info":${info},"Config":{"Since":"2020-01-01T00:00:00Z","Until":"0001-01-01T00:00:00Z","Tail":1,"Follow":false}}\n`,
      `{"Info":${bareInfo},"Config":{"Since":"2026-11-21T14:50:45.334095859+01:00","Until":"2026-11-21T15:00:00Z","Tail":0,"Follow":true}}\n`
    ]
  }
}

describe("LogDriver wire", () => {
  describeFixtures(LogDriver.Api, fixtures)

  it("Capabilities is optional, sent with an empty body, and when absent advertises ReadLogs exactly when it is served", () => {
    const endpoint = LogDriver.Api.endpoints.capabilities
    expect(endpoint.optional).toBe(true)
    expect(endpoint.request.emptyBody).toBe(true)
    const withReadLogs = Endpoint.absentBody(endpoint.whenAbsent, (key) => key === "readLogs")
    const without = Endpoint.absentBody(endpoint.whenAbsent, () => false)
    expect([withReadLogs, without]).toEqual([{ Cap: { ReadLogs: true } }, { Cap: { ReadLogs: false } }])
    expectRoundTrip(LogDriver.CapabilitiesResponse, withReadLogs)
    expectRoundTrip(LogDriver.CapabilitiesResponse, without)
  })

  it("ReadLogs is optional (the daemon calls it only when Capabilities says so) and answers 404 when absent", () => {
    const endpoint = LogDriver.Api.endpoints.readLogs
    expect([endpoint.optional, endpoint.whenAbsent]).toEqual([true, { _tag: "NotFound" }])
  })

  it("ReadLogs streams binary frames", () => {
    expect(LogDriver.Api.endpoints.readLogs.response).toEqual({ _tag: "Stream", contentType: Wire.BinaryContentType })
  })

  it("bad payloads fail with a message naming the field", () => {
    const parsedInfo = JSON.parse(info)
    expectDecodeFailure(LogDriver.StartLoggingRequest, { Info: parsedInfo }, "File")
    expectDecodeFailure(
      LogDriver.StartLoggingRequest,
      { File: file, Info: { ...parsedInfo, ContainerCreated: "" } },
      "Info.ContainerCreated"
    )
    expectDecodeFailure(
      LogDriver.ReadLogsRequest,
      {
        Info: parsedInfo,
        ReadConfig: { Since: "0001-01-01T00:00:00Z", Until: "0001-01-01T00:00:00Z", Tail: -1, Follow: false }
      },
      "Config"
    )
    expectDecodeFailure(
      LogDriver.ReadLogsRequest,
      {
        Info: parsedInfo,
        Config: { Since: "0001-01-01T00:00:00Z", Until: "0001-01-01T00:00:00Z", Tail: "all", Follow: false }
      },
      "Config.Tail"
    )
    // A Go int past what a JavaScript number holds exactly is refused as such, not as "not an integer".
    expectDecodeFailure(
      LogDriver.ReadLogsRequest,
      {
        Info: parsedInfo,
        Config: { Since: "0001-01-01T00:00:00Z", Until: "0001-01-01T00:00:00Z", Tail: 2 ** 53, Follow: false }
      },
      "Config.Tail",
      "a larger Go int is beyond the range supported here"
    )
    expectDecodeFailure(LogDriver.CapabilitiesResponse, { ReadLogs: true }, "Cap")
    expectEncodeFailure(LogDriver.CapabilitiesResponse, { Cap: {} }, "Cap.ReadLogs")
  })
})

describe("LogDriver properties", () => {
  describeProperties(LogDriver.Api)
})
