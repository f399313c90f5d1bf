import { VolumeMemory } from "@docker-plugin-kit/drivers"
import { VolumeDriver } from "@docker-plugin-kit/protocol"
import { InProcess, SocketHarness } from "@docker-plugin-kit/testkit"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"

describe("SocketHarness", () => {
  it.live("serves a driver Layer on a temporary socket with a typed client, and cleans up after", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const harness = yield* SocketHarness.make(VolumeMemory.layer(), { name: "mem" }).pipe(Scope.provide(scope))
      expect(Path.basename(harness.socketPath)).toBe("mem.sock")
      expect(Fs.statSync(harness.socketPath).isSocket()).toBe(true)
      expect(Buffer.byteLength(harness.socketPath)).toBeLessThan(108)

      expect(yield* harness.client.activate).toEqual({ Implements: ["VolumeDriver"] })
      const volumes = harness.driver(VolumeDriver.Api)
      yield* volumes.create({ Name: "a", Opts: null })
      expect((yield* volumes.list({})).Volumes?.map((v) => v.Name)).toEqual(["a"])

      yield* Scope.close(scope, Exit.void)
      expect(Fs.existsSync(harness.socketPath)).toBe(false)
      expect(Fs.existsSync(Path.dirname(harness.socketPath))).toBe(false)
    })
  )

  it.live("gives every harness its own socket", () =>
    Effect.gen(function* () {
      const [a, b] = yield* Effect.all([
        SocketHarness.make(VolumeMemory.layer()),
        SocketHarness.make(VolumeMemory.layer())
      ])
      expect(a.socketPath).not.toBe(b.socketPath)
      yield* a.driver(VolumeDriver.Api).create({ Name: "only-in-a", Opts: null })
      expect((yield* b.driver(VolumeDriver.Api).list({})).Volumes).toEqual([])
    })
  )
})

describe("InProcess.driver", () => {
  it.effect("calls a driver through the router with the daemon's error model, no socket", () =>
    Effect.gen(function* () {
      const plugin = yield* InProcess.make(VolumeMemory.layer({ mountRoot: "/m" }))
      const volumes = plugin.driver(VolumeDriver.Api)
      yield* volumes.create({ Name: "v", Opts: null })
      expect(yield* volumes.mount({ Name: "v", ID: "x" })).toEqual({ Mountpoint: "/m/v" })
      const error = yield* Effect.flip(volumes.get({ Name: "nope" }))
      expect([error._tag, error.message]).toEqual(["StatusError", "VolumeDriver.Get: no such volume: nope"])
    })
  )
})
