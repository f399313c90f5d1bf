import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { post, tempDir, waitFor } from "../../server/test/support.ts"
import * as ServeFlags from "../src/ServeFlags.ts"
import { dpk, nodeArgs, start } from "./support.ts"

describe("dpk serve", () => {
  it.live("prints one ready line, logs every call with --verbose, and exits 0 after cleaning up on SIGTERM", () =>
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
      yield* waitFor(() => run.output().includes("listening on"), 30_000)
      expect(run.output().trim()).toBe(`climem: serving volume-memory, listening on unix://${socket}`)
      expect((yield* post({ socketPath: socket }, "/Plugin.Activate")).status).toBe(200)
      const reply = yield* post({ socketPath: socket }, "/VolumeDriver.Get", { Name: "nope" })
      expect(reply.body).toEqual({ Err: "no such volume: nope" })
      expect((yield* post({ socketPath: socket }, "/VolumeDriver.Get", { Name: 42 })).status).toBe(400)
      expect((yield* post({ socketPath: socket }, "/VolumeDriver.Nope", {})).status).toBe(404)
      yield* waitFor(() => run.output().includes("/VolumeDriver.Nope"))
      const records = run.output().trim().split("\n").slice(1)
      expect(records).toHaveLength(4)
      for (const record of records)
        expect(record).toMatch(/^timestamp=\S+ level=INFO fiber=#\d+ message="plugin call" /)
      expect(records[0]).toMatch(/ endpoint=\/Plugin\.Activate status=200 outcome=ok durationMs=[\d.]+$/)
      expect(records[1]).toMatch(
        / endpoint=\/VolumeDriver\.Get status=500 outcome=error durationMs=[\d.]+ reason="no such volume: nope"$/
      )
      expect(records[2]).toMatch(
        / endpoint=\/VolumeDriver\.Get status=400 outcome=error durationMs=[\d.]+ reason="\/VolumeDriver\.Get: invalid request: Name: Expected string, got 42"$/
      )
      expect(records[3]).toMatch(
        / endpoint=\/VolumeDriver\.Nope status=404 outcome=error durationMs=[\d.]+ reason="unknown endpoint POST \/VolumeDriver\.Nope"$/
      )
      run.child.kill("SIGTERM")
      expect(yield* run.exited).toBe(0)
      expect(Fs.existsSync(socket)).toBe(false)
    })
  )

  it.live("is quiet by default", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const socket = Path.join(dir, "quiet.sock")
      const run = yield* start(process.execPath, [...nodeArgs, "serve", "volume-memory", "--socket", socket])
      yield* waitFor(() => run.output().includes("listening on"), 30_000)
      yield* post({ socketPath: socket }, "/VolumeDriver.Get", { Name: "nope" })
      yield* post({ socketPath: socket }, "/VolumeDriver.List", {})
      run.child.kill("SIGINT")
      expect(yield* run.exited).toBe(0)
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
      yield* waitFor(() => run.output().includes("listening on"), 30_000)
      expect((yield* post({ socketPath: socket }, "/Plugin.Activate")).body).toEqual({ Implements: ["VolumeDriver"] })
      run.child.kill("SIGTERM")
      expect(yield* run.exited).toBe(0)
    })
  )

  it.live("on TCP without client certificates, warns that anyone who can reach the port controls the plugin", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const run = yield* start(process.execPath, [
        ...nodeArgs,
        "serve",
        "volume-memory",
        "--name",
        "opentcp",
        "--tcp",
        "127.0.0.1:0",
        "--spec-dir",
        dir
      ])
      yield* waitFor(() => run.output().includes("listening on"), 30_000)
      const spec = Path.join(dir, "opentcp.spec")
      const url = Fs.readFileSync(spec, "utf8").trim()
      expect(run.output()).toContain(
        `level=WARN fiber=#1 message="${url}: anyone who can reach this port controls the plugin (it answers every caller, in plain text)`
      )
      run.child.kill("SIGTERM")
      expect(yield* run.exited).toBe(0)
      expect(Fs.existsSync(spec)).toBe(false)
    })
  )

  it.live("exits 1 with the address and the reason when the listener cannot start", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = Path.join(dir, "taken.sock")
      Fs.writeFileSync(file, "not a socket")
      const run = yield* start(process.execPath, [...nodeArgs, "serve", "volume-memory", "--socket", file])
      expect(yield* run.exited).toBe(1)
      expect(run.output()).toContain(`volume-memory: ${file}: exists and is not a socket; refusing to replace it`)
      expect(Fs.readFileSync(file, "utf8")).toBe("not a socket")
    })
  )

  it("rejects contradictory flags with a clear message", () => {
    const both = dpk("serve", "volume-memory", "--socket", "/x.sock", "--tcp", "127.0.0.1:1")
    expect(both.status).not.toBe(0)
    expect(both.stdout + both.stderr).toContain("--socket and --tcp are exclusive")
    const tlsAlone = dpk("serve", "volume-memory", "--tls-cert", "c.pem")
    expect(tlsAlone.stdout + tlsAlone.stderr).toContain("--tls-cert needs --tcp")
    const daemonCertAlone = dpk(
      "serve",
      "volume-memory",
      "--tcp",
      "127.0.0.1:1",
      "--tls-cert",
      "c.pem",
      "--tls-key",
      "k.pem",
      "--tls-daemon-cert",
      "d.pem",
      "--tls-daemon-key",
      "dk.pem"
    )
    expect(daemonCertAlone.status).not.toBe(0)
    expect(daemonCertAlone.stdout + daemonCertAlone.stderr).toContain("--tls-daemon-cert needs --tls-ca")
    for (const flag of ["--body-idle-timeout-ms", "--deadline-ms"]) {
      const negative = dpk("serve", "volume-memory", flag, "-5")
      expect(negative.status).not.toBe(0)
      expect(negative.stdout + negative.stderr).toContain(`${flag} must be 0 or more, got -5`)
    }
    const escaping = dpk("serve", "volume-memory", "--name", "../escaped", "--socket", "/nonexistent/x.sock")
    expect(escaping.status).not.toBe(0)
    expect(escaping.stdout + escaping.stderr).toContain('plugin name "../escaped": must be letters, digits')
  })
})

