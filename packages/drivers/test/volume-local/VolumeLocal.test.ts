import { VolumeFs, VolumeFsMemory, VolumeFsNode, VolumeLocal, VolumeState } from "@docker-plugin-kit/drivers"
import type { VolumeDriver } from "@docker-plugin-kit/protocol"
import { InProcess } from "@docker-plugin-kit/testkit"
import { NodeFileSystem } from "@effect/platform-node"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { liveProcess } from "../support/processes.ts"
import { canMount, mountTmpfs } from "../support/tmpfs.ts"

const createdAt = "2026-11-21T14:50:27.723Z"
const now = () => new Date(createdAt)

/** One storage under test: the same folders and state across `start()` calls, so a second start is a restart. */
interface Storage {
  readonly root: string
  readonly stateDir: string
  readonly fs: VolumeFs.Service
  readonly start: () => Layer.Layer<VolumeDriver.VolumeDriver, VolumeLocal.StartError>
}

const memoryStorage = (fault?: VolumeFsMemory.Options["fault"]): Storage => {
  const mem = VolumeFsMemory.make(fault === undefined ? {} : { fault })
  const root = "/var/lib/dpk/volumes"
  const stateDir = "/var/lib/dpk/state"
  return {
    root,
    stateDir,
    fs: mem.service,
    start: () =>
      VolumeLocal.layer({ root, stateDir, now }).pipe(Layer.provide(Layer.succeed(VolumeFs.VolumeFs, mem.service)))
  }
}

const tempDirs: Array<string> = []
afterAll(() => {
  for (const dir of tempDirs) Fs.rmSync(dir, { recursive: true, force: true })
})

const diskStorage = (): Storage => {
  const base = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-volume-local-"))
  tempDirs.push(base)
  const root = Path.join(base, "volumes")
  const stateDir = Path.join(base, "state")
  return {
    root,
    stateDir,
    fs: Effect.runSync(VolumeFsNode.make.pipe(Effect.provide(NodeFileSystem.layer))),
    start: () => Layer.fresh(VolumeLocal.layerNode({ root, stateDir, now }))
  }
}

type Plugin = InProcess.InProcessPlugin
const call = (p: Plugin, endpoint: string, body: unknown) =>
  Effect.map(p.call(`/VolumeDriver.${endpoint}`, body), (r) => r.body as Record<string, any>)
const started = (s: Storage) => InProcess.make(s.start())

const storages: ReadonlyArray<readonly [string, () => Storage]> = [
  ["memory VolumeFs", () => memoryStorage()],
  ["Node VolumeFs (temp folder)", diskStorage]
]

