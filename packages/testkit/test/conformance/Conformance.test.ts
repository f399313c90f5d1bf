// The VolumeDriver conformance suite run three ways against the memory driver (in-process, over a socket, as a
// running process found by socket path and by name), and against a deliberately broken plugin.
import { Discovery } from "@docker-plugin-kit/client"
import { VolumeMemory } from "@docker-plugin-kit/drivers"
import { Conformance, ConformanceReport, ConformanceSuites, ConformanceVolume } from "@docker-plugin-kit/testkit"
import { ConformanceVitest } from "@docker-plugin-kit/testkit/vitest"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Path from "node:path"
import { cliBin, fixture, nodeProcess, tempDir } from "../support.ts"

ConformanceVitest.describeSuite("VolumeDriver conformance: memory driver in-process", ConformanceVolume.suite, () =>
  ConformanceSuites.inProcess(VolumeMemory.layer())
)

ConformanceVitest.describeSuite(
  "VolumeDriver conformance: memory driver over a Unix socket",
  ConformanceVolume.suite,
  () => ConformanceSuites.overSocket(VolumeMemory.layer())
)

/** `dpk serve volume-memory` as a separate process on a socket in a temp folder. */
const memoryProcess = Effect.gen(function* () {
  const dir = yield* tempDir
  const socket = Path.join(dir, "mem.sock")
  yield* nodeProcess(cliBin, ["serve", "volume-memory", "--name", "mem", "--socket", socket], "listening on")
  return { dir, socket }
})

describe("VolumeDriver conformance: a running plugin process", () => {
  it.live("passes by socket path, by unix:// URL and by name, warnings included", () =>
    Effect.gen(function* () {
      const { dir, socket } = yield* memoryProcess
      const folders = Discovery.folders({ socketDir: dir, specDirs: [] })
      for (const target of [socket, `unix://${socket}`, "mem"]) {
        const client = yield* ConformanceSuites.running(target, { folders })
        const report = yield* Conformance.run(ConformanceVolume.suite, client)
        expect(report.passed, ConformanceReport.format(report)).toBe(true)
        expect(report.outcomes.filter((o) => o.status !== "pass").map((o) => o.check)).toEqual([])
      }
    })
  )
})

describe("VolumeDriver conformance: a broken plugin", () => {
  it.live("fails with one report line per failed check, naming the offending request and response", () =>
    Effect.gen(function* () {
      const socket = Path.join(yield* tempDir, "broken.sock")
      yield* nodeProcess(fixture("broken-volume-plugin.ts"), [socket], "listening on")
      const report = yield* Conformance.run(ConformanceVolume.suite, yield* ConformanceSuites.running(socket))
      const text = ConformanceReport.format(report)
      expect(report.passed).toBe(false)

      const failed = report.outcomes.filter((o) => o.status === "fail")
      // The hang-up on Get of an unknown name also fails Get after Remove, and the misnamed Mountpoint every check
      // that mounts.
      expect(failed.map((o) => o.check)).toEqual([
        "Get of a removed volume answers Err (or Volume null)",
        "Mount and Unmount pair by ID (two mounts, one mountpoint, released one by one)",
        "With two mount IDs, the first Unmount does not release the volume",
        "Get of an unknown volume answers Err (or Volume null)",
        "Remove, Mount and Path of an unknown volume answer Err"
      ])
      const [removed, mount, held, get, remove] = failed
      expect(removed?.reason).toBe("no answer: the plugin closed the connection without answering (socket hang up)")
      expect(held?.reason).toBe(mount?.reason)
      expect(mount?.reason).toBe(
        "VolumeDriver.Mount answered a body that does not match the protocol: Mountpoint: Missing key"
      )
      expect(mount?.response?.text).toMatch(/^\{"MountPath":/)
      expect(get?.reason).toBe("no answer: the plugin closed the connection without answering (socket hang up)")
      expect(get?.request?.path).toBe("/VolumeDriver.Get")
      expect(get?.response).toBeUndefined()
      expect(remove?.reason).toBe('VolumeDriver.Remove failed with status 500 and no "Err" in the body: {}')

      // One ✗ line per failed check, each followed by the request and the response.
      expect(text.split("\n").filter((l) => l.startsWith("  ✗"))).toHaveLength(5)
      expect(text).toContain("      response: (none)")
      expect(text).toMatch(/request: {2}POST \/VolumeDriver\.Remove \{"Name":"dpk-conformance-/)
    })
  )
})
