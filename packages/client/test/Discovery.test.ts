// Discovery over temp folders: lookup precedence, NAME/NAME.sock, spec files (good and bad) and enumeration.
import { Discovery } from "@docker-plugin-kit/client"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Result, type Scope } from "effect"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import { tempDir } from "./support.ts"

/** A listening Unix socket at `path` (a real socket file) for the life of the scope. */
const socketAt = (path: string): Effect.Effect<void, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<Net.Server>((resume) => {
      Fs.mkdirSync(Path.dirname(path), { recursive: true })
      const server = Net.createServer()
      server.listen(path, () => resume(Effect.succeed(server)))
    }),
    (server) => Effect.promise(() => new Promise<void>((done) => server.close(() => done())))
  ).pipe(Effect.asVoid)

const write = (path: string, content: string) => {
  Fs.mkdirSync(Path.dirname(path), { recursive: true })
  Fs.writeFileSync(path, content)
}

/** Three folders like the daemon's: sockets, then two spec folders. */
const layout = Effect.map(tempDir, (root) => {
  const where: Discovery.Folders = {
    socketDir: Path.join(root, "run"),
    specDirs: [Path.join(root, "etc"), Path.join(root, "lib")]
  }
  return { root, where, run: where.socketDir, etc: where.specDirs[0]!, lib: where.specDirs[1]! }
})