describe.each(storages)("volume-local on %s", (_, makeStorage) => {
  it.effect("create, get, list, path, remove", () =>
    Effect.gen(function* () {
      const s = makeStorage()
      const p = yield* started(s)
      expect(yield* call(p, "Create", { Name: "v1", Opts: { size: "10G", "label.team": "infra" } })).toEqual({})
      const got = yield* call(p, "Get", { Name: "v1" })
      expect(got).toEqual({
        Volume: {
          Name: "v1",
          Mountpoint: Path.join(s.root, "v1"),
          CreatedAt: createdAt,
          Status: {
            mounts: 0,
            options: { size: "10G", "label.team": "infra" },
            labels: { team: "infra" },
            size: "10G",
            sizeBytes: 10 * 2 ** 30
          }
        }
      })
      expect((yield* s.fs.stat(Path.join(s.root, "v1")))?.type).toBe("Directory")
      expect(yield* call(p, "Path", { Name: "v1" })).toEqual({ Mountpoint: Path.join(s.root, "v1") })
      const list = yield* call(p, "List", {})
      expect(list.Volumes.map((v: { Name: string }) => v.Name)).toEqual(["v1"])
      expect(yield* call(p, "Capabilities", {})).toEqual({ Capabilities: { Scope: "local" } })
      expect(yield* call(p, "Remove", { Name: "v1" })).toEqual({})
      expect(yield* s.fs.stat(Path.join(s.root, "v1"))).toBeUndefined()
      expect(yield* s.fs.stat(Path.join(s.stateDir, "volumes", "v1"))).toBeUndefined()
      expect(yield* call(p, "Get", { Name: "v1" })).toEqual({ Err: "no such volume: v1" })
    })
  )

  it.effect("applies uid, gid and mode to the folder", () =>
    Effect.gen(function* () {
      const s = makeStorage()
      const p = yield* started(s)
      expect(yield* call(p, "Create", { Name: "owned", Opts: { uid: "1234", gid: "4321", mode: "0750" } })).toEqual({})
      const entry = yield* s.fs.stat(Path.join(s.root, "owned"))
      expect(entry).toMatchObject({ type: "Directory", uid: 1234, gid: 4321, mode: 0o750 })
    })
  )

  it.effect("refuses unsafe names and bad options, creating nothing", () =>
    Effect.gen(function* () {
      const s = makeStorage()
      const p = yield* started(s)
      for (const [name, message] of [
        ["..", 'invalid Name: ".." would escape the volume root'],
        ["a/b", 'invalid Name: "a/b" must not contain "/"'],
        ["", "invalid Name: must not be empty"],
        ["x\0y", "invalid Name: must not contain a NUL byte"],
        ["é".repeat(128), "invalid Name: is 256 bytes long, the limit is 255"]
      ] as const) {
        expect(yield* call(p, "Create", { Name: name, Opts: null })).toEqual({ Err: message })
      }
      expect(yield* call(p, "Create", { Name: "v", Opts: { mode: "rwx", colour: "red" } })).toEqual({
        Err:
          'invalid options: unknown option "colour" (known: uid, gid, mode, size, label.<name>); ' +
          'option "mode": expected octal permission bits such as 0755'
      })
      expect(yield* s.fs.readDirectory(s.root)).toEqual([])
      expect(yield* s.fs.readDirectory(Path.join(s.stateDir, "volumes"))).toEqual([])
    })
  )

  it.effect("refuses a name with a lone UTF-16 surrogate, which has no file name of its own", () =>
    Effect.gen(function* () {
      // Written to disk, "\ud800" and "\udc00" both become U+FFFD: two volumes in one folder, and a state file whose
      // name no longer matches the one inside, so the next start stopped on it.
      const s = makeStorage()
      // Stopped before the restart: a second driver on the state folder in this process is refused.
      yield* Effect.scoped(
        Effect.gen(function* () {
          const p = yield* started(s)
          for (const name of ["a\ud800", "\udc00b", "x\udc00\ud800"]) {
            expect(yield* call(p, "Create", { Name: name, Opts: null })).toEqual({
              Err: "invalid Name: must be valid Unicode (it holds a lone UTF-16 surrogate)"
            })
          }
          expect(yield* call(p, "Create", { Name: "pair\ud83d\udc33", Opts: null })).toEqual({})
          expect(yield* s.fs.readDirectory(s.root)).toEqual(["pair\u{1f433}"])
        })
      )
      const again = yield* started(s)
      expect((yield* call(again, "List", {})).Volumes.map((v: { Name: string }) => v.Name)).toEqual(["pair\u{1f433}"])
    })
  )

  it.effect("duplicate create: same options is a no-op, different options a conflict", () =>
    Effect.gen(function* () {
      const p = yield* started(makeStorage())
      expect(yield* call(p, "Create", { Name: "d", Opts: {} })).toEqual({})
      expect(yield* call(p, "Create", { Name: "d", Opts: null })).toEqual({})
      expect(yield* call(p, "Create", { Name: "d", Opts: { size: "1G" } })).toEqual({
        Err: "volume d already exists with different options"
      })
    })
  )

  it.effect("mounts are counted per ID; remove of a mounted volume is refused; unknown IDs change nothing", () =>
    Effect.gen(function* () {
      const s = makeStorage()
      const p = yield* started(s)
      yield* call(p, "Create", { Name: "shared", Opts: null })
      const mountpoint = Path.join(s.root, "shared")
      expect(yield* call(p, "Mount", { Name: "shared", ID: "a" })).toEqual({ Mountpoint: mountpoint })
      expect(yield* call(p, "Mount", { Name: "shared", ID: "b" })).toEqual({ Mountpoint: mountpoint })
      expect(yield* call(p, "Mount", { Name: "shared", ID: "b" })).toEqual({ Mountpoint: mountpoint })
      expect((yield* call(p, "Get", { Name: "shared" })).Volume.Status.mounts).toBe(3)
      expect(yield* call(p, "Remove", { Name: "shared" })).toEqual({ Err: "volume shared is in use by 3 mount(s)" })
      expect(yield* call(p, "Unmount", { Name: "shared", ID: "a" })).toEqual({})
      // The daemon unmounts IDs it never mounted after a `docker cp`: success, and the count stays.
      expect(yield* call(p, "Unmount", { Name: "shared", ID: "a" })).toEqual({})
      expect((yield* call(p, "Get", { Name: "shared" })).Volume.Status.mounts).toBe(2)
      expect(yield* call(p, "Unmount", { Name: "nope", ID: "a" })).toEqual({ Err: "no such volume: nope" })
      expect(yield* call(p, "Mount", { Name: "nope", ID: "a" })).toEqual({ Err: "no such volume: nope" })
      // Two Mounts with one ID take two Unmounts.
      expect(yield* call(p, "Unmount", { Name: "shared", ID: "b" })).toEqual({})
      expect(yield* call(p, "Remove", { Name: "shared" })).toEqual({ Err: "volume shared is in use by 1 mount(s)" })
      expect(yield* call(p, "Unmount", { Name: "shared", ID: "b" })).toEqual({})
      expect(yield* call(p, "Remove", { Name: "shared" })).toEqual({})
    })
  )

  it.effect("volumes, options and mount counts survive a restart", () =>
    Effect.gen(function* () {
      const s = makeStorage()
      yield* Effect.scoped(
        Effect.gen(function* () {
          const p = yield* started(s)
          yield* call(p, "Create", { Name: "keep", Opts: { "label.x": "1" } })
          yield* call(p, "Create", { Name: "gone", Opts: null })
          yield* call(p, "Mount", { Name: "keep", ID: "m1" })
          yield* call(p, "Mount", { Name: "keep", ID: "m2" })
          yield* call(p, "Remove", { Name: "gone" })
        })
      )
      const p = yield* started(s)
      const list = yield* call(p, "List", {})
      expect(list.Volumes.map((v: { Name: string }) => v.Name)).toEqual(["keep"])
      const got = yield* call(p, "Get", { Name: "keep" })
      expect(got.Volume).toMatchObject({ CreatedAt: createdAt, Status: { mounts: 2, labels: { x: "1" } } })
      expect(yield* call(p, "Remove", { Name: "keep" })).toEqual({ Err: "volume keep is in use by 2 mount(s)" })
      expect(yield* call(p, "Unmount", { Name: "keep", ID: "m1" })).toEqual({})
      expect(yield* call(p, "Unmount", { Name: "keep", ID: "m2" })).toEqual({})
      expect(yield* call(p, "Remove", { Name: "keep" })).toEqual({})
    })
  )

  it.effect("reconciles at start: a missing folder is recreated, a folder without state is adopted", () =>
    Effect.gen(function* () {
      const s = makeStorage()
      yield* Effect.scoped(
        Effect.flatMap(started(s), (p) => call(p, "Create", { Name: "lost", Opts: { mode: "0700" } }))
      )
      yield* s.fs.removeTree(Path.join(s.root, "lost"))
      yield* s.fs.makeDirectory(Path.join(s.root, "stray", "data"))
      const p = yield* started(s)
      // The in-process server builds the driver on the first call.
      const names = (yield* call(p, "List", {})).Volumes.map((v: { Name: string }) => v.Name).sort()
      expect(names).toEqual(["lost", "stray"])
      expect((yield* s.fs.stat(Path.join(s.root, "lost")))?.mode).toBe(0o700)
      expect((yield* call(p, "Get", { Name: "stray" })).Volume.Status.options).toEqual({})
      // The adopted folder now has state: it stays a volume, data intact, and can be removed.
      expect((yield* s.fs.stat(Path.join(s.stateDir, "volumes", "stray")))?.type).toBe("File")
      expect((yield* s.fs.stat(Path.join(s.root, "stray", "data")))?.type).toBe("Directory")
      expect(yield* call(p, "Remove", { Name: "stray" })).toEqual({})
    })
  )

  it.effect("a corrupt state file stops start-up with a message naming it", () =>
    Effect.gen(function* () {
      const s = makeStorage()
      yield* Effect.scoped(Effect.flatMap(started(s), (p) => call(p, "Create", { Name: "v", Opts: null })))
      const file = Path.join(s.stateDir, "volumes", "v")
      yield* s.fs.writeFileAtomic(file, '{"version":1,"name":"v"', Path.join(s.stateDir, "tmp"))
      const exit = yield* Effect.exit(Layer.build(s.start()))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(String(Exit.isFailure(exit) ? exit.cause : "")).toContain(`state file ${file} is unreadable`)
    })
  )

  it.effect("concurrent calls on one volume stay consistent", () =>
    Effect.gen(function* () {
      const p = yield* started(makeStorage())
      yield* call(p, "Create", { Name: "busy", Opts: null })
      const ids = Array.from({ length: 20 }, (_, i) => `id${i}`)
      yield* Effect.forEach(ids, (ID) => call(p, "Mount", { Name: "busy", ID }), { concurrency: "unbounded" })
      expect((yield* call(p, "Get", { Name: "busy" })).Volume.Status.mounts).toBe(20)
      // Unmounts race a Remove: the Remove either sees mounts left (refused) or none (succeeds), never a torn state.
      const results = yield* Effect.all(
        [
          Effect.forEach(ids, (ID) => call(p, "Unmount", { Name: "busy", ID }), { concurrency: "unbounded" }),
          call(p, "Remove", { Name: "busy" })
        ],
        { concurrency: "unbounded" }
      )
      expect(results[0].every((r) => Object.keys(r).length === 0)).toBe(true)
      const after = yield* call(p, "Get", { Name: "busy" })
      if (Object.keys(results[1]).length === 0) expect(after).toEqual({ Err: "no such volume: busy" })
      else expect(after.Volume.Status.mounts).toBe(0)
    })
  )

  it.effect("concurrent creates of many volumes all persist", () =>
    Effect.gen(function* () {
      const s = makeStorage()
      const names = Array.from({ length: 25 }, (_, i) => `c${i}`)
      yield* Effect.scoped(
        Effect.flatMap(started(s), (p) =>
          Effect.forEach(names, (Name) => call(p, "Create", { Name, Opts: null }), { concurrency: "unbounded" })
        )
      )
      const p = yield* started(s)
      const listed = (yield* call(p, "List", {})).Volumes.map((v: { Name: string }) => v.Name).sort()
      expect(listed).toEqual([...names].sort())
    })
  )
})

