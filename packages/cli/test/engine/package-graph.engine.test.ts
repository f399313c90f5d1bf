/**
 * `dpk package graph-overlay` against a private Docker Engine 20.10 whose storage driver is the packaged plugin. The
 * daemon looks its storage driver up when it starts, among the managed plugins it restored and enabled just before
 * (`--experimental` only); so the daemon starts on vfs, the plugin is created and enabled, and the daemon is restarted
 * on the same data root with `--experimental -s NAME:latest`. The driver's home is then `Init`'s
 * `<PropagatedMount>/<NAME:latest>`, which the engine finds on the host under the plugin's `propagated-mount` folder.
 * The end goes back to vfs, where the plugin can be disabled and removed.
 */
import { DockerEngine } from "@docker-plugin-kit/testkit"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { dpk } from "../support.ts"

const shared = await DockerEngine.shared()
const engine = shared.engine!
afterAll(() => shared.close())

const propagatedMount = "/var/lib/docker-plugin-kit/graph"

/** A tar of a busybox rootfs (the image store is the storage driver's: the engine's own image is not on the plugin). */
const rootfsTar = (dir: string, busybox: string): string => {
  const root = Path.join(dir, "rootfs")
  Fs.mkdirSync(Path.join(root, "bin"), { recursive: true })
  Fs.mkdirSync(Path.join(root, "tmp"))
  Fs.copyFileSync(busybox, Path.join(root, "bin", "busybox"))
  Fs.chmodSync(Path.join(root, "bin", "busybox"), 0o755)
  for (const applet of ["sh", "cat", "echo", "sleep"]) Fs.symlinkSync("busybox", Path.join(root, "bin", applet))
  const tar = Path.join(dir, "rootfs.tar")
  const packed = ChildProcess.spawnSync("tar", ["-C", root, "-cf", tar, "."], { encoding: "utf8" })
  if (packed.status !== 0) throw new Error(`tar failed: ${packed.stderr}`)
  return tar
}

