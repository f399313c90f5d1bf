import { VolumeMemory } from "@docker-plugin-kit/drivers"
import { DriverError, type DriverFailure, LogDriver, Shutdown, VolumeDriver } from "@docker-plugin-kit/protocol"
import { Listener, PluginServer } from "@docker-plugin-kit/server"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Fiber, Layer, Scope, Stream } from "effect"
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Net from "node:net"
import * as Path from "node:path"
import { post, tempDir } from "./support.ts"

const serve = (options: PluginServer.Options, drivers: Layer.Layer<any> = VolumeMemory.layer()) =>
  Layer.build(PluginServer.layer(options).pipe(Layer.provide(drivers)))

describe("PluginServer on a Unix socket", () => {
  it.live("serves the manifest and the driver with mode 0660, and removes the socket on close", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const path = Path.join(dir, "plugins", "mem.sock")
      const scope = yield* Scope.make()
      yield* serve({ name: "mem", listen: Listener.unix("mem", { path }) }).pipe(Scope.provide(scope))
      expect(Fs.statSync(path).mode & 0o777).toBe(0o660)
      const manifest = yield* post({ socketPath: path }, "/Plugin.Activate")
      expect(manifest.status).toBe(200)
      expect(manifest.headers["content-type"]).toBe("application/vnd.docker.plugins.v1.1+json")
      expect(manifest.body).toEqual({ Implements: ["VolumeDriver"] })
      expect((yield* post({ socketPath: path }, "/VolumeDriver.Create", { Name: "a", Opts: null })).status).toBe(200)
      const missing = yield* post({ socketPath: path }, "/VolumeDriver.Get", { Name: "b" })
      expect([missing.status, missing.body]).toEqual([500, { Err: "no such volume: b" }])
      yield* Scope.close(scope, Exit.void)
      expect(Fs.existsSync(path)).toBe(false)
    })
  )

  it.live("replaces a stale socket left by a killed process", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const path = Path.join(dir, "stale.sock")
      // A process that binds the socket and is SIGKILLed leaves the file behind.
      spawnSync(process.execPath, [
        "-e",
        `require("net").createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, "SIGKILL"))`
      ])
      expect(Fs.lstatSync(path).isSocket()).toBe(true)
      yield* serve({ name: "stale", listen: Listener.unix("stale", { path }) })
      expect((yield* post({ socketPath: path }, "/Plugin.Activate")).body).toEqual({ Implements: ["VolumeDriver"] })
    })
  )

  it.live("refuses to steal a socket another live process serves, and refuses a non-socket file", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const live = Path.join(dir, "live.sock")
      const other = Net.createServer((c) => c.end())
      yield* Effect.acquireRelease(
        Effect.callback<void>((resume) => {
          other.listen(live, () => resume(Effect.void))
        }),
        () => Effect.sync(() => other.close())
      )
      const stolen = yield* Effect.exit(serve({ name: "live", listen: Listener.unix("live", { path: live }) }))
      expect(Exit.isFailure(stolen)).toBe(true)
      expect(String(Exit.isFailure(stolen) ? stolen.cause : "")).toContain("served by another live process")

      const file = Path.join(dir, "file.sock")
      Fs.writeFileSync(file, "not a socket")
      const refused = yield* Effect.exit(serve({ name: "file", listen: Listener.unix("file", { path: file }) }))
      expect(String(Exit.isFailure(refused) ? refused.cause : "")).toContain("is not a socket")
      expect(Fs.readFileSync(file, "utf8")).toBe("not a socket")
    })
  )
})

describe("PluginServer on TCP", () => {
  it.live("writes NAME.spec with its address and removes it on close", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const scope = yield* Scope.make()
      yield* serve({ name: "tcpvol", listen: { _tag: "Tcp", host: "127.0.0.1", port: 0, specDir: dir } }).pipe(
        Scope.provide(scope)
      )
      const spec = Fs.readFileSync(Path.join(dir, "tcpvol.spec"), "utf8").trim()
      const url = new URL(spec)
      expect(url.protocol).toBe("tcp:")
      const reply = yield* post({ host: "127.0.0.1", port: Number(url.port) }, "/Plugin.Activate")
      expect(reply.body).toEqual({ Implements: ["VolumeDriver"] })
      yield* Scope.close(scope, Exit.void)
      expect(Fs.existsSync(Path.join(dir, "tcpvol.spec"))).toBe(false)
    })
  )
  // TLS, client certificates and the spec file's content: TcpListener.test.ts.
})