describe("volume-local failure handling (memory VolumeFs with injected faults)", () => {
  it.effect("a failed folder creation rolls the state file back", () =>
    Effect.gen(function* () {
      const s = memoryStorage((op, path) =>
        op === "makeDirectory" && path.endsWith("/volumes/bad") ? "EACCES: permission denied" : undefined
      )
      const p = yield* started(s)
      expect(yield* call(p, "Create", { Name: "bad", Opts: null })).toEqual({
        Err: "makeDirectory /var/lib/dpk/volumes/bad: EACCES: permission denied"
      })
      expect(yield* call(p, "Get", { Name: "bad" })).toEqual({ Err: "no such volume: bad" })
      expect(yield* s.fs.readDirectory(Path.join(s.stateDir, "volumes"))).toEqual([])
    })
  )

  it.effect("a Create whose chown fails after its mkdir leaves no folder behind (adopted at the next start)", () =>
    Effect.gen(function* () {
      // As `-o uid=...` on a driver that does not run as root: the folder is made, then chown fails with EPERM.
      const s = memoryStorage()
      const chownFails: VolumeFs.Service = {
        ...s.fs,
        makeDirectory: (path, settings) =>
          settings?.uid === undefined
            ? s.fs.makeDirectory(path, settings)
            : Effect.andThen(
                s.fs.makeDirectory(path),
                Effect.fail(new VolumeFs.VolumeFsError({ operation: "chown", path, reason: "EPERM" }))
              )
      }
      const start = () =>
        InProcess.make(
          VolumeLocal.layer({ root: s.root, stateDir: s.stateDir, now }).pipe(
            Layer.provide(Layer.succeed(VolumeFs.VolumeFs, chownFails))
          )
        )
      yield* Effect.scoped(
        Effect.gen(function* () {
          const p = yield* start()
          expect(yield* call(p, "Create", { Name: "owned", Opts: { uid: "1234" } })).toEqual({
            Err: `chown ${Path.join(s.root, "owned")}: EPERM`
          })
          // A folder that was there before the Create is not the Create's to remove.
          yield* s.fs.makeDirectory(Path.join(s.root, "before", "data"))
          expect((yield* call(p, "Create", { Name: "before", Opts: { uid: "1234" } })).Err).toMatch(/EPERM/)
        })
      )
      expect(yield* s.fs.readDirectory(s.root)).toEqual(["before"])
      expect((yield* s.fs.stat(Path.join(s.root, "before", "data")))?.type).toBe("Directory")
      const p = yield* start()
      expect((yield* call(p, "List", {})).Volumes.map((v: { Name: string }) => v.Name)).toEqual(["before"])
      expect(yield* call(p, "Get", { Name: "owned" })).toEqual({ Err: "no such volume: owned" })
    })
  )

  it.effect("a state write that fails after its rename leaves no volume nor mount the daemon was told failed", () =>
    Effect.gen(function* () {
      // The fsync of the folder fails (EIO) once the new file is in place: the call fails, and the next start used
      // to read the new file anyway, a volume whose Create failed, or a mount ID no Unmount would ever release.
      const s = memoryStorage()
      let failAfterRename = false
      const fsyncFails: VolumeFs.Service = {
        ...s.fs,
        writeFileAtomic: (path, content, tmpDir) =>
          failAfterRename
            ? Effect.andThen(
                s.fs.writeFileAtomic(path, content, tmpDir),
                Effect.fail(new VolumeFs.VolumeFsError({ operation: "fsync", path: Path.dirname(path), reason: "EIO" }))
              )
            : s.fs.writeFileAtomic(path, content, tmpDir)
      }
      const start = () =>
        InProcess.make(
          VolumeLocal.layer({ root: s.root, stateDir: s.stateDir, now }).pipe(
            Layer.provide(Layer.succeed(VolumeFs.VolumeFs, fsyncFails))
          )
        )
      yield* Effect.scoped(
        Effect.gen(function* () {
          const p = yield* start()
          expect(yield* call(p, "Create", { Name: "kept", Opts: null })).toEqual({})
          failAfterRename = true
          expect((yield* call(p, "Create", { Name: "failed", Opts: null })).Err).toMatch(/EIO/)
          // Every write fails after its rename here, the write-back of the previous state included: that one is
          // on the disk all the same (what a real EIO on fsync leaves is not known, the rename usually stands).
          expect((yield* call(p, "Mount", { Name: "kept", ID: "m1" })).Err).toMatch(/EIO/)
          expect((yield* call(p, "Get", { Name: "kept" })).Volume.Status.mounts).toBe(0)
          failAfterRename = false
        })
      )
      const p = yield* start()
      expect((yield* call(p, "List", {})).Volumes.map((v: { Name: string }) => v.Name)).toEqual(["kept"])
      expect((yield* call(p, "Get", { Name: "kept" })).Volume.Status.mounts).toBe(0)
      expect(yield* call(p, "Remove", { Name: "kept" })).toEqual({})
    })
  )

  it.effect("a failed state write leaves the mount count unchanged", () =>
    Effect.gen(function* () {
      let failWrites = false
      const s = memoryStorage((op) => (failWrites && op === "writeFileAtomic" ? "ENOSPC: no space left" : undefined))
      const p = yield* started(s)
      yield* call(p, "Create", { Name: "v", Opts: null })
      failWrites = true
      expect((yield* call(p, "Mount", { Name: "v", ID: "a" })).Err).toMatch(/ENOSPC/)
      failWrites = false
      expect((yield* call(p, "Get", { Name: "v" })).Volume.Status.mounts).toBe(0)
    })
  )
})

