import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { post, tempDir, waitFor } from "../../server/test/support.ts"
import { dpk, nodeArgs, start } from "./support.ts"

describe("dpk serve", () => {
  it.live("prints one ready line, logs calls with --verbose, and cleans up on SIGTERM", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const socket = Path.join(dir, "cli.sock")
      const run = yield* start(process.execPath, [
        ...nodeArgs,
        "serve",
        "volume-memory",
        "--name",
        "climem",
        "--socket",
        socket,
        "--verbose"
      ])
      yield* waitFor(() => run.output().includes("listening on"))
      expect(run.output().trim()).toBe(`climem: serving volume-memory, listening on unix://${socket}`)
      const reply = yield* post({ socketPath: socket }, "/VolumeDriver.Get", { Name: "nope" })
      expect(reply.body).toEqual({ Err: "no such volume: nope" })
      yield* waitFor(() => run.output().includes("plugin call"))
      expect(run.output()).toMatch(
        /level=INFO .*message="plugin call" .*endpoint=\/VolumeDriver\.Get status=500 outcome=error durationMs=\d/
      )
      run.child.kill("SIGTERM")
      const code = yield* run.exited
      expect(code).not.toBeNull()
      expect(Fs.existsSync(socket)).toBe(false)
    })
  )

  it.live("is quiet by default", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const socket = Path.join(dir, "quiet.sock")
      const run = yield* start(process.execPath, [...nodeArgs, "serve", "volume-memory", "--socket", socket])
      yield* waitFor(() => run.output().includes("listening on"))
      yield* post({ socketPath: socket }, "/VolumeDriver.Get", { Name: "nope" })
      yield* post({ socketPath: socket }, "/VolumeDriver.List", {})
      run.child.kill("SIGINT")
      yield* run.exited
      expect(run.output().trim().split("\n")).toEqual([
        `volume-memory: serving volume-memory, listening on unix://${socket}`
      ])
    })
  )

  it.live("serves a socket handed over by systemd socket activation (LISTEN_FDS)", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const socket = Path.join(dir, "activated.sock")
      // python3 plays systemd: bind, listen, put the socket on fd 3 and exec the plugin with the same pid.
      const script = [
        "import os, socket, sys",
        "s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(16)",
        "os.dup2(s.fileno(), 3); os.set_inheritable(3, True)",
        "os.environ['LISTEN_FDS'] = '1'; os.environ['LISTEN_PID'] = str(os.getpid())",
        "os.execv(sys.argv[2], sys.argv[2:])"
      ].join("\n")
      const run = yield* start("python3", [
        "-c",
        script,
        socket,
        process.execPath,
        ...nodeArgs,
        "serve",
        "volume-memory",
        "--systemd"
      ])
      yield* waitFor(() => run.output().includes("listening on"))
      expect((yield* post({ socketPath: socket }, "/Plugin.Activate")).body).toEqual({ Implements: ["VolumeDriver"] })
      run.child.kill("SIGTERM")
      yield* run.exited
    })
  )

  it("rejects contradictory flags with a clear message", () => {
    const both = dpk("serve", "volume-memory", "--socket", "/x.sock", "--tcp", "127.0.0.1:1")
    expect(both.status).not.toBe(0)
    expect(both.stdout + both.stderr).toContain("--socket and --tcp are exclusive")
    const tlsAlone = dpk("serve", "volume-memory", "--tls-cert", "c.pem")
    expect(tlsAlone.stdout + tlsAlone.stderr).toContain("--tls-cert needs --tcp")
  })
})

describe("dpk schema", () => {
  it("lists every endpoint and prints one as JSON Schema", () => {
    const list = dpk("schema")
    expect(list.status).toBe(0)
    const names = list.stdout.trim().split("\n")
    expect(names).toContain("Plugin.Activate")
    expect(names).toContain("VolumeDriver.Create")
    const one = dpk("schema", "VolumeDriver.Create")
    const doc = JSON.parse(one.stdout)
    expect(doc.path).toBe("/VolumeDriver.Create")
    expect(doc.request.schema.required).toEqual(["Name"])
    expect(Object.keys(doc.request.schema.properties)).toEqual(["Name", "Opts"])
    const unknown = dpk("schema", "VolumeDriver.Nope")
    expect(unknown.status).not.toBe(0)
    expect(unknown.stdout + unknown.stderr).toContain('unknown endpoint "VolumeDriver.Nope"')
  })
})