const slowDriver = (gate: Effect.Effect<void>) =>
  Layer.effect(
    VolumeDriver.VolumeDriver,
    Effect.map(VolumeMemory.make(), (memory) => ({
      ...memory,
      get: (request: VolumeDriver.NameRequest) =>
        request.Name === "slow" ? Effect.as(gate, { Volume: { Name: "slow" } }) : memory.get(request),
      remove: () => Effect.die(new Error("kaboom")),
      path: () => Effect.fail(new DriverError({ message: "paths are off today" })),
      list: () => Effect.succeed({ Volumes: [{ Name: "bad", CreatedAt: "" }] })
    }))
  )

describe("PluginServer call handling", () => {
  it.live("a call past its deadline answers Err and the server keeps serving", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const path = Path.join(dir, "d.sock")
      yield* serve(
        { name: "d", listen: Listener.unix("d", { path }), deadline: "200 millis" },
        slowDriver(Effect.never)
      )
      const late = yield* post({ socketPath: path }, "/VolumeDriver.Get", { Name: "slow" })
      expect([late.status, late.body]).toEqual([500, { Err: "VolumeDriver.Get did not answer within 200ms" }])
      expect((yield* post({ socketPath: path }, "/Plugin.Activate")).status).toBe(200)
    })
  )

  it.live("a defect is answered with Err, a typed failure with its message, a bad response names the field", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const path = Path.join(dir, "e.sock")
      yield* serve({ name: "e", listen: Listener.unix("e", { path }) }, slowDriver(Effect.void))
      const defect = yield* post({ socketPath: path }, "/VolumeDriver.Remove", { Name: "x" })
      expect([defect.status, defect.body]).toEqual([500, { Err: "internal error in VolumeDriver.Remove: kaboom" }])
      const failure = yield* post({ socketPath: path }, "/VolumeDriver.Path", { Name: "x" })
      expect([failure.status, failure.body]).toEqual([500, { Err: "paths are off today" }])
      const invalid = yield* post({ socketPath: path }, "/VolumeDriver.List", {})
      expect(invalid.status).toBe(500)
      expect((invalid.body as { Err: string }).Err).toMatch(
        /invalid response: Volumes\.0\.CreatedAt: Expected an RFC 3339/
      )
      expect((yield* post({ socketPath: path }, "/VolumeDriver.Capabilities", {})).body).toEqual({
        Capabilities: { Scope: "local" }
      })
    })
  )

  it.live("a defect or an answer JSON cannot write (a cycle, a bigint) is still answered with Err", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const path = Path.join(dir, "j.sock")
      const cyclic: Record<string, unknown> = { name: "loop" }
      cyclic.self = cyclic
      const driver = Layer.effect(
        VolumeDriver.VolumeDriver,
        Effect.map(VolumeMemory.make(), (memory) => ({
          ...memory,
          remove: () => Effect.die(cyclic),
          path: () => Effect.die(10n),
          // `Status` holds any JSON values: the schema lets a bigint through, JSON.stringify does not.
          get: (request: VolumeDriver.NameRequest) =>
            Effect.succeed({ Volume: { Name: request.Name, Status: { size: 10n } } }),
          list: () => Effect.succeed({ Volumes: [{ Name: "x", Status: cyclic }] }),
          // What a driver written without the types may fail with.
          capabilities: () => Effect.fail("no capabilities today" as unknown as DriverFailure)
        }))
      )
      yield* serve({ name: "j", listen: Listener.unix("j", { path }) }, driver)
      const died = yield* post({ socketPath: path }, "/VolumeDriver.Remove", { Name: "x" })
      expect([died.status, died.headers["content-type"], died.body]).toEqual([
        500,
        "application/vnd.docker.plugins.v1.1+json",
        { Err: 'internal error in VolumeDriver.Remove: {"name":"loop","self":[Circular]}' }
      ])
      const bigint = yield* post({ socketPath: path }, "/VolumeDriver.Path", { Name: "x" })
      expect([bigint.status, bigint.body]).toEqual([500, { Err: "internal error in VolumeDriver.Path: 10n" }])
      const unwritable = yield* post({ socketPath: path }, "/VolumeDriver.Get", { Name: "x" })
      expect(unwritable.status).toBe(500)
      expect((unwritable.body as { Err: string }).Err).toMatch(
        /^VolumeDriver\.Get: the driver returned an invalid response: .*BigInt/
      )
      const plain = yield* post({ socketPath: path }, "/VolumeDriver.Capabilities", {})
      expect([plain.status, plain.body]).toEqual([500, { Err: "no capabilities today" }])
      const cycle = yield* post({ socketPath: path }, "/VolumeDriver.List", {})
      expect(cycle.status).toBe(500)
      expect((cycle.body as { Err: string }).Err).toMatch(
        /^VolumeDriver\.List: the driver returned an invalid response: .*circular/
      )
    })
  )

  it.live("a method that throws, or fails or dies with a value JSON has no text for, is still answered with Err", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const path = Path.join(dir, "t.sock")
      const driver = Layer.effect(
        VolumeDriver.VolumeDriver,
        Effect.map(VolumeMemory.make(), (memory) => ({
          ...memory,
          // Work done before the effect is returned: the throw escapes the method, not the effect.
          remove: (request: VolumeDriver.NameRequest): Effect.Effect<{}> => {
            throw new Error(`cannot remove ${request.Name}`)
          },
          unmount: () => Effect.fail(undefined as unknown as DriverFailure),
          capabilities: () => Effect.die(Symbol("gone")),
          get: () => Effect.fail(new DriverError({ message: "" }))
        }))
      )
      yield* serve({ name: "t", listen: Listener.unix("t", { path }) }, driver)
      const thrown = yield* post({ socketPath: path }, "/VolumeDriver.Remove", { Name: "x" })
      expect([thrown.status, thrown.headers["content-type"], thrown.body]).toEqual([
        500,
        "application/vnd.docker.plugins.v1.1+json",
        { Err: "internal error in VolumeDriver.Remove: cannot remove x" }
      ])
      const undefinedFailure = yield* post({ socketPath: path }, "/VolumeDriver.Unmount", { Name: "x", ID: "c" })
      expect([undefinedFailure.status, undefinedFailure.body]).toEqual([500, { Err: "undefined" }])
      const symbol = yield* post({ socketPath: path }, "/VolumeDriver.Capabilities", {})
      expect([symbol.status, symbol.body]).toEqual([
        500,
        { Err: "internal error in VolumeDriver.Capabilities: Symbol(gone)" }
      ])
      const empty = yield* post({ socketPath: path }, "/VolumeDriver.Get", { Name: "x" })
      expect([empty.status, empty.body]).toEqual([500, { Err: "VolumeDriver.Get failed without a message" }])
      // The server is fine.
      expect((yield* post({ socketPath: path }, "/Plugin.Activate")).status).toBe(200)
    })
  )

  it.live("an absent optional endpoint answers the daemon's default", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const path = Path.join(dir, "o.sock")
      const withoutCapabilities = Layer.effect(
        VolumeDriver.VolumeDriver,
        Effect.map(VolumeMemory.make({ scope: "global" }), ({ capabilities: _, ...rest }) => rest)
      )
      yield* serve({ name: "o", listen: Listener.unix("o", { path }) }, withoutCapabilities)
      expect((yield* post({ socketPath: path }, "/VolumeDriver.Capabilities", {})).body).toEqual({
        Capabilities: { Scope: "local" }
      })
    })
  )

  it.live("shutdown lets an in-flight call finish", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const path = Path.join(dir, "g.sock")
      const scope = yield* Scope.make()
      yield* serve({ name: "g", listen: Listener.unix("g", { path }) }, slowDriver(Effect.sleep("400 millis"))).pipe(
        Scope.provide(scope)
      )
      const inFlight = yield* Effect.forkChild(post({ socketPath: path }, "/VolumeDriver.Get", { Name: "slow" }))
      yield* Effect.sleep("100 millis")
      yield* Scope.close(scope, Exit.void)
      const reply = yield* Fiber.join(inFlight)
      expect([reply.status, reply.body]).toEqual([200, { Volume: { Name: "slow" } }])
      expect(Fs.existsSync(path)).toBe(false)
    })
  )

  it.live("shutdown ends a following answer at once, where it stands, as a complete answer", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const path = Path.join(dir, "f.sock")
      const scope = yield* Scope.make()
      const frame = new Uint8Array([0, 0, 0, 2, 8, 1])
      const sent = yield* Deferred.make<void>()
      // A follower that has sent one frame and waits for lines that never come.
      const follows = Layer.succeed(LogDriver.LogDriver, {
        startLogging: () => Effect.succeed({}),
        stopLogging: () => Effect.succeed({}),
        readLogs: () =>
          Effect.succeed(
            Shutdown.endsAtShutdown(
              Stream.concat(
                Stream.make(frame),
                Stream.fromEffect(Effect.andThen(Deferred.succeed(sent, undefined), Effect.never))
              )
            )
          )
      })
      yield* serve({ name: "f", listen: Listener.unix("f", { path }) }, follows).pipe(Scope.provide(scope))
      const read = yield* Effect.forkChild(readStream(path, "/LogDriver.ReadLogs", followRequest))
      // Either the follower has sent its frame, or the call was answered otherwise (and fails below).
      yield* Effect.raceFirst(Deferred.await(sent), Effect.asVoid(Fiber.await(read)))
      yield* Scope.close(scope, Exit.void)
      const answer = yield* Fiber.join(read)
      // Ended with the chunked encoding's last chunk: what the daemon reads as a complete answer, not a cut.
      expect(answer).toEqual({ complete: true, bytes: [...frame] })
      expect(Fs.existsSync(path)).toBe(false)
    })
  )

  it.live("the shutdown signal never fires outside a server", () =>
    Effect.gen(function* () {
      const items = yield* Stream.runCollect(
        Shutdown.endsAtShutdown(Stream.concat(Stream.make(1), Stream.fromEffect(Effect.as(Effect.sleep(20), 2))))
      )
      expect(items).toEqual([1, 2])
    })
  )
})