describe("ServeFlags.listenOf", () => {
  const values = (given: Partial<Record<keyof ServeFlags.Values, string>>): ServeFlags.Values => ({
    name: Option.none(),
    socket: Option.none(),
    tcp: Option.fromNullishOr(given.tcp),
    specDir: Option.none(),
    tlsCert: Option.fromNullishOr(given.tlsCert),
    tlsKey: Option.fromNullishOr(given.tlsKey),
    tlsCa: Option.fromNullishOr(given.tlsCa),
    tlsDaemonCert: Option.fromNullishOr(given.tlsDaemonCert),
    tlsDaemonKey: Option.fromNullishOr(given.tlsDaemonKey),
    group: Option.none(),
    systemd: false,
    deadline: 120_000,
    bodyIdleTimeout: 30_000,
    verbose: false
  })

  it("maps the TLS flags onto the TCP listener, the daemon's certificate included", () => {
    const tls = { tlsCert: "p.pem", tlsKey: "p.key", tlsCa: "ca.pem" }
    expect(
      ServeFlags.listenOf("p", values({ tcp: "[::1]:9443", ...tls, tlsDaemonCert: "d.pem", tlsDaemonKey: "d.key" }))
    ).toEqual({
      _tag: "Tcp",
      host: "::1",
      port: 9443,
      tls: { certFile: "p.pem", keyFile: "p.key", caFile: "ca.pem", daemonCertFile: "d.pem", daemonKeyFile: "d.key" }
    })
    expect(ServeFlags.listenOf("p", values({ tcp: ":9443", ...tls }))).toEqual({
      _tag: "Tcp",
      host: "127.0.0.1",
      port: 9443,
      tls: { certFile: "p.pem", keyFile: "p.key", caFile: "ca.pem" }
    })
    expect(() => ServeFlags.listenOf("p", values({ tcp: ":1", ...tls, tlsDaemonCert: "d.pem" }))).toThrow(
      new ServeFlags.FlagError({ flag: "--tls-daemon-cert", reason: "and --tls-daemon-key go together" })
    )
    expect(() => ServeFlags.listenOf("p", values({ tcp: "nope" }))).toThrow('--tcp expects HOST:PORT, got "nope"')
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