describe("Discovery.locate", () => {
  it.effect("says why an empty name or one with a NUL byte is looked up nowhere", () =>
    Effect.gen(function* () {
      const empty = yield* Effect.flip(Discovery.locate("", Discovery.daemonFolders))
      expect(empty.message).toBe('plugin "" not found: a plugin name cannot be empty')
      const nul = yield* Effect.flip(Discovery.locate("a\0b", Discovery.daemonFolders))
      expect(nul.message).toBe('plugin "a\\u0000b" not found: a plugin name cannot contain a NUL byte')
    })
  )

  it.effect("lists the daemon's ten paths in order", () =>
    Effect.sync(() => {
      expect(Discovery.candidates("p", Discovery.daemonFolders).map((c) => c.path)).toEqual([
        "/run/docker/plugins/p.sock",
        "/run/docker/plugins/p/p.sock",
        "/etc/docker/plugins/p.spec",
        "/etc/docker/plugins/p/p.spec",
        "/etc/docker/plugins/p.json",
        "/etc/docker/plugins/p/p.json",
        "/usr/lib/docker/plugins/p.spec",
        "/usr/lib/docker/plugins/p/p.spec",
        "/usr/lib/docker/plugins/p.json",
        "/usr/lib/docker/plugins/p/p.json"
      ])
    })
  )

  it.live("prefers a socket over any spec file, NAME.sock over NAME/NAME.sock", () =>
    Effect.gen(function* () {
      const { where, run, etc } = yield* layout
      write(Path.join(etc, "p.spec"), "tcp://127.0.0.1:1\n")
      yield* socketAt(Path.join(run, "p", "p.sock"))
      expect(yield* Discovery.locate("p", where)).toMatchObject({ kind: "socket", path: Path.join(run, "p", "p.sock") })
      yield* socketAt(Path.join(run, "p.sock"))
      const found = yield* Discovery.locate("p", where)
      expect(found).toMatchObject({ kind: "socket", path: Path.join(run, "p.sock") })
      expect(found.spec.address).toEqual({ _tag: "Unix", path: Path.join(run, "p.sock") })
    })
  )

  it.live("skips a NAME.sock that is not a socket, but follows a symlink to one", () =>
    Effect.gen(function* () {
      const { root, where, run, etc } = yield* layout
      write(Path.join(run, "p.sock"), "not a socket")
      write(Path.join(etc, "p.spec"), "tcp://127.0.0.1:9\n")
      expect((yield* Discovery.locate("p", where)).kind).toBe("spec")
      yield* socketAt(Path.join(root, "real.sock"))
      Fs.mkdirSync(Path.join(run, "q"), { recursive: true })
      Fs.symlinkSync(Path.join(root, "real.sock"), Path.join(run, "q", "q.sock"))
      expect(yield* Discovery.locate("q", where)).toMatchObject({ kind: "socket", path: Path.join(run, "q", "q.sock") })
    })
  )

  it.live("orders spec files: .spec before .json, the first folder before the second", () =>
    Effect.gen(function* () {
      const { where, etc, lib } = yield* layout
      write(Path.join(lib, "p.spec"), "tcp://10.0.0.3:1")
      write(Path.join(etc, "p", "p.json"), '{"Addr":"tcp://10.0.0.2:1"}')
      expect(yield* Discovery.locate("p", where)).toMatchObject({ kind: "json", path: Path.join(etc, "p", "p.json") })
      write(Path.join(etc, "p", "p.spec"), "tcp://10.0.0.1:1")
      const found = yield* Discovery.locate("p", where)
      expect(found).toMatchObject({ kind: "spec", path: Path.join(etc, "p", "p.spec") })
      expect(found.spec.address).toEqual({ _tag: "Tcp", host: "10.0.0.1", port: 1, https: false })
    })
  )

  it.live("reads .json spec files like the daemon: TLSConfig, first JSON value only", () =>
    Effect.gen(function* () {
      const { where, etc } = yield* layout
      write(
        Path.join(etc, "s.json"),
        '{"Name":"ignored","Addr":"https://h:8443","TLSConfig":{"CAFile":"/ca.pem"}} junk'
      )
      const found = yield* Discovery.locate("s", where)
      expect(found.name).toBe("s")
      expect(found.spec.tls).toEqual({ caFile: "/ca.pem", insecureSkipVerify: false })
    })
  )

  it.live("names the file and the problem of a bad spec file, and stops there", () =>
    Effect.gen(function* () {
      const { where, etc, lib } = yield* layout
      write(Path.join(lib, "p.spec"), "tcp://10.0.0.1:1") // would be valid, but the bad one comes first
      write(Path.join(etc, "p.spec"), "127.0.0.1:8080\n")
      const noScheme = yield* Effect.flip(Discovery.locate("p", where))
      expect(noScheme._tag).toBe("BadSpecFile")
      expect(noScheme.message).toMatch(
        new RegExp(`^bad plugin spec file ${Path.join(etc, "p.spec")}: Unknown protocol`)
      )
      write(Path.join(etc, "j.json"), '{"Addr": 42}')
      expect((yield* Effect.flip(Discovery.locate("j", where))).message).toBe(
        `bad plugin spec file ${Path.join(etc, "j.json")}: json: cannot unmarshal number into Go struct field Plugin.Addr of type string`
      )
      write(Path.join(etc, "k.json"), "{")
      expect((yield* Effect.flip(Discovery.locate("k", where))).message).toMatch(/k\.json: not valid JSON/)
    })
  )

  it.live("fails at once on a spec file that is a FIFO, a folder or huge, instead of hanging or reading it all", () =>
    Effect.gen(function* () {
      const { where, etc } = yield* layout
      Fs.mkdirSync(etc, { recursive: true })
      execFileSync("mkfifo", [Path.join(etc, "f.spec")])
      expect((yield* Effect.flip(Discovery.locate("f", where))).message).toBe(
        `bad plugin spec file ${Path.join(etc, "f.spec")}: cannot read it: not a regular file`
      )
      Fs.mkdirSync(Path.join(etc, "d.json"))
      expect((yield* Effect.flip(Discovery.locate("d", where))).message).toMatch(
        /d\.json: cannot read it: not a regular/
      )
      write(Path.join(etc, "h.spec"), "")
      Fs.truncateSync(Path.join(etc, "h.spec"), 64 * 1024 * 1024) // sparse: no disk space used
      expect((yield* Effect.flip(Discovery.locate("h", where))).message).toMatch(/h\.spec: cannot read it: larger than/)
      const found = yield* Discovery.all(where)
      expect(found.map((f) => [f.name, Result.isFailure(f.result) && f.result.failure._tag])).toEqual([
        ["d", "BadSpecFile"],
        ["f", "BadSpecFile"],
        ["h", "BadSpecFile"]
      ])
    })
  )

  it.live("fails with PluginNotFound listing every path tried", () =>
    Effect.gen(function* () {
      const { where, run } = yield* layout
      const error = yield* Effect.flip(Discovery.locate("nope", where))
      expect(error._tag).toBe("PluginNotFound")
      if (error._tag === "PluginNotFound") {
        expect(error.searched).toHaveLength(10)
        expect(error.searched[0]).toBe(Path.join(run, "nope.sock"))
      }
    })
  )

  it.live("refuses a socket whose path the daemon would read as another address (its unix:// URL)", () =>
    Effect.gen(function* () {
      const { where, run } = yield* layout
      // The daemon dials url.Parse("unix://" + path): `#` and `?` cut the path short, `%41` reads as `A`.
      for (const [name, dialed] of [
        ["a#b", "a"],
        ["q?x", "q"],
        ["pct%41", "pctA.sock"]
      ] as const) {
        yield* socketAt(Path.join(run, `${name}.sock`))
        const error = yield* Effect.flip(Discovery.locate(name, where))
        expect(error._tag).toBe("BadSpecFile")
        expect(error.message).toBe(
          `bad plugin spec file ${Path.join(run, `${name}.sock`)}: the daemon dials unix://${Path.join(run, `${name}.sock`)} as the socket ${Path.join(run, dialed)}, not this one: rename it`
        )
      }
      // `%zz` is no escape at all: url.Parse fails.
      yield* socketAt(Path.join(run, "bad%zz.sock"))
      expect((yield* Effect.flip(Discovery.locate("bad%zz", where))).message).toMatch(/invalid URL escape "%zz"/)
      // A socket in its own folder is read the same way; plain names are untouched.
      yield* socketAt(Path.join(run, "ok-1.2_x", "ok-1.2_x.sock"))
      expect((yield* Discovery.locate("ok-1.2_x", where)).kind).toBe("socket")
    })
  )

  it.live("is case-sensitive", () =>
    Effect.gen(function* () {
      const { where, etc } = yield* layout
      write(Path.join(etc, "Mixed.spec"), "tcp://10.0.0.1:1")
      expect((yield* Effect.flip(Discovery.locate("mixed", where)))._tag).toBe("PluginNotFound")
      expect((yield* Discovery.locate("Mixed", where)).name).toBe("Mixed")
    })
  )
})