describe("volume-local with its state folder inside the root (memory VolumeFs)", () => {
  /** A driver over `mem` whose root holds the state folder. */
  const startAt = (mem: VolumeFsMemory.MemoryFs, root: string, stateDir: string) =>
    InProcess.make(
      VolumeLocal.layer({ root, stateDir, now }).pipe(Layer.provide(Layer.succeed(VolumeFs.VolumeFs, mem.service)))
    )
  const stateFiles = (mem: VolumeFsMemory.MemoryFs, stateDir: string) =>
    mem
      .entries()
      .map(([path]) => path)
      .filter((path) => path.startsWith(`${stateDir}/volumes/`))

  it.effect("refuses a volume whose folder would be the state folder, and keeps the state", () =>
    Effect.gen(function* () {
      const mem = VolumeFsMemory.make({})
      const p = yield* startAt(mem, "/srv/volumes", "/srv/volumes/state")
      yield* call(p, "Create", { Name: "v1", Opts: null })
      const before = stateFiles(mem, "/srv/volumes/state")
      expect(before).toEqual(["/srv/volumes/state/volumes/v1"])
      expect(yield* call(p, "Create", { Name: "state", Opts: null })).toEqual({
        Err:
          'invalid Name: "state" would use the folder /srv/volumes/state, which holds the driver\'s state ' +
          "/srv/volumes/state"
      })
      expect(yield* call(p, "Path", { Name: "state" })).toEqual({ Err: "no such volume: state" })
      expect((yield* call(p, "Remove", { Name: "state" })).Err).toMatch(/^invalid Name: "state" would use the folder/)
      expect((yield* call(p, "Mount", { Name: "state", ID: "c" })).Err).toMatch(/^invalid Name: "state"/)
      expect(stateFiles(mem, "/srv/volumes/state")).toEqual(before)
      expect((yield* call(p, "List", {})).Volumes.map((v: { Name: string }) => v.Name)).toEqual(["v1"])
      // Other names are unaffected, a prefix of the state folder's name included.
      expect(yield* call(p, "Create", { Name: "stat", Opts: null })).toEqual({})
      expect(yield* call(p, "Create", { Name: "state2", Opts: null })).toEqual({})
    })
  )

  it.effect("refuses a volume whose folder would hold a deeper state folder", () =>
    Effect.gen(function* () {
      const mem = VolumeFsMemory.make({})
      const p = yield* startAt(mem, "/srv/volumes/", "/srv/volumes/a/../a/state")
      yield* call(p, "Create", { Name: "v1", Opts: null })
      expect((yield* call(p, "Create", { Name: "a", Opts: null })).Err).toBe(
        'invalid Name: "a" would use the folder /srv/volumes/a, which holds the driver\'s state /srv/volumes/a/state'
      )
      expect((yield* call(p, "Remove", { Name: "a" })).Err).toMatch(/^invalid Name: "a"/)
      expect(stateFiles(mem, "/srv/volumes/a/state")).toEqual(["/srv/volumes/a/state/volumes/v1"])
    })
  )

  it.effect("with the state folder as the root, its own folders are neither volumes nor names to create", () =>
    Effect.gen(function* () {
      // The state files live in STATE/volumes and STATE/tmp: with STATE as the root, a volume named `volumes` is
      // the folder of every state file (adopted at start, then erased by its Remove).
      const mem = VolumeFsMemory.make({})
      const p = yield* startAt(mem, "/srv/data", "/srv/data")
      expect((yield* call(p, "List", {})).Volumes).toEqual([])
      yield* call(p, "Create", { Name: "v1", Opts: null })
      expect(yield* call(p, "Create", { Name: "volumes", Opts: null })).toEqual({
        Err:
          'invalid Name: "volumes" would use the folder /srv/data/volumes, which holds the driver\'s state ' +
          "/srv/data/volumes"
      })
      expect((yield* call(p, "Remove", { Name: "volumes" })).Err).toMatch(/^invalid Name: "volumes" would use/)
      expect((yield* call(p, "Mount", { Name: "tmp", ID: "c" })).Err).toMatch(/^invalid Name: "tmp" would use/)
      expect(stateFiles(mem, "/srv/data")).toEqual(["/srv/data/volumes/v1"])
      expect((yield* call(p, "List", {})).Volumes.map((v: { Name: string }) => v.Name)).toEqual(["v1"])
    })
  )

  it.effect("refuses to start with the root inside a folder of state files", () =>
    Effect.gen(function* () {
      // `--state-dir /srv` puts the state files in /srv/volumes: a volume's folder would be its state file's path
      // (every Create failed with EEXIST); and a root at /srv/tmp was emptied at every start.
      for (const root of ["/srv/volumes", "/srv/tmp", "/srv/volumes/deeper"]) {
        const mem = VolumeFsMemory.make({})
        yield* mem.service.makeDirectory(`${root}/kept`)
        const exit = yield* Effect.exit(
          Layer.build(
            VolumeLocal.layer({ root, stateDir: "/srv", now }).pipe(
              Layer.provide(Layer.succeed(VolumeFs.VolumeFs, mem.service))
            )
          )
        )
        expect(Exit.isFailure(exit)).toBe(true)
        expect(String(Exit.isFailure(exit) ? exit.cause : "")).toContain(`invalid root: ${root} is in the folder`)
        expect((yield* mem.service.stat(`${root}/kept`))?.type).toBe("Directory")
      }
    })
  )

  it.effect("a record named after the state folder does not have its mode applied to it at start-up", () =>
    Effect.gen(function* () {
      // Recorded before such names were refused: start-up found no volume folder (the state folder is skipped) and
      // "recreated" it over the state folder, with the volume's mode: 0777 opened every state file to all.
      const mem = VolumeFsMemory.make({})
      const stateDir = "/srv/volumes/state"
      yield* Effect.scoped(Effect.flatMap(startAt(mem, "/srv/volumes", stateDir), (p) => call(p, "List", {})))
      const record = { name: "state", options: { mode: "0777" }, createdAt, mounts: [] }
      yield* mem.service.writeFileAtomic(
        Path.join(stateDir, "volumes", "state"),
        VolumeState.encode(record, {}),
        Path.join(stateDir, "tmp")
      )
      const p = yield* startAt(mem, "/srv/volumes", stateDir)
      expect((yield* call(p, "List", {})).Volumes.map((v: { Name: string }) => v.Name)).toEqual(["state"])
      expect((yield* mem.service.stat(stateDir))?.mode).toBe(0o755)
      expect((yield* call(p, "Mount", { Name: "state", ID: "c" })).Err).toMatch(/^invalid Name: "state" would use/)
    })
  )

  it.effect("a recorded size that no longer validates loses only the size hint", () =>
    Effect.gen(function* () {
      const s = memoryStorage()
      const options = { mode: "0700", "label.team": "infra" }
      yield* Effect.scoped(Effect.flatMap(started(s), (p) => call(p, "Create", { Name: "old", Opts: options })))
      // As an earlier version, which took size=0, recorded it; and the folder went missing meanwhile.
      const record = { name: "old", options: { ...options, size: "0" }, createdAt, mounts: [] }
      yield* s.fs.writeFileAtomic(
        Path.join(s.stateDir, "volumes", "old"),
        VolumeState.encode(record, { team: "infra" }),
        Path.join(s.stateDir, "tmp")
      )
      yield* s.fs.removeTree(Path.join(s.root, "old"))
      const p = yield* started(s)
      expect((yield* call(p, "Get", { Name: "old" })).Volume.Status).toEqual({
        mounts: 0,
        options: record.options,
        labels: { team: "infra" }
      })
      expect((yield* s.fs.stat(Path.join(s.root, "old")))?.mode).toBe(0o700)
    })
  )
})

