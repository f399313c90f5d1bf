// A TCP plugin: the spec file the daemon reads (written through the protocol's SpecFile definitions), the warning
// when anyone who reaches the port may call the plugin, and client certificates required with a client CA.
import { VolumeMemory } from "@docker-plugin-kit/drivers"
import { SpecFile } from "@docker-plugin-kit/protocol"
import { ListenError, type Listener, PluginServer, TcpListener } from "@docker-plugin-kit/server"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Logger, Option, Result } from "effect"
import { HttpServer } from "effect/http"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import { certificates, post, tempDir } from "./support.ts"

/** Serves the memory driver on 127.0.0.1 (a free port); returns the port, the spec folder and the warnings logged. */
const serveTcp = (name: string, tls?: Listener.TlsFiles, dir?: string) =>
  Effect.gen(function* () {
    const specDir = dir ?? (yield* tempDir)
    const warnings: Array<string> = []
    const capture = Logger.layer([
      Logger.make(({ logLevel, message }) => {
        if (logLevel === "Warn") warnings.push((Array.isArray(message) ? message : [message]).join(" "))
      })
    ])
    const context = yield* Layer.build(
      PluginServer.layer({
        name,
        listen: { _tag: "Tcp", host: "127.0.0.1", port: 0, specDir, ...(tls === undefined ? {} : { tls }) }
      }).pipe(Layer.provide(VolumeMemory.layer()), Layer.provide(capture))
    )
    const address = (yield* Effect.provide(HttpServer.HttpServer, context)).address
    return { port: address._tag === "UnixPathAddress" ? 0 : address.port, specDir, warnings }
  })

const read = (path: string) => Fs.readFileSync(path, "utf8")

/** A port of 127.0.0.1 that nothing listens on (bound, then closed). */
const closedPort = Effect.promise(
  () =>
    new Promise<number>((resolve) => {
      const server = Net.createServer().listen(0, "127.0.0.1", () => {
        const { port } = server.address() as Net.AddressInfo
        server.close(() => resolve(port))
      })
    })
)

const failureOf = <A, E>(exit: Exit.Exit<A, E>) =>
  Option.getOrUndefined(Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none())

