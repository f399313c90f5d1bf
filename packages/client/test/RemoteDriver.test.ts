// A remote plugin used as a driver: the client Layer served by the real server is a working proxy.
import { RemoteDriver, Retry, Target } from "@docker-plugin-kit/client"
import { VolumeMemory } from "@docker-plugin-kit/drivers"
import { NetworkDriver, VolumeDriver } from "@docker-plugin-kit/protocol"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Path from "node:path"
import { serve, tempDir } from "./support.ts"

describe("RemoteDriver", () => {
  it.live("proxies a plugin: client Layer → server → client → backend", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const backend = Path.join(dir, "backend.sock")
      const proxy = Path.join(dir, "proxy.sock")
      yield* serve(backend, VolumeMemory.layer({ mountRoot: "/backend" }))
      yield* serve(proxy, RemoteDriver.layer(VolumeDriver.Api, Target.socket(backend)))

      const front = yield* Target.connect(Target.socket(proxy))
      expect(yield* front.activate).toEqual({ Implements: ["VolumeDriver"] })
      const volumes = front.driver(VolumeDriver.Api)
      yield* volumes.create({ Name: "v", Opts: { a: "1" } })
      expect(yield* volumes.mount({ Name: "v", ID: "m" })).toEqual({ Mountpoint: "/backend/v" })

      // The volume lives in the backend.
      const back = (yield* Target.connect(Target.socket(backend))).driver(VolumeDriver.Api)
      expect((yield* back.get({ Name: "v" })).Volume?.Status).toEqual({ mounts: 1, options: { a: "1" } })

      // Backend failures come back through the proxy as Err, with the backend's text relayed once.
      const error = yield* Effect.flip(volumes.get({ Name: "nope" }))
      expect(error.message).toBe("VolumeDriver.Get: no such volume: nope")
      const direct = yield* Effect.flip(RemoteDriver.relay(back).get({ Name: "nope" }))
      expect([direct._tag, direct.message]).toEqual(["RemoteError", "no such volume: nope"])
    })
  )

  it.live("provides the service the driver class names, so it works wherever a driver is expected", () =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "mem.sock")
      yield* serve(path, VolumeMemory.layer())
      const listed = yield* Effect.gen(function* () {
        const driver = yield* VolumeDriver.VolumeDriver
        yield* driver.create({ Name: "x", Opts: null })
        return yield* driver.list({})
      }).pipe(Effect.provide(RemoteDriver.layerAs(VolumeDriver.VolumeDriver, VolumeDriver.Api, Target.socket(path))))
      expect(listed.Volumes?.map((v) => v.Name)).toEqual(["x"])
    })
  )

  it.live("fails to build with NotImplemented when the plugin lacks the API", () =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "mem.sock")
      yield* serve(path, VolumeMemory.layer())
      const error = yield* Effect.flip(
        Layer.build(RemoteDriver.layer(NetworkDriver.Api, Target.socket(path), { retry: Retry.none }))
      )
      expect(error._tag).toBe("NotImplemented")
    })
  )
})