describe("holdsStateDir", () => {
  it("is true for the state folder itself and the folders above it only", () => {
    expect(VolumeLocal.holdsStateDir("/srv/volumes/state", "/srv/volumes/state")).toBe(true)
    expect(VolumeLocal.holdsStateDir("/srv/volumes/a", "/srv/volumes/a/state")).toBe(true)
    expect(VolumeLocal.holdsStateDir("/srv/volumes/a", "/srv/volumes/ab/state")).toBe(false)
    expect(VolumeLocal.holdsStateDir("/srv/volumes/state", "/srv/state")).toBe(false)
    expect(VolumeLocal.holdsStateDir("/srv/volumes/v", "/srv/volumes")).toBe(false)
  })
})

describe("volume-local answers Get and List with a CreatedAt the daemon decodes (memory VolumeFs)", () => {
  it.effect("a time that is not RFC 3339 is left out instead of failing every Get and List", () =>
    Effect.gen(function* () {
      // The daemon refuses a whole answer whose CreatedAt does not parse: one odd volume hid them all. A folder
      // adopted with an mtime after the year 9999 (`+010000-...`), a state file with an empty or hand-edited time.
      const mem = VolumeFsMemory.make({ now: () => new Date("+010000-01-01T00:00:00Z") })
      const root = "/srv/volumes"
      const stateDir = "/srv/state"
      yield* mem.service.makeDirectory(Path.join(root, "future"))
      yield* mem.service.makeDirectory(Path.join(stateDir, "volumes"))
      for (const [name, time] of [
        ["empty", ""],
        ["edited", "21/11/2026"],
        ["fine", createdAt]
      ] as const) {
        const state = { version: 1, name, options: {}, labels: {}, createdAt: time, mounts: [] }
        yield* mem.service.writeFileAtomic(Path.join(stateDir, "volumes", name), JSON.stringify(state), "/srv/tmp")
        yield* mem.service.makeDirectory(Path.join(root, name))
      }
      const p = yield* InProcess.make(
        VolumeLocal.layer({ root, stateDir, now }).pipe(Layer.provide(Layer.succeed(VolumeFs.VolumeFs, mem.service)))
      )
      const list = yield* call(p, "List", {})
      expect(list.Err).toBeUndefined()
      expect(
        Object.fromEntries(list.Volumes.map((v: { Name: string; CreatedAt?: string }) => [v.Name, v.CreatedAt]))
      ).toEqual({ edited: undefined, empty: undefined, fine: createdAt, future: undefined })
      for (const name of ["future", "empty", "edited"]) {
        const got = yield* call(p, "Get", { Name: name })
        expect(got.Err).toBeUndefined()
        expect(got.Volume).not.toHaveProperty("CreatedAt")
      }
      expect((yield* call(p, "Get", { Name: "fine" })).Volume.CreatedAt).toBe(createdAt)
    })
  )
})

