import { describe, expect, it } from "@effect/vitest"
import { Result } from "effect"
import { Authorization, WireCodec } from "../src/index.ts"
import {
  describeFixtures,
  describeProperties,
  expectDecodeFailure,
  expectEncodeFailure,
  expectRoundTrip,
  type Fixtures,
  parseBody
} from "./support.ts"

const volumeCreate =
  '"RequestMethod":"POST","RequestUri":"/v1.41/volumes/create","RequestBody":"eyJEcml2ZXIiOiJwcm90b3JlZi1wcm9iZSIsIk5hbWUiOiJwdjEifQo=","RequestHeaders":{"Content-Length":"41","Content-Type":"application/json","User-Agent":"Docker-Client/28.2.2 (linux)"}'
const pem =
  "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJzekNDQVZtZ0F3SUJBZ0lVVUZidnFmM1J3OW96bzB5bQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg=="
const tlsList = `"User":"alice","UserAuthNMethod":"TLS","RequestMethod":"GET","RequestUri":"/v1.41/containers/json?all=1\\u0026limit=5","RequestHeaders":{"User-Agent":"Docker-Client/20.10.24+dfsg1 (linux)"},"RequestPeerCertificates":["${pem}"]`
const responseHeaders =
  '"ResponseHeaders":{"Api-Version":"1.41","Content-Type":"application/json","Docker-Experimental":"false","Ostype":"linux","Server":"Docker/20.10.24+dfsg1 (linux)"}'
const decisions = [
  '{"Allow":true}',
  '{"Allow":false,"Msg":"volume creation is not allowed"}',
  '{"Allow":true,"Msg":""}'
]

const fixtures: Fixtures<typeof Authorization.Api> = {
  authZReq: {
    requests: [
      `{${volumeCreate}}\n`,
      '{"RequestMethod":"HEAD","RequestUri":"/_ping","RequestHeaders":{"User-Agent":"Docker-Client/28.2.2 (linux)"}}\n',
      `{${tlsList}}\n`,
      "{}\n"
    ],
    responses: decisions
  },
  authZRes: {
    requests: [
      `{${volumeCreate},"ResponseStatusCode":201,"ResponseBody":"eyJOYW1lIjoicHYxIiwiRHJpdmVyIjoibG9jYWwiLCJNb3VudHBvaW50IjoiL3Zhci9saWIvZG9ja2VyL3ZvbHVtZXMvcHYxL19kYXRhIn0K",${responseHeaders}}\n`,
      `{"RequestMethod":"DELETE","RequestUri":"/v1.41/volumes/pv1","RequestHeaders":{"User-Agent":"Docker-Client/28.2.2 (linux)"},"ResponseStatusCode":204,${responseHeaders}}\n`,
      `{${tlsList}}\n`
    ],
    responses: decisions
  }
}

describe("Authorization wire", () => {
  describeFixtures(Authorization.Api, fixtures)

  it("uses the authz manifest entry and the AuthZPlugin path prefix", () => {
    expect(Authorization.Api.subsystem).toBe("authz")
    expect(Authorization.Api.endpoints.authZReq.path).toBe("/AuthZPlugin.AuthZReq")
    expect(Authorization.Api.endpoints.authZRes.path).toBe("/AuthZPlugin.AuthZRes")
  })

  it("reads RequestUri (the documented RequestURI spelling is not what the daemon sends)", () => {
    const request = expectRoundTrip(Authorization.AuthZRequest, parseBody(`{${tlsList}}`))
    expect(request.RequestUri).toBe("/v1.41/containers/json?all=1&limit=5")
    const misspelt = WireCodec.decoder(Authorization.AuthZRequest)({ RequestURI: "/v1.41/info" })
    expect(misspelt).toEqual(Result.succeed({}))
  })

  it("bad payloads fail with a message naming the field", () => {
    expectDecodeFailure(Authorization.AuthZRequest, { RequestBody: "not base64!" }, "RequestBody")
    expectDecodeFailure(Authorization.AuthZRequest, { RequestHeaders: { Accept: ["a", "b"] } }, "RequestHeaders.Accept")
    expectDecodeFailure(Authorization.AuthZRequest, { RequestPeerCertificates: "x" }, "RequestPeerCertificates")
    expectDecodeFailure(Authorization.AuthZResponseRequest, { ResponseStatusCode: "201" }, "ResponseStatusCode")
    expectEncodeFailure(Authorization.AuthZResponse, { Msg: "no" }, "Allow")
  })
})

describe("Authorization properties", () => {
  describeProperties(Authorization.Api)
})