const followRequest = {
  Info: {
    Config: {},
    ContainerID: "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90",
    ContainerName: "/quiet",
    ContainerEntrypoint: "/pause",
    ContainerArgs: null,
    ContainerImageID: "sha256:4a8237230732bc8a03a1e3bcce97cbe403ff34334493fe9800c5f3ab7d629301",
    ContainerImageName: "pause",
    ContainerCreated: "2026-11-21T14:50:45Z",
    ContainerEnv: null,
    ContainerLabels: null,
    LogPath: "",
    DaemonName: "docker"
  },
  Config: { Since: "0001-01-01T00:00:00Z", Until: "0001-01-01T00:00:00Z", Tail: -1, Follow: true }
}

/** Posts `body` and reads the streamed answer to its end or its cut. */
const readStream = (socketPath: string, path: string, body: unknown) =>
  Effect.callback<{ complete: boolean; bytes: Array<number> }, Error>((resume) => {
    const request = Http.request({ socketPath, path, method: "POST" }, (response) => {
      const bytes: Array<number> = []
      response.on("data", (chunk: Buffer) => bytes.push(...chunk))
      response.on("end", () => resume(Effect.succeed({ complete: response.complete, bytes })))
      response.on("error", () => resume(Effect.succeed({ complete: false, bytes })))
    })
    request.on("error", (e) => resume(Effect.fail(e)))
    request.end(JSON.stringify(body))
  })

describe.skipIf(process.getuid?.() !== 0)("PluginServer socket group (needs root to chown)", () => {
  it.live("gives the socket the requested group, by number or by name", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const byNumber = Path.join(dir, "g1.sock")
      yield* serve({ name: "g1", listen: Listener.unix("g1", { path: byNumber, group: 4242 }) })
      expect(Fs.statSync(byNumber).gid).toBe(4242)
      const rootGroup = Fs.readFileSync("/etc/group", "utf8").split("\n")[0]!.split(":")
      const byName = Path.join(dir, "g2.sock")
      yield* serve({ name: "g2", listen: Listener.unix("g2", { path: byName, group: rootGroup[0]! }) })
      expect(Fs.statSync(byName).gid).toBe(Number(rootGroup[2]))
      const unknown = yield* Effect.exit(
        serve({
          name: "g3",
          listen: Listener.unix("g3", { path: Path.join(dir, "g3.sock"), group: "no-such-group-here" })
        })
      )
      expect(String(Exit.isFailure(unknown) ? unknown.cause : "")).toContain("unknown group no-such-group-here")
    })
  )
})
