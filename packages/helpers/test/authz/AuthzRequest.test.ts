import { AuthzRequest } from "@docker-plugin-kit/helpers"
import { describe, expect, it } from "@effect/vitest"

const b64 = (text: string) => Buffer.from(text).toString("base64")
const json = { "Content-Type": "application/json" }

describe("AuthzRequest.fromRequest", () => {
  it("reads the request the daemon captured: method, route, decoded JSON body, headers", () => {
    const request = AuthzRequest.fromRequest({
      RequestMethod: "POST",
      RequestUri: "/v1.41/volumes/create",
      RequestBody: "eyJEcml2ZXIiOiJwcm90b3JlZi1wcm9iZSIsIk5hbWUiOiJwdjEifQo=",
      RequestHeaders: {
        "Content-Length": "41",
        "Content-Type": "application/json",
        "User-Agent": "Docker-Client/28.2.2"
      }
    })
    expect(request.method).toBe("POST")
    expect(request.route.template).toBe("volumes/create")
    expect(request.body).toEqual({ _tag: "Json", value: { Driver: "protoref-probe", Name: "pv1" } })
    expect(request.user).toBeUndefined()
    expect(request.authMethod).toBeUndefined()
    expect(request.peerCertificates).toEqual([])
    expect(AuthzRequest.describe(request)).toBe("POST volumes/create")
  })

  it("gives the TLS user, its method and the peer certificates as PEM text", () => {
    const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    const request = AuthzRequest.fromRequest({
      User: "alice",
      UserAuthNMethod: "TLS",
      RequestMethod: "get",
      RequestUri: "/v1.41/info",
      RequestPeerCertificates: [b64(pem)]
    })
    expect(request).toMatchObject({ user: "alice", authMethod: "TLS", method: "GET", peerCertificates: [pem] })
    expect(AuthzRequest.describe(request)).toBe("GET info (user alice)")
  })

  it("tells a withheld JSON body from a body that is not JSON at all", () => {
    const withheld = AuthzRequest.fromRequest({
      RequestMethod: "POST",
      RequestUri: "/containers/create",
      RequestHeaders: json
    })
    expect(withheld.body._tag).toBe("Withheld")
    // A length of 0 says there was nothing to forward; any other length, or none (chunked), says it was withheld.
    const body = (headers: Record<string, string>) =>
      AuthzRequest.fromRequest({ RequestMethod: "POST", RequestUri: "/containers/c/start", RequestHeaders: headers })
        .body._tag
    expect(body({ ...json, "Content-Length": "0" })).toBe("Empty")
    expect(body({ ...json, "Content-Length": "2000000" })).toBe("Withheld")
    expect(body({ "Content-Type": "text/plain", "Content-Length": "0" })).toBe("NotJson")
    const tar = AuthzRequest.fromRequest({
      RequestMethod: "PUT",
      RequestUri: "/v1.41/containers/c/archive?path=/tmp",
      RequestHeaders: { "Content-Type": "application/x-tar" }
    })
    expect(tar.body).toEqual({ _tag: "NotJson", contentType: "application/x-tar" })
    expect(AuthzRequest.fromRequest({ RequestMethod: "GET", RequestUri: "/_ping" }).body).toEqual({
      _tag: "NotJson",
      contentType: undefined
    })
  })

  it("reads the content type like the daemon: media type only, any header case", () => {
    expect(AuthzRequest.isJsonContentType("application/json; charset=utf-8")).toBe(true)
    expect(AuthzRequest.isJsonContentType("Application/JSON")).toBe(true)
    expect(AuthzRequest.isJsonContentType("text/json")).toBe(false)
    expect(AuthzRequest.isJsonContentType(undefined)).toBe(false)
    const request = AuthzRequest.fromRequest({
      RequestMethod: "POST",
      RequestUri: "/containers/create",
      RequestHeaders: { "content-type": "application/json" },
      RequestBody: b64('{"Image":"busybox"}')
    })
    expect(request.body).toEqual({ _tag: "Json", value: { Image: "busybox" } })
  })

  it("reports a body that is not base64 or not JSON as unreadable, with the reason", () => {
    expect(AuthzRequest.readBody("not base64!", "application/json")).toEqual({
      _tag: "Unreadable",
      reason: "the body is not valid base64"
    })
    const broken = AuthzRequest.readBody(b64('{"Image":'), "application/json")
    expect(broken._tag).toBe("Unreadable")
    expect(broken._tag === "Unreadable" && broken.reason).toMatch(/^the body is not valid JSON/)
  })

  it("reads a forwarded body as JSON whatever content type it is shown (the last sent; the daemon goes by the first)", () => {
    expect(AuthzRequest.readBody(b64('{"Image":"busybox"}'), "text/plain", "19")).toEqual({
      _tag: "Json",
      value: { Image: "busybox" }
    })
    expect(AuthzRequest.readBody(undefined, "text/plain", "19")).toEqual({ _tag: "NotJson", contentType: "text/plain" })
  })

  it("reports a body with a key Go's decoder reads otherwise than JSON.parse as unreadable", () => {
    for (const [text, key] of [
      ['{"HostConfig":{"Privileged":true},"HostConfig":{}}', "HostConfig"],
      ['{"a":[{"Privileged":true,"privileged":null}]}', "privileged"],
      ['{"Privileged":true,"privileged":false,"Privileged":true}', "Privileged"],
      ['{"x":"\\"{","HostConfig":{},"hostconfig":{}}', "hostconfig"],
      ['{"P\\u0072ivileged":1 , "PRIVILEGED" :\nnull}', "PRIVILEGED"]
    ]) {
      expect(AuthzRequest.readBody(b64(text!), "application/json")).toEqual({
        _tag: "Unreadable",
        reason: `the body repeats the key "${key}" in one object, which the daemon's Go decoder reads otherwise than JSON.parse`
      })
    }
    // Read alike: a later array or scalar in another spelling replaces the earlier one, keys of different objects,
    // a first null, map keys with string values.
    for (const text of [
      '{"Binds":[],"binds":["/:/h"],"privileged":false,"Privileged":true}',
      '{"a":{"k":1},"b":{"k":1},"c":[{"k":1},{"k":2}]}',
      '{"HostConfig":null,"hostconfig":{}}',
      '{"Labels":{"a":"1","A":"2"},"s":"\\\\"}'
    ]) {
      expect(AuthzRequest.readBody(b64(text), "application/json")._tag).toBe("Json")
    }
  })

  it("reads the daemon's response for AuthZRes", () => {
    const request = AuthzRequest.fromResponseRequest({
      RequestMethod: "GET",
      RequestUri: "/v1.41/version",
      ResponseStatusCode: 200,
      ResponseHeaders: { "Content-Type": "application/json", "Api-Version": "1.41" },
      ResponseBody: b64('{"Version":"20.10.24"}')
    })
    expect(request.response).toEqual({
      status: 200,
      headers: { "Content-Type": "application/json", "Api-Version": "1.41" },
      body: { _tag: "Json", value: { Version: "20.10.24" } }
    })
    expect(AuthzRequest.fromResponseRequest({ RequestUri: "/events" }).response.status).toBeUndefined()
  })
})
