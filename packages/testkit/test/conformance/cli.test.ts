// `dpk discover` and `dpk probe` as a user runs them: separate processes against plugin processes.
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { ConformanceSuites } from "@docker-plugin-kit/testkit"
import { cliBin, dpk, fixture, nodeProcess, tempDir } from "../support.ts"

const memory = (socket: string) =>
  nodeProcess(
    cliBin,
    ["serve", "volume-memory", "--name", Path.basename(socket, ".sock"), "--socket", socket],
    "listening on"
  )

describe("dpk probe", () => {
  it.live("--secret-name judges a secret the provider holds; without it, a provider failing fresh names passes", () =>
    Effect.gen(function* () {
      const socket = Path.join(yield* tempDir, "vault.sock")
      yield* nodeProcess(fixture("vault-secret-plugin.ts"), [socket], "listening on")
      const check = "GetSecret answers a value the swarm manager accepts (1 byte to under 500 KiB)"
      expect((yield* dpk(["probe", socket])).code).toBe(0)
      expect((yield* dpk(["probe", socket, "--secret-name", "db-password"])).code).toBe(0)
      const empty = yield* dpk(["probe", socket, "--secret-name", "empty-token"])
      expect(empty.code).toBe(1)
      expect(empty.stdout).toContain(
        `  ✗ ${check}: SecretProvider.GetSecret answered secret "empty-token" with a Value of 0 bytes: the swarm manager refuses an empty value`
      )
      const missing = yield* dpk(["probe", socket, "--secret-name", "api-key"])
      expect(missing.code).toBe(1)
      expect(missing.stdout).toContain(
        `  ✗ ${check}: SecretProvider.GetSecret failed for secret "api-key", which the plugin was said to hold (status 200, "no secret named api-key"): every task using it fails to start`
      )
    })
  )

  it.live("passes the memory plugin by socket path and by name, exit code 0", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const socket = Path.join(dir, "mem.sock")
      yield* memory(socket)
      const bySocket = yield* dpk(["probe", socket])
      expect(bySocket.code, bySocket.stdout + bySocket.stderr).toBe(0)
      expect(bySocket.stdout).toContain(`probe ${socket} (unix://${socket}): implements VolumeDriver`)
      expect(bySocket.stdout).toMatch(/VolumeDriver conformance of .*: 16 passed, 0 failed\n/)
      expect(bySocket.stdout).toMatch(/VolumeDriver generic conformance of .*: 18 passed, 0 failed\n/)
      expect(bySocket.stdout).toContain(
        "suites run: VolumeDriver semantic (16 checks), VolumeDriver generic (18 checks)"
      )
      expect(bySocket.stdout).not.toContain("only the generic checks")
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
      // The hang-up on Get of an unknown name also fails Get after Remove, and the misnamed Mountpoint every check
      // that mounts.
      expect(stdout.split("\n").filter((l) => l.startsWith("  ✗"))).toEqual([
        "  ✗ Get of a removed volume answers Err (or Volume null): no answer: the plugin closed the connection without answering (socket hang up)",
        "  ✗ Mount and Unmount pair by ID (two mounts, one mountpoint, released one by one): VolumeDriver.Mount answered a body that does not match the protocol: Mountpoint: Missing key",
        "  ✗ With two mount IDs, the first Unmount does not release the volume: VolumeDriver.Mount answered a body that does not match the protocol: Mountpoint: Missing key",
        "  ✗ Get of an unknown volume answers Err (or Volume null): no answer: the plugin closed the connection without answering (socket hang up)",
        '  ✗ Remove, Mount and Path of an unknown volume answer Err: VolumeDriver.Remove failed with status 500 and no "Err" in the body: {}',
        // The generic suite finds the defect that any request shows (its Create and Remove name one volume).
        "  ✗ VolumeDriver.Get answers a well-formed request: no answer: the plugin closed the connection without answering (socket hang up)"
      ])
      expect(stdout).toMatch(/ {6}response: 200 \{"MountPath":"\/srv\/dpk-conformance-[^"]+"\}/)
      expect(stdout).toContain("result: FAIL")

      const json = yield* dpk(["probe", socket, "--json"])
      expect(json.code).toBe(1)
      const result = JSON.parse(json.stdout)
      expect(result.passed).toBe(false)
      expect(result.reports[0].outcomes.filter((o: { status: string }) => o.status === "fail")).toHaveLength(5)
      expect(result.suites).toEqual([
        { subsystem: "VolumeDriver", suite: "semantic", checks: 16 },
        { subsystem: "VolumeDriver", suite: "generic", checks: 18 }
      ])
    })
  )

  it.live("finds every defect of a network + IPAM plugin it has never seen, one line each, and exits 1", () =>
    Effect.gen(function* () {
      const socket = Path.join(yield* tempDir, "net.sock")
      yield* nodeProcess(fixture("broken-network-plugin.ts"), [socket], "listening on")
      const { code, stdout } = yield* dpk(["probe", socket])
      expect(code, stdout).toBe(1)
      expect(stdout).toContain("implements NetworkDriver, IpamDriver")
      // The semantic suites see the same four defects from the daemon's sequences: each line names its endpoint.
      expect(stdout.split("\n").filter((l) => l.startsWith("  ✗"))).toEqual([
        '  ✗ GetCapabilities (empty body) answers an exact scope, the same every time: NetworkDriver.GetCapabilities answered a body that does not match the protocol: Scope: Expected "local" | "global", got "host"',
        '  ✗ GwAllocCheck answers when GwAllocChecker is reported: NetworkDriver.GetCapabilities answered a body that does not match the protocol: Scope: Expected "local" | "global", got "host"',
        "  ✗ Join, EndpointOperInfo, Leave and DeleteEndpoint follow each other like docker run and docker rm: NetworkDriver.Leave failed with status 404: unknown endpoint /NetworkDriver.Leave",
        '  ✗ NetworkDriver.GetCapabilities answers a well-formed request: NetworkDriver.GetCapabilities answered a body that does not match the protocol: Scope: Expected "local" | "global", got "host"',
        "  ✗ NetworkDriver.Leave answers a well-formed request: NetworkDriver.Leave is not implemented (404), but the daemon requires it",
        "  ✗ NetworkDriver.CreateNetwork rejects malformed requests with an answer: no answer: the plugin closed the connection without answering (socket hang up)",
        '  ✗ IpamDriver.ReleasePool answers a well-formed request: IpamDriver.ReleasePool answered 200 with its error in "Err", which the daemon ignores for IpamDriver (a 200 answer carries errors in "Error", any other status in "Err")'
      ])
      expect(stdout).toContain('      response: 200 {"Scope":"host"}')
      expect(stdout).toContain('      request:  POST /NetworkDriver.CreateNetwork {"')
      expect(stdout).toMatch(/NetworkDriver generic conformance of .*: 28 passed, 3 failed/)
      expect(stdout).toMatch(/IpamDriver generic conformance of .*: 11 passed, 1 failed/)
      // Semantic suites run beside the generic ones where they exist; the rest is said plainly.
      const semantic = ["NetworkDriver", "IpamDriver"].filter((s) => ConformanceSuites.bySubsystem[s] !== undefined)
      const genericOnly = ["NetworkDriver", "IpamDriver"].filter((s) => !semantic.includes(s))
      const suitesLine = stdout.split("\n").find((l) => l.startsWith("suites run: "))
      expect(suitesLine).toContain("NetworkDriver generic (31 checks)")
      expect(suitesLine).toContain("IpamDriver generic (12 checks)")
      for (const s of semantic) expect(suitesLine).toContain(`${s} semantic (`)
      if (genericOnly.length > 0) {
        expect(stdout).toContain(`only the generic checks (no semantic suite yet) for: ${genericOnly.join(", ")}`)
      }
      expect(stdout).toContain("✓ the plugin still answers Plugin.Activate afterwards")
      expect(stdout.trim().split("\n").at(-1)).toBe("result: FAIL")
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
        /^bad +- +- +.*bad\.spec +\(bad plugin spec file .*bad\.spec: "localhost:8080" reads as the scheme "localhost" with no host/
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
