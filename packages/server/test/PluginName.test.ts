// A plugin's name makes its socket and spec file names: one that would put them elsewhere, or that the daemon could
// not be given, is refused before anything is written.
import { VolumeMemory } from "@docker-plugin-kit/drivers"
import { PluginName, PluginServer } from "@docker-plugin-kit/server"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { tempDir } from "./support.ts"

describe("PluginName", () => {
  it("takes letters, digits, dots, underscores and dashes, starting with a letter or a digit", () => {
    for (const name of ["vol", "my-volume", "Vendor.Driver_2", "0x"]) expect(PluginName.check(name)).toBeUndefined()
    for (const name of ["", "../escaped", "a/b", "..", ".hidden", "-x", "x y", "x\0y", "é"]) {
      expect(PluginName.check(name)).toMatch(/^must be letters, digits/)
    }
  })

  it.live("a server named ../NAME fails to start, naming it, and writes no socket or spec file anywhere", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const specDir = Path.join(dir, "inner")
      Fs.mkdirSync(specDir)
      const name = `../escaped-${process.pid}`
      // With a spec file in a folder of the test's, and with the default socket in the daemon's folder.
      for (const listen of [{ _tag: "Tcp" as const, host: "127.0.0.1", port: 0, specDir }, undefined]) {
        const options = listen === undefined ? { name } : { name, listen }
        const exit = yield* Effect.exit(Effect.scoped(Layer.build(PluginServer.layer(options, VolumeMemory.layer()))))
        expect(String(exit)).toContain(`plugin name "${name}": must be letters, digits`)
      }
      expect(Fs.readdirSync(dir)).toEqual(["inner"])
      expect(Fs.readdirSync(specDir)).toEqual([])
      expect(Fs.existsSync(`/run/docker/escaped-${process.pid}.sock`)).toBe(false)
    })
  )
})