describe("volume-local on a full disk (Node VolumeFs, state folder on a small tmpfs)", () => {
  it.effect.skipIf(!canMount)(
    "a Mount or Create that cannot write its state changes nothing, on disk or in memory",
    () =>
      Effect.gen(function* () {
        const base = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-volume-local-"))
        tempDirs.push(base)
        const root = Path.join(base, "volumes")
        const stateDir = Path.join(base, "state")
        Fs.mkdirSync(stateDir)
        yield* mountTmpfs(stateDir, "16k")
        const stateFile = Path.join(stateDir, "volumes", "v1")
        const start = () => InProcess.make(Layer.fresh(VolumeLocal.layerNode({ root, stateDir, now })))
        yield* Effect.scoped(
          Effect.gen(function* () {
            const p = yield* start()
            expect(yield* call(p, "Create", { Name: "v1", Opts: null })).toEqual({})
            expect(yield* call(p, "Mount", { Name: "v1", ID: "a" })).toEqual({ Mountpoint: Path.join(root, "v1") })
            const before = Fs.readFileSync(stateFile, "utf8")
            // Every page left taken.
            const filler = Fs.openSync(Path.join(stateDir, "filler"), "w")
            try {
              for (;;) Fs.writeSync(filler, Buffer.alloc(1024))
            } catch (e) {
              expect((e as NodeJS.ErrnoException).code).toBe("ENOSPC")
            } finally {
              Fs.closeSync(filler)
            }
            expect((yield* call(p, "Mount", { Name: "v1", ID: "b" })).Err).toMatch(/ENOSPC/)
            expect((yield* call(p, "Unmount", { Name: "v1", ID: "a" })).Err).toMatch(/ENOSPC/)
            expect((yield* call(p, "Create", { Name: "v2", Opts: null })).Err).toMatch(/ENOSPC/)
            expect(Fs.readFileSync(stateFile, "utf8")).toBe(before)
            expect(Fs.readdirSync(Path.join(stateDir, "tmp"))).toEqual([])
            expect(Fs.readdirSync(Path.join(stateDir, "volumes"))).toEqual(["v1"])
            expect(Fs.existsSync(Path.join(root, "v2"))).toBe(false)
            expect((yield* call(p, "Get", { Name: "v1" })).Volume.Status.mounts).toBe(1)
            expect(yield* call(p, "Get", { Name: "v2" })).toEqual({ Err: "no such volume: v2" })
            Fs.rmSync(Path.join(stateDir, "filler"))
            expect(yield* call(p, "Unmount", { Name: "v1", ID: "a" })).toEqual({})
          })
        )
        const p = yield* start()
        expect((yield* call(p, "Get", { Name: "v1" })).Volume.Status.mounts).toBe(0)
        expect(yield* call(p, "Remove", { Name: "v1" })).toEqual({})
      }).pipe(Effect.scoped)
  )
})

