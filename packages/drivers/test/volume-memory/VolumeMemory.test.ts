import { VolumeMemory } from "@docker-plugin-kit/drivers"
import { InProcess } from "@docker-plugin-kit/testkit"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"

const fixedNow = () => new Date("2026-11-21T14:50:27.723Z")
const plugin = InProcess.make(VolumeMemory.layer({ mountRoot: "/mnt/mem", now: fixedNow }))

describe("volume-memory over the router", () => {
  it.effect("activates as a VolumeDriver", () =>
    Effect.gen(function* () {
      const p = yield* plugin
      const res = yield* p.call("/Plugin.Activate")
      expect(res.status).toBe(200)
      expect(res.contentType).toBe("application/vnd.docker.plugins.v1.1+json")
      expect(res.body).toEqual({ Implements: ["VolumeDriver"] })
    })
  )

  it.effect("create, get, list, remove", () =>
    Effect.gen(function* () {
      const p = yield* plugin
      expect((yield* p.call("/VolumeDriver.Create", { Name: "v1", Opts: null })).body).toEqual({})
      const got = yield* p.call("/VolumeDriver.Get", { Name: "v1" })
      expect(got.body).toEqual({
        Volume: {
          Name: "v1",
          Mountpoint: "/mnt/mem/v1",
          CreatedAt: "2026-11-21T14:50:27.723Z",
          Status: { mounts: 0, options: {} }
        }
      })
      const list = yield* p.call("/VolumeDriver.List", {})
      expect((list.body as { Volumes: Array<{ Name: string }> }).Volumes.map((v) => v.Name)).toEqual(["v1"])
      expect((yield* p.call("/VolumeDriver.Remove", { Name: "v1" })).status).toBe(200)
      const gone = yield* p.call("/VolumeDriver.Get", { Name: "v1" })
      expect(gone.status).toBe(500)
      expect(gone.body).toEqual({ Err: "no such volume: v1" })
    })
  )

  it.effect(
    "mounts counted per ID (twice mounted, twice unmounted); unknown IDs unmount fine; remove of a mounted volume is refused",
    () =>
      Effect.gen(function* () {
        const p = yield* plugin
        yield* p.call("/VolumeDriver.Create", { Name: "shared", Opts: {} })
        expect((yield* p.call("/VolumeDriver.Mount", { Name: "shared", ID: "a" })).body).toEqual({
          Mountpoint: "/mnt/mem/shared"
        })
        yield* p.call("/VolumeDriver.Mount", { Name: "shared", ID: "b" })
        expect((yield* p.call("/VolumeDriver.Remove", { Name: "shared" })).body).toEqual({
          Err: "volume shared is in use by 2 mount(s)"
        })
        yield* p.call("/VolumeDriver.Mount", { Name: "shared", ID: "b" })
        yield* p.call("/VolumeDriver.Unmount", { Name: "shared", ID: "a" })
        // An ID no longer held: success, nothing changes (the daemon does this after `docker cp`).
        expect((yield* p.call("/VolumeDriver.Unmount", { Name: "shared", ID: "a" })).body).toEqual({})
        yield* p.call("/VolumeDriver.Unmount", { Name: "shared", ID: "b" })
        // b was mounted twice: one Unmount leaves it held.
        expect((yield* p.call("/VolumeDriver.Remove", { Name: "shared" })).body).toEqual({
          Err: "volume shared is in use by 1 mount(s)"
        })
        yield* p.call("/VolumeDriver.Unmount", { Name: "shared", ID: "b" })
        expect((yield* p.call("/VolumeDriver.Remove", { Name: "shared" })).status).toBe(200)
      })
  )

  it.effect("duplicate create: same options is a no-op, different options a conflict", () =>
    Effect.gen(function* () {
      const p = yield* plugin
      expect((yield* p.call("/VolumeDriver.Create", { Name: "d", Opts: { size: "1G" } })).status).toBe(200)
      expect((yield* p.call("/VolumeDriver.Create", { Name: "d", Opts: { size: "1G" } })).status).toBe(200)
      const clash = yield* p.call("/VolumeDriver.Create", { Name: "d", Opts: { size: "2G" } })
      expect(clash.status).toBe(500)
      expect(clash.body).toEqual({ Err: "volume d already exists with different options" })
    })
  )

  it.effect("a name with / is refused with a message naming the field", () =>
    Effect.gen(function* () {
      const p = yield* plugin
      const res = yield* p.call("/VolumeDriver.Create", { Name: "a/../b", Opts: null })
      expect(res.status).toBe(500)
      expect(res.body).toEqual({ Err: 'invalid Name: "a/../b" must not contain "/"' })
    })
  )

  it.effect("bad input: malformed JSON, wrong field type, unknown endpoint", () =>
    Effect.gen(function* () {
      const p = yield* plugin
      const malformed = yield* p.call("/VolumeDriver.Create", "{nope")
      expect(malformed.status).toBe(400)
      expect((malformed.body as { Err: string }).Err).toMatch(/^\/VolumeDriver.Create: request body is not valid JSON/)
      const wrongType = yield* p.call("/VolumeDriver.Get", { Name: 42 })
      expect(wrongType.status).toBe(400)
      expect((wrongType.body as { Err: string }).Err).toMatch(
        /^\/VolumeDriver.Get: invalid request: Name: Expected string/
      )
      const unknown = yield* p.call("/VolumeDriver.Explode", {})
      expect(unknown.status).toBe(404)
      expect(unknown.body).toEqual({ Err: "unknown endpoint POST /VolumeDriver.Explode" })
    })
  )
})
