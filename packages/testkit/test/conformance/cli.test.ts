// `dpk discover` and `dpk probe` as a user runs them: separate processes against plugin processes.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { cliBin, dpk, fixture, nodeProcess, tempDir } from "../support.ts"

const memory = (socket: string) =>
  nodeProcess(
    cliBin,
    ["serve", "volume-memory", "--name", Path.basename(socket, ".sock"), "--socket", socket],
    "listening on"
  )

describe("dpk probe", () => {
  it.live("passes the memory plugin by socket path and by name, exit code 0", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const socket = Path.join(dir, "mem.sock")
      yield* memory(socket)
      const bySocket = yield* dpk(["probe", socket])
      expect(bySocket.code, bySocket.stdout + bySocket.stderr).toBe(0)
      expect(bySocket.stdout).toContain(`probe ${socket} (unix://${socket}): implements VolumeDriver`)
      expect(bySocket.stdout).toMatch(/VolumeDriver conformance of .*: 12 passed, 0 failed\n/)
      expect(bySocket.stdout).toContain("result: PASS")

      const byName = yield* dpk(["probe", "mem", "--socket-dir", dir, "--json"])
      expect(byName.code).toBe(0)
      const result = JSON.parse(byName.stdout)
      expect([result.passed, result.implements, result.reports[0].subsystem]).toEqual([
        true,
        ["VolumeDriver"],
        "VolumeDriver"
      ])
    })
  )

  it.live("fails the broken plugin with one line per defect and exit code 1", () =>
    Effect.gen(function* () {
      const socket = Path.join(yield* tempDir, "broken.sock")
      yield* nodeProcess(fixture("broken-volume-plugin.ts"), [socket], "listening on")
      const { code, stdout } = yield* dpk(["probe", `unix://${socket}`])
      expect(code).toBe(1)
      expect(stdout.split("\n").filter((l) => l.startsWith("  ✗"))).toEqual([
        "  ✗ Mount and Unmount pair by ID (two mounts, one mountpoint, released one by one): VolumeDriver.Mount answered a body that does not match the protocol: Mountpoint: Missing key",
        "  ✗ Get of an unknown volume answers Err (or Volume null): no answer: the plugin closed the connection without answering (socket hang up)",
        '  ✗ Remove, Mount and Path of an unknown volume answer Err: VolumeDriver.Remove failed with status 500 and no "Err" in the body: {}'
      ])
      expect(stdout).toMatch(/ {6}response: 200 \{"MountPath":"\/srv\/dpk-conformance-[^"]+"\}/)
      expect(stdout).toContain("result: FAIL")

      const json = yield* dpk(["probe", socket, "--json"])
      expect(json.code).toBe(1)
      const result = JSON.parse(json.stdout)
      expect(result.passed).toBe(false)
      expect(result.reports[0].outcomes.filter((o: { status: string }) => o.status === "fail")).toHaveLength(3)
    })
  )

  it.live("says clearly when there is nothing to probe", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const missing = yield* dpk(["probe", "ghost", "--socket-dir", dir, "--spec-dir", dir])
      expect(missing.code).toBe(1)
      expect(missing.stdout.trim()).toBe(
        `probe ghost: plugin "ghost" not found: no socket or spec file at ${[
          `${dir}/ghost.sock`,
          `${dir}/ghost/ghost.sock`,
          `${dir}/ghost.spec`,
          `${dir}/ghost/ghost.spec`,
          `${dir}/ghost.json`,
          `${dir}/ghost/ghost.json`
        ].join(", ")}`
      )
      const dead = yield* dpk(["probe", Path.join(dir, "dead.sock")])
      expect(dead.code).toBe(1)
      expect(dead.stdout).toContain("activation failed: Plugin.Activate: cannot reach the plugin at unix://")
    })
  )
})

describe("dpk discover", () => {
  it.live("lists what the daemon would find, with transport, address, source and what each implements", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const run = Path.join(dir, "run")
      const specs = Path.join(dir, "specs")
      Fs.mkdirSync(Path.join(run, "nested"), { recursive: true })
      Fs.mkdirSync(specs)
      yield* memory(Path.join(run, "mem.sock"))
      yield* memory(Path.join(run, "nested", "nested.sock"))
      Fs.writeFileSync(Path.join(specs, "bad.spec"), "localhost:8080\n")
      Fs.writeFileSync(Path.join(specs, "remote.json"), '{"Addr":"tcp://127.0.0.1:1"}')

      const text = yield* dpk(["discover", "--socket-dir", run, "--spec-dir", specs])
      expect(text.code).toBe(0)
      const lines = text.stdout.trim().split("\n")
      expect(lines[0]).toMatch(/^NAME +TRANSPORT +ADDRESS +FOUND IN +IMPLEMENTS$/)
      expect(lines[1]).toMatch(new RegExp(`^mem +unix +unix://${run}/mem.sock +${run}/mem.sock +VolumeDriver$`))
      expect(lines[2]).toMatch(/^nested +unix .* VolumeDriver$/)
      expect(lines[3]).toMatch(
        /^bad +- +- +.*bad\.spec +\(bad plugin spec file .*bad\.spec: unsupported protocol "localhost"/
      )
      expect(lines[4]).toMatch(
        /^remote +tcp +tcp:\/\/127\.0\.0\.1:1 +.*remote\.json +\(Plugin\.Activate: cannot reach the plugin/
      )

      const json = yield* dpk(["discover", "--socket-dir", run, "--spec-dir", specs, "--json"])
      const entries = JSON.parse(json.stdout) as Array<{ name: string; implements: Array<string> | null }>
      expect(entries.map((e) => [e.name, e.implements])).toEqual([
        ["mem", ["VolumeDriver"]],
        ["nested", ["VolumeDriver"]],
        ["bad", null],
        ["remote", null]
      ])
    })
  )

  it.live("says so when nothing is there", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const { code, stdout } = yield* dpk(["discover", "--socket-dir", dir, "--spec-dir", dir])
      expect(code).toBe(0)
      expect(stdout.trim()).toBe(`no plugins found in ${dir}, ${dir}`)
    })
  )
})
