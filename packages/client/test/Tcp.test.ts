// TCP and HTTPS plugins found through spec files, with the daemon's TLS rules: `.spec` files and `.json` files with
// a TLSConfig but no CAFile skip verification; a CAFile is added to the roots; no TLSConfig means system roots
// (the host's store: see SystemRoots.test.ts).
import { Discovery, NodeTransport, Retry, Target } from "@docker-plugin-kit/client"
import { describe, expect, it } from "@effect/vitest"
import { GraphDriver } from "@docker-plugin-kit/protocol"
import { Effect, Stream } from "effect"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Https from "node:https"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Tls from "node:tls"
import { certificates, serveTcp, tempDir } from "./support.ts"

const activateByName = (name: string, folders: Discovery.Folders) =>
  Effect.flatMap(Target.connect(Target.name(name, { folders, wait: false }), { retry: Retry.none }), (c) => c.activate)

describe("TCP plugins", () => {
  it.live("finds a plain tcp:// plugin through its .spec file and calls it", () =>
    Effect.gen(function* () {
      const specDir = yield* tempDir
      const folders = Discovery.folders({ socketDir: Path.join(specDir, "none"), specDirs: [specDir] })
      const port = yield* serveTcp("plain", specDir)
      const found = yield* Discovery.locate("plain", folders)
      expect(found.spec.address).toEqual({ _tag: "Tcp", host: "127.0.0.1", port, https: false })
      expect(yield* activateByName("plain", folders)).toEqual({ Implements: ["VolumeDriver"] })
    })
  )

  it.live("applies the daemon's TLS rules to https:// plugins", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const certs = certificates(dir)
      const specDir = Path.join(dir, "specs")
      const folders = Discovery.folders({ socketDir: Path.join(dir, "none"), specDirs: [specDir] })
      const port = yield* serveTcp("secure", specDir, { certFile: certs.cert, keyFile: certs.key })
      // The server wrote secure.spec (https, no CA): spec-file plugins are not verified, so this works.
      expect((yield* Discovery.locate("secure", folders)).kind).toBe("spec")
      expect(yield* activateByName("secure", folders)).toEqual({ Implements: ["VolumeDriver"] })

      const json = (name: string, spec: unknown) =>
        Fs.writeFileSync(Path.join(specDir, `${name}.json`), JSON.stringify(spec))
      const addr = `https://127.0.0.1:${port}`
      json("verified", { Addr: addr, TLSConfig: { CAFile: certs.ca } })
      expect(yield* activateByName("verified", folders)).toEqual({ Implements: ["VolumeDriver"] })

      json("wrong-ca", { Addr: addr, TLSConfig: { CAFile: certs.otherCa } })
      const wrong = yield* Effect.flip(activateByName("wrong-ca", folders))
      expect(wrong._tag).toBe("PluginUnreachable")
      expect(wrong.message).toMatch(/self[- ]signed|unable to verify|certificate/i)

      json("no-ca", { Addr: addr, TLSConfig: {} })
      expect(yield* activateByName("no-ca", folders)).toEqual({ Implements: ["VolumeDriver"] })

      // No TLSConfig at all: verified against the system roots, which do not know the test CA.
      json("system-roots", { Addr: addr })
      expect((yield* Effect.flip(activateByName("system-roots", folders)))._tag).toBe("PluginUnreachable")

      json("missing-ca", { Addr: addr, TLSConfig: { CAFile: Path.join(dir, "gone.pem") } })
      const missing = yield* Effect.flip(activateByName("missing-ca", folders))
      expect(missing._tag).toBe("BadSpecFile")
      expect(missing.message).toContain(`${Path.join(specDir, "missing-ca.json")}: cannot read the TLS CA`)

      // tlsconfig.Client never reads the CA when verification is off.
      json("skip", { Addr: addr, TLSConfig: { CAFile: Path.join(dir, "gone.pem"), InsecureSkipVerify: true } })
      expect(yield* activateByName("skip", folders)).toEqual({ Implements: ["VolumeDriver"] })
      // The test CA as the only root: verified.
      json("exclusive", { Addr: addr, TLSConfig: { CAFile: certs.ca, ExclusiveRootPools: true } })
      expect(yield* activateByName("exclusive", folders)).toEqual({ Implements: ["VolumeDriver"] })
      // The key pair is loaded whatever the scheme, so a missing file fails a plain tcp:// plugin too.
      json("tcp-pair", {
        Addr: `tcp://127.0.0.1:${port}`,
        TLSConfig: { CertFile: Path.join(dir, "gone.pem"), KeyFile: certs.key }
      })
      expect((yield* Effect.flip(activateByName("tcp-pair", folders))).message).toContain(
        "cannot read the TLS certificate"
      )
    })
  )

  it("fails with the file's name instead of hanging on a TLS file that is a FIFO or a folder", () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-tls-"))
    try {
      const fifo = Path.join(dir, "ca.pem")
      execFileSync("mkfifo", [fifo])
      expect(() => NodeTransport.tlsOptions({ caFile: fifo, insecureSkipVerify: false })).toThrow(
        `cannot read the TLS CA ${fifo}: not a regular file`
      )
      expect(() => NodeTransport.tlsOptions({ certFile: dir, keyFile: dir, insecureSkipVerify: true })).toThrow(
        `cannot read the TLS certificate ${dir}: not a regular file`
      )
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it.live("fails at once, naming the file, on TLS files the daemon's tlsconfig.Client refuses", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const certs = certificates(dir)
      const specDir = Path.join(dir, "specs")
      const folders = Discovery.folders({ socketDir: Path.join(dir, "none"), specDirs: [specDir] })
      const port = yield* serveTcp("secure", specDir, { certFile: certs.cert, keyFile: certs.key })
      const json = (name: string, spec: unknown) =>
        Fs.writeFileSync(Path.join(specDir, `${name}.json`), JSON.stringify(spec))
      // A CA file with no certificate in it: "failed to append certificates from PEM file", not a silent
      // fall-back to the other roots (nor, with ExclusiveRootPools, 15 s of retries of a handshake that cannot pass).
      const empty = Path.join(dir, "empty.pem")
      Fs.writeFileSync(empty, "not a certificate\n")
      for (const [name, exclusive] of [
        ["empty-ca", false],
        ["empty-ca-alone", true]
      ] as const) {
        json(name, { Addr: `https://127.0.0.1:${port}`, TLSConfig: { CAFile: empty, ExclusiveRootPools: exclusive } })
        const error = yield* Effect.flip(activateByName(name, folders))
        expect(error._tag).toBe("BadSpecFile")
        expect(error.message).toContain(`${Path.join(specDir, `${name}.json`)}: `)
        expect(error.message).toContain(`no certificate in the TLS CA file ${empty}`)
      }
      // A certificate and a key that do not belong together: tls.X509KeyPair refuses them, for any scheme.
      for (const [name, addr] of [
        ["mismatch", `https://127.0.0.1:${port}`],
        ["mismatch-tcp", `tcp://127.0.0.1:${port}`]
      ] as const) {
        json(name, { Addr: addr, TLSConfig: { CertFile: certs.cert, KeyFile: Path.join(dir, "other.key") } })
        const error = yield* Effect.flip(activateByName(name, folders))
        expect(error._tag).toBe("BadSpecFile")
        expect(error.message).toMatch(/could not load X509 key pair .*: .*mismatch/)
      }
    })
  )

  it.live("streams a request body over HTTPS once the handshake is done", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const certs = certificates(dir)
      const server = yield* Effect.acquireRelease(
        Effect.callback<Https.Server>((resume) => {
          const s = Https.createServer(
            { cert: Fs.readFileSync(certs.cert), key: Fs.readFileSync(certs.key) },
            (req, res) => {
              let size = 0
              req.on("data", (c: Buffer) => (size += c.length))
              req.on("end", () => res.end(JSON.stringify({ Size: size })))
            }
          )
          s.listen(0, "127.0.0.1", () => resume(Effect.succeed(s)))
        }),
        (s) =>
          Effect.promise(
            () =>
              new Promise<void>((done) => {
                s.closeAllConnections()
                s.close(() => done())
              })
          )
      )
      const port = (server.address() as { port: number }).port
      const target = Target.url(`https://127.0.0.1:${port}`)
      if (target._tag === "Failure") throw new Error(target.failure)
      const client = yield* Target.connect(target.success, { retry: Retry.none })
      const body = Stream.make(new Uint8Array(1000), new Uint8Array(24))
      expect(yield* client.call(GraphDriver.Api.endpoints.applyDiff, { id: "a", parent: "", body })).toEqual({
        Size: 1024
      })
    })
  )

  it("loads TLS material as tlsconfig.Client: the CA into the system roots or alone, never when not verifying", () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-tls-"))
    try {
      const certs = certificates(dir)
      const pooled = NodeTransport.tlsOptions({ caFile: certs.ca, insecureSkipVerify: false })
      expect((pooled.ca as Array<unknown>).length).toBe(Tls.getCACertificates("system").length + 1)
      const alone = NodeTransport.tlsOptions({ caFile: certs.ca, exclusiveRootPools: true, insecureSkipVerify: false })
      expect((alone.ca as Array<unknown>).length).toBe(1)
      const skipped = NodeTransport.tlsOptions({ caFile: Path.join(dir, "gone.pem"), insecureSkipVerify: true })
      expect([skipped.ca, skipped.rejectUnauthorized, skipped.minVersion]).toEqual([undefined, false, "TLSv1.2"])
      const pair = NodeTransport.tlsOptions({
        certFile: certs.cert,
        keyFile: certs.key,
        passphrase: "pw",
        minVersion: "TLSv1.3",
        insecureSkipVerify: true
      })
      expect([typeof pair.cert, typeof pair.key, pair.passphrase, pair.minVersion]).toEqual([
        "object",
        "object",
        "pw",
        "TLSv1.3"
      ])
      expect(() => NodeTransport.tlsOptions({ certFile: certs.cert, insecureSkipVerify: true })).toThrow(
        /could not load X509 key pair/
      )
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
