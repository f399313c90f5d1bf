// "The system roots" are the host's trust store, as Go's crypto/x509 reads it (SSL_CERT_FILE, /etc/ssl/certs, ...),
// not the Mozilla bundle compiled into Node: a private CA an operator installed on the host is trusted by the
// daemon, so it must be trusted here. A file of its own: Node reads the system store once per process.
import { Discovery, Retry, Target } from "@docker-plugin-kit/client"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { certificates, serveTcp, tempDir } from "./support.ts"

describe("HTTPS plugins and the host's trust store", () => {
  it.live("verifies against the system store, with or without a CAFile added to it", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const certs = certificates(dir)
      // The host's store holds the test CA only (as after update-ca-certificates with a private CA).
      const store = Path.join(dir, "store")
      Fs.mkdirSync(store)
      process.env.SSL_CERT_FILE = certs.ca
      process.env.SSL_CERT_DIR = store
      const specDir = Path.join(dir, "specs")
      const folders = Discovery.folders({ socketDir: Path.join(dir, "none"), specDirs: [specDir] })
      const port = yield* serveTcp("secure", specDir, { certFile: certs.cert, keyFile: certs.key })
      const json = (name: string, spec: unknown) =>
        Fs.writeFileSync(Path.join(specDir, `${name}.json`), JSON.stringify(spec))
      const activate = (name: string) =>
        Effect.flatMap(
          Target.connect(Target.name(name, { folders, wait: false }), { retry: Retry.none }),
          (c) => c.activate
        )
      const addr = `https://127.0.0.1:${port}`
      json("system", { Addr: addr })
      expect(yield* activate("system")).toEqual({ Implements: ["VolumeDriver"] })
      // A CAFile is added to the system store, not to Node's bundle.
      json("added", { Addr: addr, TLSConfig: { CAFile: certs.otherCa } })
      expect(yield* activate("added")).toEqual({ Implements: ["VolumeDriver"] })
      // With ExclusiveRootPools the CAFile alone is trusted.
      json("alone", { Addr: addr, TLSConfig: { CAFile: certs.otherCa, ExclusiveRootPools: true } })
      expect((yield* Effect.flip(activate("alone")))._tag).toBe("PluginUnreachable")
    }).pipe(
      Effect.ensuring(
        Effect.sync(() => {
          delete process.env.SSL_CERT_FILE
          delete process.env.SSL_CERT_DIR
        })
      )
    )
  )
})
