// The driver tested in-process through the real router (layer tars written with the kit's TarStream), then over a
// Unix socket with the toolkit's graph driver conformance suite.
import { TarStream } from "@docker-plugin-kit/helpers"
import { GraphDriver } from "@docker-plugin-kit/protocol"
import { ConformanceGraph, ConformanceSuites, InProcess } from "@docker-plugin-kit/testkit"
import { ConformanceVitest } from "@docker-plugin-kit/testkit/vitest"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Driver from "../src/Driver.ts"

const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "__NAME__-test-"))
afterAll(() => Fs.rmSync(root, { recursive: true, force: true }))

/** A layer tar of folders (`name/`) and files (`name`, content); `.wh.NAME` deletes NAME of the layers below. */
const tar = (entries: ReadonlyArray<readonly [string, string]>) =>
  TarStream.write(
    Stream.fromIterable(
      entries.map(([name, content]) => {
        const folder = name.endsWith("/")
        const header = TarStream.header({
          name,
          type: folder ? "directory" : "file",
          size: folder ? 0 : Buffer.byteLength(content),
          mtime: new Date("2024-01-01T00:00:00Z")
        })
        return folder ? { header } : { header, body: Stream.make(Buffer.from(content)) }
      })
    )
  )

describe("the driver, in-process", () => {
  it.effect("copies a parent into its child, applies layers on top, and reports only the child's changes", () =>
    Effect.gen(function* () {
      const dir = Path.join(root, "a")
      const plugin = yield* InProcess.make(Driver.layer(dir))
      const call = (path: string, body: unknown) => Effect.map(plugin.call(`/GraphDriver.${path}`, body), (r) => r.body)
      const apply = (id: string, parent: string, entries: ReadonlyArray<readonly [string, string]>) =>
        plugin.client.call(GraphDriver.Api.endpoints.applyDiff, { id, parent, body: tar(entries) })
      expect(yield* call("Create", { ID: "base" })).toEqual({})
      expect(
        yield* apply("base", "", [
          ["etc/", ""],
          ["etc/motd", "hello"],
          ["etc/old", "old"]
        ])
      ).toEqual({ Size: 8 })
      // A file written in place, as the daemon writes /etc/hostname into a container's init layer: its time has
      // nanoseconds, which only an exact copy keeps.
      Fs.writeFileSync(Path.join(dir, "base", "etc", "hostname"), "box")
      expect(yield* call("Create", { ID: "child", Parent: "base" })).toEqual({})
      expect(Fs.readFileSync(Path.join(dir, "child", "etc", "motd"), "utf8")).toBe("hello")
      // The copy keeps every time and mode: nothing differs from the parent yet.
      expect(yield* call("Changes", { ID: "child", Parent: "base" })).toEqual({ Changes: [] })
      yield* apply("child", "base", [
        ["etc/", ""],
        ["etc/.wh.old", ""],
        ["etc/new", "new!"]
      ])
      expect(Fs.existsSync(Path.join(dir, "child", "etc", "old"))).toBe(false)
      expect(yield* call("Changes", { ID: "child", Parent: "base" })).toEqual({
        Changes: [
          { Path: "/etc", Kind: 0 },
          { Path: "/etc/new", Kind: 1 },
          { Path: "/etc/old", Kind: 2 }
        ]
      })
      expect(yield* call("DiffSize", { ID: "child", Parent: "base" })).toEqual({ Size: 4 })
      expect(yield* call("Create", { ID: "orphan", Parent: "missing" })).toEqual({ Err: "no such layer: missing" })
      expect(yield* call("Create", { ID: "../escape" })).toEqual({ Err: 'invalid layer ID "../escape"' })
      expect(Fs.existsSync(Path.join(root, "escape"))).toBe(false)
      expect(yield* call("CreateReadWrite", { ID: "sized", StorageOpt: { size: "1G" } })).toEqual({
        Err: "--storage-opt size is not supported: this driver sets no quotas"
      })
      expect(Fs.existsSync(Path.join(dir, "sized"))).toBe(false)
    })
  )

  it.effect("counts Gets: a layer in use is not removed until every Get is Put", () =>
    Effect.gen(function* () {
      const dir = Path.join(root, "b")
      const plugin = yield* InProcess.make(Driver.layer(dir))
      const call = (path: string, body: unknown) => Effect.map(plugin.call(`/GraphDriver.${path}`, body), (r) => r.body)
      yield* call("CreateReadWrite", { ID: "rw" })
      expect(yield* call("Get", { ID: "rw" })).toEqual({ Dir: Path.join(dir, "rw") })
      expect(yield* call("Get", { ID: "rw" })).toEqual({ Dir: Path.join(dir, "rw") })
      yield* call("Put", { ID: "rw" })
      expect(yield* call("Remove", { ID: "rw" })).toEqual({ Err: "layer rw is in use" })
      yield* call("Put", { ID: "rw" })
      expect(yield* call("Remove", { ID: "rw" })).toEqual({})
      expect(yield* call("Exists", { ID: "rw" })).toEqual({ Exists: false })
      expect(yield* call("Get", { ID: "rw" })).toEqual({ Err: "no such layer: rw" })
    })
  )

  it.effect("leaves nothing behind when a create fails half-way", () =>
    Effect.gen(function* () {
      const dir = Path.join(root, "e")
      const plugin = yield* InProcess.make(Driver.layer(dir))
      const call = (path: string, body: unknown) => Effect.map(plugin.call(`/GraphDriver.${path}`, body), (r) => r.body)
      // A host ID no chown takes (the conformance suite's generated Init sends such maps): the folder is made first.
      const ranges = [{ container_id: 0, host_id: -5, size: 1 }]
      yield* call("Init", { Home: dir, Opts: null, UIDMaps: ranges, GIDMaps: ranges })
      expect(yield* call("Create", { ID: "half" })).toHaveProperty("Err")
      expect(Fs.readdirSync(dir)).toEqual([])
    })
  )

  // Changing owners needs root.
  it.effect.skipIf(process.getuid?.() !== 0)(
    "under dockerd --userns-remap, keeps host owners on disk and gives the containers' back",
    () =>
      Effect.gen(function* () {
        const dir = Path.join(root, "d")
        const plugin = yield* InProcess.make(Driver.layer(dir))
        const call = (path: string, body: unknown) =>
          Effect.map(plugin.call(`/GraphDriver.${path}`, body), (r) => r.body)
        const ranges = [{ container_id: 0, host_id: 400_000, size: 65_536 }]
        yield* call("Init", { Home: dir, Opts: null, UIDMaps: ranges, GIDMaps: ranges })
        yield* call("Create", { ID: "base" })
        yield* plugin.client.call(GraphDriver.Api.endpoints.applyDiff, {
          id: "base",
          parent: "",
          body: tar([["motd", "hi"]])
        })
        expect(Fs.statSync(Path.join(dir, "base")).uid).toBe(400_000)
        expect(Fs.statSync(Path.join(dir, "base", "motd")).uid).toBe(400_000)
        const out = yield* plugin.client.call(GraphDriver.Api.endpoints.diff, { ID: "base" })
        const owners = yield* Stream.runCollect(
          Stream.map(TarStream.entries(out), (e) => `${e.header.name} ${e.header.uid}`)
        )
        expect(owners).toEqual(["motd 0"])
      })
  )
})

ConformanceVitest.describeSuite("the driver over a Unix socket", ConformanceGraph.suite, () =>
  ConformanceSuites.overSocket(Driver.layer(Path.join(root, "c")))
)