describe.skipIf(shared.engine === undefined)("graph-overlay as a managed storage-driver plugin on Engine 20.10", () => {
  // Made by the test, so that a skipped file leaves nothing behind.
  let base: string | undefined
  const name = `dpk-e2e-mgraph-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
  const plugin = `${name}:latest`

  afterAll(async () => {
    const quiet = (...a: ReadonlyArray<string>) => Effect.runPromise(Effect.ignore(engine.dockerResult(...a)))
    // A daemon on the plugin holds it: back to vfs (whatever the test left), then the plugin can go.
    await Effect.runPromise(Effect.ignore(engine.restartWith([])))
    await quiet("plugin", "disable", "-f", plugin)
    await quiet("plugin", "rm", "-f", plugin)
    if (base !== undefined) Fs.rmSync(base, { recursive: true, force: true })
  })

  it.live(
    "created and enabled on vfs, then the daemon's storage driver: import, run, diff, commit, a restart, rm and rmi, layers under the propagated mount",
    () =>
      Effect.gen(function* () {
        const work = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-e2e-mgraph-"))
        base = work
        const dir = Path.join(work, "plugin")
        const packaged = dpk("package", "graph-overlay", "--name", name, "--out", dir)
        expect(packaged.status, packaged.stderr).toBe(0)
        const config = JSON.parse(Fs.readFileSync(Path.join(dir, "config.json"), "utf8"))
        expect(config.Interface).toEqual({ Types: ["docker.graphdriver/1.0"], Socket: "plugin.sock" })
        expect(config.PropagatedMount).toBe(propagatedMount)
        expect(config.Linux.Capabilities).toEqual(["CAP_SYS_ADMIN"])

        yield* engine.docker("plugin", "create", plugin, dir)
        yield* engine.docker("plugin", "enable", plugin)
        const id = yield* engine.docker("plugin", "inspect", "-f", "{{.Id}}", plugin)
        const dataRoot = yield* engine.docker("info", "-f", "{{.DockerRootDir}}")
        const onHost = (inside: string) => {
          expect(inside.startsWith(`${propagatedMount}/`), inside).toBe(true)
          return Path.join(dataRoot, "plugins", id, "propagated-mount", inside.slice(propagatedMount.length))
        }
        const home = `${propagatedMount}/${plugin}`

        yield* engine.restartWith(["--experimental", "-s", plugin])
        expect(yield* engine.docker("info", "-f", "{{.Driver}}")).toBe(plugin)
        const status = () =>
          Effect.map(
            engine.docker("info", "-f", "{{json .DriverStatus}}"),
            (json) => new Map(JSON.parse(json) as Array<[string, string]>)
          )
        const before = yield* status()
        expect(before.get("Root Dir")).toBe(home)
        expect(before.get("Mode")).toBe("overlayfs")
        expect(before.get("Layers")).toBe("0")

        const image = `${name}-base:latest`
        const committed = `${name}-committed:latest`
        const tar = rootfsTar(work, engine.tools.busybox)
        yield* engine.docker("import", "--change", "ENV PATH=/bin", tar, image)
        const container = `${name}-writer`
        expect(
          yield* engine.docker(
            "run",
            "--name",
            container,
            "--network",
            "none",
            image,
            "sh",
            "-c",
            "echo written on a managed graph driver > /tmp/note && cat /tmp/note"
          )
        ).toBe("written on a managed graph driver")
        expect((yield* engine.docker("diff", container)).split("\n")).toEqual(["C /tmp", "A /tmp/note"])
        const inspected = JSON.parse(yield* engine.docker("inspect", container))[0]
        expect(inspected.GraphDriver.Name).toBe(plugin)
        // The container's upper folder, as the plugin names it, is on the host under the propagated mount.
        expect(Fs.readFileSync(Path.join(onHost(inspected.GraphDriver.Data.UpperDir), "tmp", "note"), "utf8")).toBe(
          "written on a managed graph driver\n"
        )

        yield* engine.docker("commit", container, committed)
        const layer = JSON.parse(yield* engine.docker("image", "inspect", committed))[0].GraphDriver
        expect(layer.Name).toBe(plugin)
        expect(Fs.readFileSync(Path.join(onHost(layer.Data.UpperDir), "tmp", "note"), "utf8")).toBe(
          "written on a managed graph driver\n"
        )
        expect(yield* engine.docker("run", "--rm", "--network", "none", committed, "cat", "/tmp/note")).toBe(
          "written on a managed graph driver"
        )

        // A running container's overlay, mounted in the plugin, is seen by the host where the engine looks for it.
        const running = yield* engine.docker("run", "-d", "--network", "none", committed, "sleep", "60")
        const merged = JSON.parse(yield* engine.docker("inspect", running))[0].GraphDriver.Data.MergedDir
        const mounts = Fs.readFileSync("/proc/self/mounts", "utf8").split("\n")
        expect(mounts.some((l) => l.startsWith(`overlay ${onHost(merged)} overlay `))).toBe(true)
        expect(Fs.readFileSync(Path.join(onHost(merged), "tmp", "note"), "utf8")).toBe(
          "written on a managed graph driver\n"
        )
        yield* engine.docker("rm", "-f", running)
        expect(Fs.readFileSync("/proc/self/mounts", "utf8")).not.toContain(onHost(merged))

        // The daemon restarts on the plugin: it restores and enables it before it looks its storage driver up.
        yield* engine.restart
        expect(yield* engine.docker("info", "-f", "{{.Driver}}")).toBe(plugin)
        expect(yield* engine.docker("start", "-a", container)).toBe("written on a managed graph driver")

        yield* engine.docker("rm", container)
        yield* engine.docker("rmi", committed, image)
        const after = yield* status()
        expect(after.get("Layers")).toBe("0")
        // No layer left: only the running plugin's claim on its root.
        expect(Fs.readdirSync(onHost(home))).toEqual(["owner.pid"])

        // In use as the storage driver: the engine refuses to disable it.
        const refused = yield* engine.dockerResult("plugin", "disable", plugin)
        expect(refused.exitCode).not.toBe(0)

        // Back on vfs, the plugin is free: disabled, then a daemon cannot start on it; removed with its folder.
        yield* engine.restartWith([])
        expect(yield* engine.docker("info", "-f", "{{.Driver}}")).toBe("vfs")
        yield* engine.docker("plugin", "disable", plugin)
        // Stopped cleanly, the plugin gave its root up.
        expect(Fs.readdirSync(onHost(home))).toEqual([])
        const failed = yield* Effect.flip(engine.restartWith(["--experimental", "-s", plugin]))
        expect(failed.message).toContain(`plugin ${plugin} found but disabled`)
        yield* engine.restartWith([])
        yield* engine.docker("plugin", "rm", plugin)
        expect(yield* engine.docker("plugin", "ls", "--format", "{{.Name}}")).not.toContain(name)
        expect(Fs.existsSync(Path.join(dataRoot, "plugins", id))).toBe(false)
        expect(Fs.readFileSync("/proc/self/mounts", "utf8")).not.toContain(Path.join(dataRoot, "plugins", id))
      }),
    300_000
  )
})