describe("TcpListener", () => {
  it.live("plain TCP: NAME.spec as the daemon reads it, and a warning that anyone reaching the port controls it", () =>
    Effect.gen(function* () {
      const { port, specDir, warnings } = yield* serveTcp("plain")
      const spec = SpecFile.parseSpec(read(Path.join(specDir, "plain.spec")))
      expect(spec).toEqual(
        Result.succeed({
          url: `tcp://127.0.0.1:${port}`,
          address: { _tag: "Tcp", host: "127.0.0.1", port, https: false },
          tls: { insecureSkipVerify: true }
        })
      )
      expect(warnings).toEqual([
        `tcp://127.0.0.1:${port}: anyone who can reach this port controls the plugin (it answers every caller, in ` +
          "plain text); prefer a Unix socket, or TLS with a client CA (dpk serve --tls-ca) so that only the " +
          "daemon's certificate is accepted"
      ])
      expect((yield* post({ host: "127.0.0.1", port }, "/Plugin.Activate")).body).toEqual({
        Implements: ["VolumeDriver"]
      })
    })
  )

  it.live("TLS without a client CA: an https:// NAME.spec, and the same warning, since any caller is answered", () =>
    Effect.gen(function* () {
      const certs = certificates(yield* tempDir)
      const { port, specDir, warnings } = yield* serveTcp("open", {
        certFile: certs.server.cert,
        keyFile: certs.server.key
      })
      expect(read(Path.join(specDir, "open.spec"))).toBe(`https://127.0.0.1:${port}\n`)
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toMatch(
        /^https:\/\/127\.0\.0\.1:\d+: anyone who can reach this port controls the plugin \(it answers every caller\);/
      )
      const anonymous = yield* post({ host: "127.0.0.1", port, tls: { ca: read(certs.ca) } }, "/Plugin.Activate")
      expect(anonymous.status).toBe(200)
    })
  )

  it.live("TLS with a client CA: NAME.json names the daemon's certificate, which is the only kind accepted", () =>
    Effect.gen(function* () {
      const certs = certificates(yield* tempDir)
      const { port, specDir, warnings } = yield* serveTcp("locked", {
        certFile: certs.server.cert,
        keyFile: certs.server.key,
        caFile: certs.ca,
        daemonCertFile: certs.daemon.cert,
        daemonKeyFile: certs.daemon.key
      })
      expect(warnings).toEqual([])
      expect(Fs.existsSync(Path.join(specDir, "locked.spec"))).toBe(false)
      const spec = SpecFile.parseJson(read(Path.join(specDir, "locked.json")))
      expect(spec).toEqual(
        Result.succeed({
          url: `https://127.0.0.1:${port}`,
          address: { _tag: "Tcp", host: "127.0.0.1", port, https: true },
          tls: { caFile: certs.ca, certFile: certs.daemon.cert, keyFile: certs.daemon.key, insecureSkipVerify: false }
        })
      )
      // Called as the daemon calls it: verifying the plugin with CAFile, presenting CertFile and KeyFile.
      const tls = Result.getOrThrow(spec).tls
      const asDaemon = yield* post(
        {
          host: "127.0.0.1",
          port,
          tls: { ca: read(tls.caFile!), cert: read(tls.certFile!), key: read(tls.keyFile!) }
        },
        "/Plugin.Activate"
      )
      expect(asDaemon.body).toEqual({ Implements: ["VolumeDriver"] })
      const anonymous = yield* Effect.exit(
        post({ host: "127.0.0.1", port, tls: { ca: read(certs.ca) } }, "/Plugin.Activate")
      )
      expect(Exit.isFailure(anonymous)).toBe(true)
      const stranger = yield* Effect.exit(
        post(
          {
            host: "127.0.0.1",
            port,
            tls: { ca: read(certs.ca), cert: read(certs.stranger.cert), key: read(certs.stranger.key) }
          },
          "/Plugin.Activate"
        )
      )
      expect(Exit.isFailure(stranger)).toBe(true)
    })
  )

  it.live("TLS files that are missing, not PEM or not a pair fail the start with a ListenError, writing no spec", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const certs = certificates(dir)
      const garbage = Path.join(dir, "garbage.pem")
      Fs.writeFileSync(garbage, "not a certificate\n")
      const pair = { certFile: certs.server.cert, keyFile: certs.server.key }
      const cases: ReadonlyArray<readonly [Listener.TlsFiles, RegExp]> = [
        [{ ...pair, certFile: Path.join(dir, "missing.pem") }, /ENOENT.*missing\.pem/],
        [{ ...pair, certFile: garbage }, /PEM/],
        [{ ...pair, keyFile: certs.daemon.key }, /key values mismatch/],
        [{ ...pair, caFile: Path.join(dir, "missing-ca.pem") }, /ENOENT.*missing-ca\.pem/]
      ]
      const specDir = Path.join(dir, "spec")
      for (const [tls, reason] of cases) {
        const exit = yield* Effect.exit(
          Layer.build(
            PluginServer.layer({
              name: "badtls",
              listen: { _tag: "Tcp", host: "127.0.0.1", port: 0, specDir, tls }
            }).pipe(Layer.provide(VolumeMemory.layer()))
          )
        )
        const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
        expect(Option.getOrUndefined(error)).toBeInstanceOf(ListenError.ListenError)
        expect(String(Option.getOrUndefined(error)?.message)).toMatch(reason)
      }
      expect(Fs.existsSync(specDir)).toBe(false)
    })
  )

  it.live("a spec path taken by a folder fails the start with a ListenError naming it, and leaves no file behind", () =>
    Effect.gen(function* () {
      const specDir = yield* tempDir
      const taken = Path.join(specDir, "taken.spec")
      Fs.mkdirSync(taken)
      const exit = yield* Effect.exit(
        Layer.build(
          PluginServer.layer({ name: "taken", listen: { _tag: "Tcp", host: "127.0.0.1", port: 0, specDir } }).pipe(
            Layer.provide(VolumeMemory.layer())
          )
        )
      )
      const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : Option.none()
      expect(Option.getOrUndefined(error)).toBeInstanceOf(ListenError.ListenError)
      expect(String(Option.getOrUndefined(error)?.message)).toMatch(/taken\.spec: could not write: .*EISDIR/)
      expect(Fs.readdirSync(specDir)).toEqual(["taken.spec"])
      expect(Fs.readdirSync(taken)).toEqual([])
    })
  )

  it.live(
    "a second start under a name whose plugin still answers is refused, naming the file; the first keeps it",
    () =>
      Effect.gen(function* () {
        const first = yield* serveTcp("twice")
        const path = Path.join(first.specDir, "twice.spec")
        const before = read(path)
        const error = failureOf(yield* Effect.exit(Effect.scoped(serveTcp("twice", undefined, first.specDir))))
        expect(error).toBeInstanceOf(ListenError.ListenError)
        expect(error?.message).toBe(
          `${path}: names tcp://127.0.0.1:${first.port}, where another live process answers; refusing to replace it (remove the file if that is not this plugin)`
        )
        expect(read(path)).toBe(before)
      })
  )

  it.live("a NAME.spec left by a start that is gone is removed: it would hide this start's NAME.json", () =>
    Effect.gen(function* () {
      const specDir = yield* tempDir
      // The daemon reads NAME.spec first: left there, it would send the daemon to the dead port, in plain text.
      Fs.writeFileSync(Path.join(specDir, "moved.spec"), `tcp://127.0.0.1:${yield* closedPort}\n`)
      const certs = certificates(yield* tempDir)
      const { port } = yield* serveTcp(
        "moved",
        { certFile: certs.server.cert, keyFile: certs.server.key, caFile: certs.ca },
        specDir
      )
      expect(Fs.readdirSync(specDir)).toEqual(["moved.json"])
      const spec = Result.getOrThrow(SpecFile.parseJson(read(Path.join(specDir, "moved.json"))))
      expect(spec.url).toBe(`https://127.0.0.1:${port}`)
    })
  )

  it.live("at its stop a plugin removes its spec file only if the file still holds what it wrote", () =>
    Effect.gen(function* () {
      const specDir = yield* tempDir
      const theirs = `tcp://127.0.0.1:${yield* closedPort}\n`
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* serveTcp("replaced", undefined, specDir)
          // Another start replaced it meanwhile (this one was, say, stuck): the file is that start's now.
          Fs.writeFileSync(Path.join(specDir, "replaced.spec"), theirs)
        })
      )
      expect(read(Path.join(specDir, "replaced.spec"))).toBe(theirs)
      yield* Effect.scoped(serveTcp("own", undefined, specDir))
      expect(Fs.existsSync(Path.join(specDir, "own.spec"))).toBe(false)
    })
  )

  it("the spec file is encoded through SpecFile.JsonSpec; the daemon presents the plugin's own pair by default", () => {
    const tls = { certFile: "/pki/plugin.pem", keyFile: "/pki/plugin.key", caFile: "/pki/ca.pem" }
    const file = TcpListener.specFile("p", "/etc/docker/plugins", "https://[::1]:9443", tls)
    expect(file.path).toBe("/etc/docker/plugins/p.json")
    expect(JSON.parse(file.content)).toEqual({
      Name: "p",
      Addr: "https://[::1]:9443",
      TLSConfig: {
        CAFile: "/pki/ca.pem",
        CertFile: "/pki/plugin.pem",
        KeyFile: "/pki/plugin.key",
        InsecureSkipVerify: false
      }
    })
    expect(SpecFile.parseJson(file.content)).toEqual(
      Result.succeed({
        url: "https://[::1]:9443",
        address: { _tag: "Tcp", host: "::1", port: 9443, https: true },
        tls: {
          caFile: "/pki/ca.pem",
          certFile: "/pki/plugin.pem",
          keyFile: "/pki/plugin.key",
          insecureSkipVerify: false
        }
      })
    )
    expect(TcpListener.tcpUrl("::1", 9000, false)).toBe("tcp://[::1]:9000")
    expect(TcpListener.specFile("p", "/s", "tcp://[::1]:9000", undefined)).toEqual({
      path: "/s/p.spec",
      content: "tcp://[::1]:9000\n"
    })
  })
})
