/**
 * volume-local and volume-memory driven by the real docker CLI against a private Engine 20.10, with the plugin
 * served in this process on /run/docker/plugins/<unique>.sock.
 */
import { VolumeLocal, VolumeMemory } from "@docker-plugin-kit/drivers"
import { DockerEngine } from "@docker-plugin-kit/testkit"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { inspect, type Recorded, recording, type Served, serve, uniqueName } from "../../support/engine.ts"

const shared = await DockerEngine.shared()
const engine = shared.engine!
afterAll(() => shared.close())

/** Starts a container that holds `volume` at /data until it is removed; answers its ID. */
const runDetached = (volume: string) =>
  engine.docker("run", "-d", "--network", "none", "-v", `${volume}:/data`, engine.image, "sleep", "300")

describe.skipIf(shared.engine === undefined)("volume-local against Docker Engine 20.10", () => {
  const name = uniqueName("dpk-e2e-local")
  const base =
    // Vitest runs a skipped describe's body too: no folder where the engine cannot run (its hooks do not).
    shared.engine === undefined ? "" : Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-e2e-local-"))
  const root = Path.join(base, "volumes")
  const calls: Array<Recorded> = []
  let plugin: Served
  const run = (...args: ReadonlyArray<string>) => engine.docker("run", "--rm", "--network", "none", ...args)
  const callsOf = (endpoint: string, volume: string) =>
    calls.filter((c) => c.endpoint === endpoint && c.request.Name === volume)

  beforeAll(async () => {
    plugin = await serve(name, recording(VolumeLocal.layerNode({ root, stateDir: Path.join(base, "state") }), calls))
  })
  afterAll(async () => {
    await plugin?.close()
    Fs.rmSync(base, { recursive: true, force: true })
  })

  it.effect("volume create -o, ls, inspect (driver, mountpoint, options, status), rm", () =>
    Effect.gen(function* () {
      yield* engine.docker(
        "volume",
        "create",
        "-d",
        name,
        "-o",
        "size=1G",
        "-o",
        "mode=0750",
        "-o",
        "label.team=e2e",
        "data1"
      )
      expect(callsOf("create", "data1").map((c) => c.request.Opts)).toEqual([
        { "label.team": "e2e", mode: "0750", size: "1G" }
      ])
      const ls = yield* engine.docker("volume", "ls", "--filter", `driver=${name}`, "--format", "{{.Driver}} {{.Name}}")
      expect(ls.split("\n")).toEqual([`${name} data1`])
      const info = yield* inspect(engine, "data1")
      expect(info).toMatchObject({
        Name: "data1",
        Driver: name,
        Mountpoint: Path.join(root, "data1"),
        Options: { size: "1G", mode: "0750", "label.team": "e2e" },
        Scope: "local",
        Status: { mounts: 0, size: "1G", sizeBytes: 2 ** 30, labels: { team: "e2e" } }
      })
      // The daemon re-formats our RFC 3339 CreatedAt to whole seconds.
      expect(info.CreatedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/)
      expect(Fs.statSync(Path.join(root, "data1")).mode & 0o7777).toBe(0o750)
      yield* engine.docker("volume", "rm", "data1")
      expect(Fs.existsSync(Path.join(root, "data1"))).toBe(false)
      expect(callsOf("remove", "data1")).toHaveLength(1)
      const after = yield* engine.dockerResult("volume", "inspect", "data1")
      expect(after.exitCode).not.toBe(0)
    })
  )

  it.effect("a file written by one container is in the host folder and seen by the next container", () =>
    Effect.gen(function* () {
      yield* engine.docker("volume", "create", "-d", name, "shared1")
      yield* run("-v", "shared1:/data", engine.image, "sh", "-c", "echo hello from container one > /data/greeting")
      expect(Fs.readFileSync(Path.join(root, "shared1", "greeting"), "utf8")).toBe("hello from container one\n")
      expect(yield* run("-v", "shared1:/data", engine.image, "cat", "/data/greeting")).toBe("hello from container one")
      // Each run mounted and unmounted with its own ID.
      const mounts = callsOf("mount", "shared1")
      expect(mounts).toHaveLength(2)
      expect(new Set(mounts.map((c) => c.request.ID)).size).toBe(2)
      expect(
        callsOf("unmount", "shared1")
          .map((c) => c.request.ID)
          .sort()
      ).toEqual(mounts.map((c) => c.request.ID).sort())
      expect((yield* inspect(engine, "shared1")).Status.mounts).toBe(0)
    })
  )

  it.effect("two containers hold the volume at once: two mount IDs, count 2, back to 0 after both stop", () =>
    Effect.gen(function* () {
      yield* engine.docker("volume", "create", "-d", name, "both")
      const c1 = yield* runDetached("both")
      const c2 = yield* runDetached("both")
      expect((yield* inspect(engine, "both")).Status.mounts).toBe(2)
      const ids = callsOf("mount", "both").map((c) => c.request.ID)
      expect(new Set(ids).size).toBe(2)
      // The engine itself refuses to remove a volume that containers use; our Remove is never called.
      const refused = yield* engine.dockerResult("volume", "rm", "both")
      expect(refused.exitCode).not.toBe(0)
      expect(refused.stderr).toMatch(/volume is in use/)
      expect(callsOf("remove", "both")).toHaveLength(0)
      yield* engine.docker("rm", "-f", c1)
      expect((yield* inspect(engine, "both")).Status.mounts).toBe(1)
      yield* engine.docker("rm", "-f", c2)
      expect((yield* inspect(engine, "both")).Status.mounts).toBe(0)
      expect(
        callsOf("unmount", "both")
          .map((c) => c.request.ID)
          .sort()
      ).toEqual([...ids].sort())
      yield* engine.docker("volume", "rm", "both")
    })
  )

  it.effect("docker cp mounts the running container's ID again and unmounts it once: the count stays 1", () =>
    Effect.gen(function* () {
      yield* engine.docker("volume", "create", "-d", name, "copied")
      const container = yield* runDetached("copied")
      expect((yield* inspect(engine, "copied")).Status.mounts).toBe(1)
      const [id] = callsOf("mount", "copied").map((c) => c.request.ID)
      const host = Fs.mkdtempSync(Path.join(base, "cp-"))
      Fs.writeFileSync(Path.join(host, "in.txt"), "copied in\n")
      // Every docker cp mounts the container's own ID again (copying in, 20.10 does it twice) and unmounts it
      // once per mount it made: the container's hold must survive each step.
      const held = () =>
        Effect.gen(function* () {
          const mounts = callsOf("mount", "copied").map((c) => c.request.ID)
          const unmounts = callsOf("unmount", "copied").map((c) => c.request.ID)
          expect(new Set([...mounts, ...unmounts])).toEqual(new Set([id]))
          expect(mounts.length - unmounts.length).toBe(1)
          expect((yield* inspect(engine, "copied")).Status.mounts).toBe(1)
          return mounts.length
        })
      yield* engine.docker("cp", Path.join(host, "in.txt"), `${container}:/data/in.txt`)
      expect(Fs.readFileSync(Path.join(root, "copied", "in.txt"), "utf8")).toBe("copied in\n")
      const afterIn = yield* held()
      expect(afterIn).toBeGreaterThan(1)
      yield* engine.docker("cp", `${container}:/data/in.txt`, Path.join(host, "out.txt"))
      expect(Fs.readFileSync(Path.join(host, "out.txt"), "utf8")).toBe("copied in\n")
      expect(yield* held()).toBeGreaterThan(afterIn)
      yield* engine.docker("rm", "-f", container)
      expect((yield* inspect(engine, "copied")).Status.mounts).toBe(0)
      expect(callsOf("unmount", "copied").filter((c) => c.error !== undefined)).toEqual([])
      yield* engine.docker("volume", "rm", "copied")
    })
  )

  it.effect("errors of the driver reach the docker CLI verbatim", () =>
    Effect.gen(function* () {
      const badOption = yield* engine.dockerResult("volume", "create", "-d", name, "-o", "colour=red", "bad1")
      expect(badOption.exitCode).not.toBe(0)
      expect(badOption.stderr).toContain(
        'create bad1: VolumeDriver.Create: invalid options: unknown option "colour" (known: uid, gid, mode, size, label.<name>)'
      )
      const badMode = yield* engine.dockerResult("volume", "create", "-d", name, "-o", "mode=rwx", "bad2")
      expect(badMode.stderr).toContain('invalid options: option "mode": expected octal permission bits such as 0755')
      // The daemon does not validate plugin volume names; the driver refuses the ones that would escape its root.
      const escaping = yield* engine.dockerResult("volume", "create", "-d", name, "..")
      expect(escaping.exitCode).not.toBe(0)
      expect(escaping.stderr).toContain('invalid Name: ".." would escape the volume root')
      expect(Fs.readdirSync(root).filter((n) => n.startsWith("bad") || n === "..")).toEqual([])
    })
  )

  it.effect("a symlink planted at a volume's folder is refused at mount: the container never sees its target", () =>
    Effect.gen(function* () {
      yield* engine.docker("volume", "create", "-d", name, "planted")
      const outside = Fs.mkdtempSync(Path.join(base, "outside-"))
      Fs.writeFileSync(Path.join(outside, "secret"), "host only\n")
      // Someone with access to the root swaps the volume's folder for a link to a host folder.
      Fs.rmSync(Path.join(root, "planted"), { recursive: true })
      Fs.symlinkSync(outside, Path.join(root, "planted"))
      const read = yield* engine.dockerResult(
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        "planted:/data",
        engine.image,
        "cat",
        "/data/secret"
      )
      expect(read.exitCode).not.toBe(0)
      expect(read.stdout).not.toContain("host only")
      expect(read.stderr).toContain(
        `mount ${Path.join(root, "planted")}: it is not a folder (a symlink or a file is in its place)`
      )
      // Remove takes the link away, not what it points to.
      yield* engine.docker("volume", "rm", "planted")
      expect(Fs.existsSync(Path.join(root, "planted"))).toBe(false)
      expect(Fs.readFileSync(Path.join(outside, "secret"), "utf8")).toBe("host only\n")
    })
  )
})

describe.skipIf(shared.engine === undefined)("volume-memory against Docker Engine 20.10", () => {
  const name = uniqueName("dpk-e2e-memory")
  let plugin: Served
  beforeAll(async () => {
    plugin = await serve(name, VolumeMemory.layer({ mountRoot: "/run/dpk-e2e-memory" }))
  })
  afterAll(() => plugin?.close())

  it.effect("create, ls, inspect, rm", () =>
    Effect.gen(function* () {
      yield* engine.docker("volume", "create", "-d", name, "-o", "anything=goes", "mem1")
      const ls = yield* engine.docker("volume", "ls", "--filter", `driver=${name}`, "--format", "{{.Name}}")
      expect(ls).toBe("mem1")
      expect(yield* inspect(engine, "mem1")).toMatchObject({
        Driver: name,
        Mountpoint: "/run/dpk-e2e-memory/mem1",
        Options: { anything: "goes" },
        Status: { mounts: 0, options: { anything: "goes" } }
      })
      yield* engine.docker("volume", "rm", "mem1")
      expect(yield* engine.docker("volume", "ls", "--filter", `driver=${name}`, "--format", "{{.Name}}")).toBe("")
    })
  )
})
