// The driver tested in-process (no socket), then over a real Unix socket with the toolkit's conformance suite.
import { ConformanceSuites, ConformanceVolume, InProcess } from "@docker-plugin-kit/testkit"
import { ConformanceVitest } from "@docker-plugin-kit/testkit/vitest"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Driver from "../src/Driver.ts"

const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "__NAME__-test-"))
afterAll(() => Fs.rmSync(root, { recursive: true, force: true }))

describe("the driver, in-process", () => {
  it.effect("creates a folder per volume, mounts it, and refuses names that leave the root", () =>
    Effect.gen(function* () {
      const plugin = yield* InProcess.make(Driver.layer(Path.join(root, "a")))
      expect((yield* plugin.call("/VolumeDriver.Create", { Name: "data", Opts: null })).body).toEqual({})
      expect(Fs.statSync(Path.join(root, "a", "data")).isDirectory()).toBe(true)
      const mounted = yield* plugin.call("/VolumeDriver.Mount", { Name: "data", ID: "m1" })
      expect(mounted.body).toEqual({ Mountpoint: Path.join(root, "a", "data") })
      expect((yield* plugin.call("/VolumeDriver.Remove", { Name: "data" })).body).toEqual({
        Err: "volume data is in use"
      })
      yield* plugin.call("/VolumeDriver.Unmount", { Name: "data", ID: "m1" })
      expect((yield* plugin.call("/VolumeDriver.Remove", { Name: "data" })).body).toEqual({})
      expect((yield* plugin.call("/VolumeDriver.Create", { Name: "../escape", Opts: null })).body).toEqual({
        Err: 'invalid volume name "../escape"'
      })
      expect(Fs.existsSync(Path.join(root, "escape"))).toBe(false)
    })
  )
})

ConformanceVitest.describeSuite("the driver over a Unix socket", ConformanceVolume.suite, () =>
  ConformanceSuites.overSocket(Driver.layer(Path.join(root, "b")))
)
