/**
 * `dpk package` against a private Docker Engine 20.10: the reference volume driver packaged as a managed plugin,
 * created, enabled and used by containers, then disabled and removed.
 */
import { DockerEngine } from "@docker-plugin-kit/testkit"
import { afterAll, describe, expect, it } from "@effect/vitest"
import * as Http from "node:http"
import * as Net from "node:net"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as PluginConfig from "../../src/managed/PluginConfig.ts"
import { dpk } from "../support.ts"

const shared = await DockerEngine.shared()
const engine = shared.engine!
afterAll(() => shared.close())

describe.skipIf(shared.engine === undefined)("managed plugins against Docker Engine 20.10", () => {
  const base =
    // Vitest runs a skipped describe's body too: no folder where the engine cannot run (its hooks do not).
    shared.engine === undefined ? "" : Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-e2e-package-"))
  afterAll(() => Fs.rmSync(base, { recursive: true, force: true }))

  it.effect(
    "volume-local packaged: create, enable, a volume written by one container and read by the next, disable, rm",
    () =>
      Effect.gen(function* () {
        const name = `dpk-e2e-vl-${process.pid}-${Math.random().toString(36).slice(2, 6)}`
        const dir = Path.join(base, "volume-local")
        const packaged = dpk("package", "volume-local", "--name", name, "--out", dir)
        expect(packaged.status, packaged.stderr).toBe(0)
        const config = JSON.parse(Fs.readFileSync(Path.join(dir, "config.json"), "utf8"))
        expect(config.Interface).toEqual({ Types: ["docker.volumedriver/1.0"], Socket: "plugin.sock" })
        expect(config.PropagatedMount).toBe("/var/lib/docker-plugin-kit")

        const plugin = `${name}:latest`
        yield* engine.docker("plugin", "create", plugin, dir)
        yield* engine.docker("plugin", "enable", plugin)
        const listed = yield* engine.docker("plugin", "ls", "--format", "{{.Name}} {{.Enabled}}")
        expect(listed.split("\n")).toContain(`${plugin} true`)

        yield* engine.docker("volume", "create", "-d", plugin, "managed1")
        const run = (...args: ReadonlyArray<string>) =>
          engine.docker("run", "--rm", "--network", "none", "-v", "managed1:/data", engine.image, ...args)
        yield* run("sh", "-c", "echo written by a managed plugin > /data/note")
        expect(yield* run("cat", "/data/note")).toBe("written by a managed plugin")
        const inspected = JSON.parse(yield* engine.docker("volume", "inspect", "managed1"))[0]
        expect(inspected.Driver).toBe(plugin)
        // The plugin answers its own path; the daemon finds it under the plugin's propagated mount on the host.
        expect(inspected.Mountpoint).toBe("/var/lib/docker-plugin-kit/volumes/managed1")
        const id = yield* engine.docker("plugin", "inspect", "-f", "{{.Id}}", plugin)
        const dataRoot = yield* engine.docker("info", "-f", "{{.DockerRootDir}}")
        const onHost = Path.join(dataRoot, "plugins", id, "propagated-mount", "volumes", "managed1", "note")
        expect(Fs.readFileSync(onHost, "utf8")).toBe("written by a managed plugin\n")
        // Node kept the bundle's compiled code in the plugin's rootfs, for its next start.
        const cache = Path.join(dataRoot, "plugins", id, "rootfs", PluginConfig.compileCacheDir)
        expect(Fs.readdirSync(cache, { recursive: true }).length).toBeGreaterThan(1)

        // In use: the engine refuses to disable it.
        const refused = yield* engine.dockerResult("plugin", "disable", plugin)
        expect(refused.exitCode).not.toBe(0)
        yield* engine.docker("volume", "rm", "managed1")
        yield* engine.docker("plugin", "disable", plugin)
        yield* engine.docker("plugin", "rm", plugin)
        expect(yield* engine.docker("plugin", "ls", "--format", "{{.Name}}")).not.toContain(name)
      }),
    240_000
  )

  it.effect(
    "docker plugin set args reaches the driver; a plugin that cannot start shows its own error in the daemon's log",
    () =>
      Effect.gen(function* () {
        const name = `dpk-e2e-args-${process.pid}-${Math.random().toString(36).slice(2, 6)}`
        const dir = Path.join(base, "args")
        // What a plugin needs, given by flag: a read-only host folder, a capability and a settable variable.
        const seed = Path.join(base, "seed")
        Fs.mkdirSync(seed)
        const packaged = dpk(
          "package",
          "volume-memory",
          "--name",
          name,
          "--out",
          dir,
          "--mount",
          `${seed}:/seed:ro`,
          "--capability",
          "CAP_SYS_NICE",
          "--env",
          "DPK_E2E=from-flag"
        )
        expect(packaged.status, packaged.stderr).toBe(0)
        const plugin = `${name}:latest`
        yield* engine.docker("plugin", "create", plugin, dir)
        yield* engine.docker("plugin", "set", plugin, "DPK_E2E=set-by-user")
        const created = JSON.parse(yield* engine.docker("plugin", "inspect", plugin))[0]
        expect(created.Config.Mounts).toContainEqual(
          expect.objectContaining({
            Source: seed,
            Destination: "/seed",
            Options: ["rbind", "ro"],
            Settable: ["source"]
          })
        )
        expect(created.Config.Linux.Capabilities).toEqual(["CAP_SYS_NICE"])
        expect(created.Config.Env).toContainEqual(
          expect.objectContaining({ Name: "DPK_E2E", Value: "from-flag", Settable: ["value"] })
        )
        expect(created.Settings.Env).toContain("DPK_E2E=set-by-user")
        yield* engine.docker("plugin", "set", plugin, "args=--mount-root /set/by/user")
        yield* engine.docker("plugin", "enable", plugin)
        yield* engine.docker("volume", "create", "-d", plugin, "argvol")
        const inspected = JSON.parse(yield* engine.docker("volume", "inspect", "argvol"))[0]
        expect(inspected.Mountpoint).toBe("/set/by/user/argvol")
        yield* engine.docker("volume", "rm", "argvol")
        yield* engine.docker("plugin", "disable", plugin)

        yield* engine.docker("plugin", "set", plugin, "args=--no-such-flag")
        const failed = yield* engine.dockerResult("plugin", "enable", "--timeout", "5", plugin)
        expect(failed.exitCode).not.toBe(0)
        expect(engine.logTail(400)).toContain("no-such-flag")
        yield* engine.dockerResult("plugin", "disable", "-f", plugin)
        yield* engine.docker("plugin", "rm", "-f", plugin)
      }),
    240_000
  )

  it.effect(
    "metrics-proxy as a managed plugin: the engine starts it, and it serves the engine's metrics on its own address",
    () =>
      Effect.gen(function* () {
        const name = `dpk-e2e-metrics-${process.pid}-${Math.random().toString(36).slice(2, 6)}`
        const dir = Path.join(base, "metrics")
        const packaged = dpk("package", "metrics-proxy", "--name", name, "--out", dir)
        expect(packaged.status, packaged.stderr).toBe(0)
        const config = JSON.parse(Fs.readFileSync(Path.join(dir, "config.json"), "utf8"))
        expect(config.Interface.Types).toEqual(["docker.metricscollector/1.0"])
        const port = yield* Effect.promise(
          () =>
            new Promise<number>((resolve) => {
              const probe = Net.createServer().listen(0, "127.0.0.1", () => {
                const { port } = probe.address() as Net.AddressInfo
                probe.close(() => resolve(port))
              })
            })
        )
        const plugin = `${name}:latest`
        yield* engine.docker("plugin", "create", plugin, dir)
        yield* engine.docker("plugin", "set", plugin, `args=--listen 127.0.0.1:${port}`)
        yield* engine.docker("plugin", "enable", plugin)
        // The engine calls StartMetrics right after enabling; give the plugin a moment to be reachable.
        let scraped = { status: 0, body: "" }
        for (let i = 0; i < 50 && scraped.status !== 200; i++) {
          scraped = yield* Effect.promise(
            () =>
              new Promise<{ status: number; body: string }>((resolve) => {
                Http.get({ host: "127.0.0.1", port, path: "/metrics" }, (res) => {
                  let body = ""
                  res.on("data", (c: Buffer) => {
                    body += c.toString()
                  })
                  res.on("end", () => resolve({ status: res.statusCode ?? 0, body }))
                }).on("error", () => setTimeout(() => resolve({ status: 0, body: "" }), 200))
              })
          )
        }
        expect(scraped.status).toBe(200)
        expect(scraped.body).toContain("engine_daemon_")
        yield* engine.docker("plugin", "disable", plugin)
        yield* engine.docker("plugin", "rm", plugin)
      }),
    240_000
  )
})