describe("volume-local with its state folder reached through a symlink (Node VolumeFs)", () => {
  it.effect("the state folder inside the root through a link is not adopted, nor a name to create", () =>
    Effect.gen(function* () {
      // `--root /srv/volumes --state-dir /var/lib/dpk/state` with /var/lib/dpk a link to /srv/volumes: the texts
      // differ, the folders do not. The state folder was adopted as the volume "state", whose Remove erased it all.
      const base = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-volume-local-"))
      tempDirs.push(base)
      const root = Path.join(base, "volumes")
      Fs.mkdirSync(root)
      Fs.symlinkSync(root, Path.join(base, "link"))
      const stateDir = Path.join(base, "link", "state")
      const start = () => InProcess.make(Layer.fresh(VolumeLocal.layerNode({ root, stateDir, now })))
      yield* Effect.scoped(
        Effect.gen(function* () {
          const p = yield* start()
          expect(yield* call(p, "List", {})).toEqual({ Volumes: [] })
          expect((yield* call(p, "Create", { Name: "state", Opts: null })).Err).toMatch(
            /^invalid Name: "state" would use the folder .*, which holds the driver's state/
          )
          expect(yield* call(p, "Create", { Name: "v1", Opts: null })).toEqual({})
        })
      )
      const p = yield* start()
      expect((yield* call(p, "List", {})).Volumes.map((v: { Name: string }) => v.Name)).toEqual(["v1"])
      expect((yield* call(p, "Remove", { Name: "state" })).Err).toMatch(/^invalid Name: "state"/)
      expect(Fs.existsSync(Path.join(root, "state", "volumes", "v1"))).toBe(true)
    })
  )

  it.effect("a root inside the temporary folder of the state through a link is refused before it is emptied", () =>
    Effect.gen(function* () {
      const base = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-volume-local-"))
      tempDirs.push(base)
      const stateDir = Path.join(base, "state")
      Fs.mkdirSync(Path.join(stateDir, "tmp", "volumes"), { recursive: true })
      Fs.writeFileSync(Path.join(stateDir, "tmp", "volumes", "data"), "x")
      Fs.symlinkSync(Path.join(stateDir, "tmp"), Path.join(base, "link"))
      const root = Path.join(base, "link", "volumes")
      const exit = yield* Effect.exit(InProcess.make(Layer.fresh(VolumeLocal.layerNode({ root, stateDir, now }))))
      expect(String(exit)).toContain(`${root} is in the folder ${Fs.realpathSync(Path.join(stateDir, "tmp"))}`)
      expect(Fs.readFileSync(Path.join(stateDir, "tmp", "volumes", "data"), "utf8")).toBe("x")
    }).pipe(Effect.scoped)
  )
})

