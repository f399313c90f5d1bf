import { EngineRoute } from "@docker-plugin-kit/helpers"
import { describe, expect, it } from "@effect/vitest"

describe("EngineRoute.match", () => {
  it("matches across the version prefix, with and without it, and keeps the version", () => {
    const versioned = EngineRoute.match("POST", "/v1.41/containers/create?name=web")
    expect(versioned).toMatchObject({ version: "1.41", path: "containers/create", template: "containers/create" })
    expect(versioned.query).toEqual({ name: ["web"] })
    expect(EngineRoute.match("POST", "/containers/create")).toMatchObject({
      version: undefined,
      template: "containers/create"
    })
  })

  it("takes slashes in a parameter where the daemon's router does: a container named by a link alias", () => {
    // `docker run --link c1:x --name p` names c1 `p/x` too; the daemon routes `{name:.*}`.
    expect(EngineRoute.match("POST", "/v1.41/containers/p/x/exec")).toMatchObject({
      template: "containers/{id}/exec",
      params: { id: "p/x" }
    })
    expect(EngineRoute.match("POST", "/v1.23/containers/p/x/start").template).toBe("containers/{id}/start")
    expect(EngineRoute.match("POST", "/exec/a/b/start").params).toEqual({ id: "a/b" })
    expect(EngineRoute.match("DELETE", "/v1.41/containers/p/x").params).toEqual({ id: "p/x" })
    expect(EngineRoute.match("POST", "/v1.41/networks/n/m/connect").params).toEqual({ id: "n/m" })
    expect(EngineRoute.match("GET", "/v1.41/volumes/a/b").params).toEqual({ name: "a/b" })
    // Swarm objects' routes take one segment, as the daemon registers them.
    expect(EngineRoute.match("POST", "/v1.41/services/s/update").params).toEqual({ id: "s" })
    expect(EngineRoute.match("GET", "/v1.41/services/a/b").template).toBe(undefined)
  })

  it("names parameters: ids, and image and plugin references", () => {
    expect(EngineRoute.match("POST", "/v1.41/containers/abc123/exec")).toMatchObject({
      template: "containers/{id}/exec",
      params: { id: "abc123" }
    })
    expect(EngineRoute.match("GET", "/v1.40/images/registry:5000/team/app:1.2/json")).toMatchObject({
      template: "images/{name*}/json",
      params: { name: "registry:5000/team/app:1.2" }
    })
    expect(EngineRoute.match("DELETE", "/v1.41/images/library/busybox:latest")).toMatchObject({
      template: "images/{name*}",
      params: { name: "library/busybox:latest" }
    })
  })

  it("tells fixed routes from parameterised ones by method", () => {
    expect(EngineRoute.match("POST", "/v1.41/images/create?fromImage=busybox").template).toBe("images/create")
    expect(EngineRoute.match("GET", "/v1.41/images/get?names=busybox").template).toBe("images/get")
    expect(EngineRoute.match("DELETE", "/v1.41/containers/web").template).toBe("containers/{id}")
    expect(EngineRoute.match("GET", "/v1.41/containers/json").template).toBe("containers/json")
    expect(EngineRoute.match("PUT", "/v1.41/containers/x/archive?path=/tmp").template).toBe("containers/{id}/archive")
    expect(EngineRoute.match("HEAD", "/_ping").template).toBe("_ping")
  })

  it("decodes escapes and cleans the path the way the daemon's router does, so nothing hides a route", () => {
    expect(EngineRoute.match("POST", "/v1.41/containers/cre%61te").template).toBe("containers/create")
    expect(EngineRoute.match("POST", "/v1.41//containers/./create").template).toBe("containers/create")
    expect(EngineRoute.match("POST", "/v1.41/volumes/../containers/create").template).toBe("containers/create")
    expect(EngineRoute.match("POST", "/v1.41/containers%2Fcreate").template).toBe("containers/create")
    // A malformed escape stays as it is: "containers/%zz" is then read as a container id.
    expect(EngineRoute.match("DELETE", "/v1.41/containers/%zz").params).toEqual({ id: "%zz" })
  })

  it("reads an absolute-form target by its path, as Go's server routes it", () => {
    expect(EngineRoute.match("POST", "http://docker/v1.41/containers/create?name=x")).toMatchObject({
      version: "1.41",
      path: "containers/create",
      template: "containers/create",
      query: { name: ["x"] }
    })
    expect(EngineRoute.match("POST", "unix://u@h:1/containers/c1/exec").params).toEqual({ id: "c1" })
    expect(EngineRoute.match("POST", "x:/v1.41/containers/create").template).toBe("containers/create")
    // No path after the authority, or an opaque target: Go's path is empty.
    expect(EngineRoute.match("GET", "http://docker?x=/containers/json").path).toBe("")
    expect(EngineRoute.match("GET", "mailto:containers/json").path).toBe("")
  })

  it("keeps unknown paths unmatched with their clean path, and a method the route lacks still finds it", () => {
    expect(EngineRoute.match("GET", "/v1.41/no/such/thing")).toMatchObject({
      template: undefined,
      path: "no/such/thing",
      params: {}
    })
    expect(EngineRoute.match("GET", "/v1.41/containers/create").template).toBe("containers/create")
    expect(EngineRoute.match(undefined, "/v1.41/exec/e1/start")).toMatchObject({
      template: "exec/{id}/start",
      params: { id: "e1" }
    })
  })

  it("collects repeated query keys in order and reads the first", () => {
    const route = EngineRoute.match("GET", "/v1.41/images/get?names=a&names=b")
    expect(route.query.names).toEqual(["a", "b"])
    expect(EngineRoute.queryValue(route, "names")).toBe("a")
    expect(EngineRoute.queryValue(route, "missing")).toBeUndefined()
  })

  it("takes keys named after an object's built-in properties as any other key", () => {
    const route = EngineRoute.match("GET", "/v1.41/containers/json?constructor=1&__proto__=2&toString=3&all=1")
    expect(route.template).toBe("containers/json")
    expect(Object.entries(route.query)).toEqual([
      ["constructor", ["1"]],
      ["__proto__", ["2"]],
      ["toString", ["3"]],
      ["all", ["1"]]
    ])
    expect(EngineRoute.queryValue(route, "__proto__")).toBe("2")
    expect(EngineRoute.queryValue(route, "hasOwnProperty")).toBeUndefined()
  })

  it("has a template for every route and no duplicate template", () => {
    expect(EngineRoute.templates.size).toBe(EngineRoute.routes.length)
    for (const template of ["containers/create", "containers/{id}/exec", "images/load", "events", "auth"]) {
      expect(EngineRoute.templates.has(template)).toBe(true)
    }
  })
})