describe("Discovery.scan and all", () => {
  it.live("enumerates like GetAll: sockets, D/D.sock, .spec/.json files and D/D.<ext>", () =>
    Effect.gen(function* () {
      const { where, run, etc, lib } = yield* layout
      yield* socketAt(Path.join(run, "a.sock"))
      yield* socketAt(Path.join(run, "b", "b.sock"))
      yield* socketAt(Path.join(run, "c", "other.sock")) // not D/D.sock: ignored
      write(Path.join(run, "notes.txt"), "") // not a socket: ignored
      write(Path.join(etc, "d.spec"), "tcp://10.0.0.1:1")
      write(Path.join(etc, "e", "e.json"), '{"Addr":"tcp://10.0.0.1:2"}')
      write(Path.join(etc, "readme.md"), "") // wrong extension: ignored
      write(Path.join(lib, "a.spec"), "tcp://10.0.0.1:3") // same name as a socket: listed once
      write(Path.join(lib, "bad.spec"), "no scheme")
      expect(yield* Discovery.scan(where)).toEqual(["a", "b", "d", "e", "bad"])

      const found = yield* Discovery.all(where)
      const summary = found.map(({ name, result }) =>
        Result.isSuccess(result) ? `${name}:${result.success.kind}` : `${name}:${result.failure._tag}`
      )
      expect(summary).toEqual(["a:socket", "b:socket", "d:spec", "e:json", "bad:BadSpecFile"])
    })
  )

  it.live("treats missing folders as empty", () =>
    Effect.gen(function* () {
      const { root } = yield* layout
      expect(yield* Discovery.scan({ socketDir: Path.join(root, "x"), specDirs: [Path.join(root, "y")] })).toEqual([])
    })
  )
})