describe("volume-local with a symlink or a file in a volume folder's place (Node VolumeFs)", () => {
  const notAFolder = "it is not a folder (a symlink or a file is in its place); remove it, or the volume"
  const modeOf = (path: string) => Fs.statSync(path).mode & 0o7777

  it.effect("refuses it at Create, Mount and start-up, and never changes or exposes what a link points to", () =>
    Effect.gen(function* () {
      // `mkdir -p` took a link to a folder for the folder: Create chmod-ed (and chown-ed) the link's target, and
      // Mount answered the link, which the daemon follows, handing /etc (say) to the container.
      const s = diskStorage()
      const outside = Path.join(Path.dirname(s.root), "outside")
      Fs.mkdirSync(outside, { mode: 0o755 })
      Fs.chmodSync(outside, 0o755)
      Fs.writeFileSync(Path.join(outside, "keep"), "x")
      Fs.mkdirSync(s.root, { recursive: true })
      yield* Effect.scoped(
        Effect.gen(function* () {
          const p = yield* started(s)
          Fs.symlinkSync(outside, Path.join(s.root, "planted"))
          expect(yield* call(p, "Create", { Name: "planted", Opts: { mode: "0777" } })).toEqual({
            Err: `create ${Path.join(s.root, "planted")}: ${notAFolder}`
          })
          expect(yield* call(p, "Get", { Name: "planted" })).toEqual({ Err: "no such volume: planted" })
          expect(Fs.existsSync(Path.join(s.stateDir, "volumes", "planted"))).toBe(false)
          Fs.writeFileSync(Path.join(s.root, "file"), "")
          expect(yield* call(p, "Create", { Name: "file", Opts: null })).toEqual({
            Err: `create ${Path.join(s.root, "file")}: ${notAFolder}`
          })
          // Replaced between Create and Mount.
          yield* call(p, "Create", { Name: "swapped", Opts: null })
          Fs.rmdirSync(Path.join(s.root, "swapped"))
          Fs.symlinkSync(outside, Path.join(s.root, "swapped"))
          expect(yield* call(p, "Mount", { Name: "swapped", ID: "c1" })).toEqual({
            Err: `mount ${Path.join(s.root, "swapped")}: ${notAFolder}`
          })
          expect((yield* call(p, "Get", { Name: "swapped" })).Volume.Status.mounts).toBe(0)
          yield* call(p, "Create", { Name: "restarted", Opts: { mode: "0700" } })
        })
      )
      // Replaced while the driver was down: start-up used to recreate it through the link, with its mode.
      Fs.rmdirSync(Path.join(s.root, "restarted"))
      Fs.symlinkSync(outside, Path.join(s.root, "restarted"))
      const p = yield* started(s)
      expect((yield* call(p, "List", {})).Volumes.map((v: { Name: string }) => v.Name).sort()).toEqual([
        "restarted",
        "swapped"
      ])
      expect(yield* call(p, "Mount", { Name: "restarted", ID: "c2" })).toEqual({
        Err: `mount ${Path.join(s.root, "restarted")}: ${notAFolder}`
      })
      expect(modeOf(outside)).toBe(0o755)
      // Remove takes the link away, not what it points to.
      expect(yield* call(p, "Remove", { Name: "restarted" })).toEqual({})
      expect(yield* call(p, "Remove", { Name: "swapped" })).toEqual({})
      expect(Fs.readdirSync(outside)).toEqual(["keep"])
    })
  )

  it.effect("VolumeFsNode.makeDirectory does not chmod through a symlink", () =>
    Effect.gen(function* () {
      const s = diskStorage()
      const outside = Path.join(Path.dirname(s.root), "outside")
      Fs.mkdirSync(outside, { mode: 0o755 })
      Fs.chmodSync(outside, 0o755)
      Fs.symlinkSync(outside, Path.join(Path.dirname(s.root), "link"))
      const error = yield* Effect.flip(s.fs.makeDirectory(Path.join(Path.dirname(s.root), "link"), { mode: 0o777 }))
      expect(error.message).toBe(
        `mkdir ${Path.join(Path.dirname(s.root), "link")}: it is not a folder (a symlink or a file is in its place)`
      )
      expect(modeOf(outside)).toBe(0o755)
    })
  )
})

describe("volume-local's state folder owner (Node VolumeFs)", () => {
  it.effect("refuses to start on a state folder a live other process owns, naming the folder and the pid", () =>
    Effect.gen(function* () {
      // Two `dpk serve volume-local` on one --state-dir overwrote each other's state files.
      const s = diskStorage()
      const pid = yield* liveProcess
      Fs.mkdirSync(s.stateDir, { recursive: true })
      Fs.writeFileSync(Path.join(s.stateDir, "owner.pid"), `${pid}\n`)
      const error = yield* Effect.flip(Effect.scoped(Layer.build(s.start())))
      expect(error).toMatchObject({ _tag: "StateFolderInUse", folder: s.stateDir, owner: pid })
      expect(error.message).toBe(
        `state folder ${s.stateDir} is in use by process ${pid}; stop that plugin first, or give this one its own ` +
          "state folder (--state-dir)"
      )
      // Refused before the state was loaded: nothing was made in the folder.
      expect(Fs.readdirSync(s.stateDir)).toEqual(["owner.pid"])
    })
  )

  it.effect("a second driver on the folder in this process is refused; a stopped one gives the folder up", () =>
    Effect.gen(function* () {
      const s = diskStorage()
      yield* Effect.scoped(
        Effect.gen(function* () {
          const p = yield* started(s)
          yield* call(p, "Create", { Name: "v", Opts: null })
          const error = yield* Effect.flip(Effect.scoped(Layer.build(s.start())))
          expect(error).toMatchObject({ _tag: "StateFolderInUse", inThisProcess: true })
          expect(error.message).toContain(`state folder ${s.stateDir} is already used by another driver`)
          expect((yield* call(p, "List", {})).Volumes.map((v: { Name: string }) => v.Name)).toEqual(["v"])
        })
      )
      expect(Fs.existsSync(Path.join(s.stateDir, "owner.pid"))).toBe(false)
      const p = yield* started(s)
      expect((yield* call(p, "List", {})).Volumes.map((v: { Name: string }) => v.Name)).toEqual(["v"])
    })
  )

  it.effect("the memory filesystem claims nothing and writes no owner file", () =>
    Effect.gen(function* () {
      const mem = VolumeFsMemory.make({})
      const start = () =>
        InProcess.make(
          VolumeLocal.layer({ root: "/srv/volumes", stateDir: "/srv/state", now }).pipe(
            Layer.provide(Layer.succeed(VolumeFs.VolumeFs, mem.service))
          )
        )
      yield* start()
      yield* start()
      expect(mem.entries().map(([path]) => path)).not.toContain("/srv/state/owner.pid")
    })
  )
})
