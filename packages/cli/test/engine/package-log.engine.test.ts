/**
 * `dpk package log-file` against a private Docker Engine 20.10: the log driver as a managed plugin, created and
 * enabled, the logging driver of a container that prints on stdout and stderr, then everything removed. The daemon
 * makes each container's FIFO under the plugin's rootfs (`/run/docker/logging/ID` there) and names it by its path
 * inside the plugin in `StartLogging`. The files go to a folder of this run (`docker plugin set NAME
 * mount0.source=...` over the plugin's log folder), never to the host-wide default.
 */
import { DockerEngine } from "@docker-plugin-kit/testkit"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { dpk } from "../support.ts"

const shared = await DockerEngine.shared()
const engine = shared.engine!
afterAll(() => shared.close())

const unique = () => `${process.pid}-${Math.random().toString(36).slice(2, 8)}`

interface Record {
  readonly log: string
  readonly stream: string
  readonly time: string
}

const records = (file: string): ReadonlyArray<Record> =>
  Fs.readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record)

/** The lines of each stream, in order (the daemon copies stdout and stderr apart, so their order between them varies). */
const byStream = (file: string) => {
  const all = records(file)
  return {
    stdout: all.filter((r) => r.stream === "stdout").map((r) => r.log),
    stderr: all.filter((r) => r.stream === "stderr").map((r) => r.log)
  }
}

/** Waits (up to 10 s) until the file holds `n` records: the daemon may answer before the plugin has written them. */
const recordsAtLeast = (file: string, n: number) =>
  Effect.gen(function* () {
    for (let i = 0; i < 100 && !(Fs.existsSync(file) && records(file).length >= n); i++) {
      yield* Effect.sleep("100 millis")
    }
    return records(file)
  })

/** What `docker logs --tail n` prints on stdout and on stderr: the file's last `n` records. */
const tailOf = (file: string, n: number): [string, string] => {
  const last = records(file).slice(-n)
  const of = (stream: string) =>
    last
      .filter((r) => r.stream === stream)
      .map((r) => r.log)
      .join("")
  return [of("stdout"), of("stderr")]
}

describe.skipIf(shared.engine === undefined)("log-file as a managed plugin on Engine 20.10", () => {
  // Made only when the tests run: a skipped describe's body still runs, and its afterAll does not.
  const base = shared.engine === undefined ? "" : Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-e2e-mlog-"))
  const name = `dpk-e2e-mlog-${unique()}`
  const plugin = `${name}:latest`
  const container = `dpk-e2e-mlog-c-${unique()}`
  const running = `dpk-e2e-mlog-r-${unique()}`

  afterAll(async () => {
    // Each step on its own: a failed test may have left any of them undone.
    const quiet = (...a: ReadonlyArray<string>) => Effect.runPromise(Effect.ignore(engine.dockerResult(...a)))
    await quiet("rm", "-f", container, running)
    await quiet("plugin", "disable", "-f", plugin)
    await quiet("plugin", "rm", "-f", plugin)
    Fs.rmSync(base, { recursive: true, force: true })
  })

  it.effect(
    "packaged, created, not enabled without its folder, enabled with it set: stdout and stderr in ID.log, docker logs and --tail 1, a second start appends; a running container (untagged name) has its FIFO in the rootfs and holds the plugin; rm, disable, rm",
    () =>
      Effect.gen(function* () {
        const dir = Path.join(base, "plugin")
        const packaged = dpk("package", "log-file", "--name", name, "--out", dir)
        expect(packaged.status, packaged.stderr).toBe(0)
        const config = JSON.parse(Fs.readFileSync(Path.join(dir, "config.json"), "utf8"))
        expect(config.Interface).toEqual({ Types: ["docker.logdriver/1.0"], Socket: "plugin.sock" })
        expect(config.Mounts).toEqual([
          expect.objectContaining({
            Source: "/var/lib/docker-plugin-kit/logs",
            Destination: "/var/lib/docker-plugin-kit/logs",
            Settable: ["source"],
            Type: "bind"
          })
        ])

        const logs = Path.join(base, "logs")
        Fs.mkdirSync(logs)
        yield* engine.docker("plugin", "create", plugin, dir)
        // The engine does not create a mount's source: a missing folder fails the enable, in runc.
        yield* engine.docker("plugin", "set", plugin, `mount0.source=${Path.join(base, "missing")}`)
        const missing = yield* engine.dockerResult("plugin", "enable", plugin)
        expect(missing.exitCode).not.toBe(0)
        expect(missing.stderr).toContain("no such file or directory")
        expect(Fs.existsSync(Path.join(base, "missing"))).toBe(false)
        yield* engine.docker("plugin", "set", plugin, `mount0.source=${logs}`)
        yield* engine.docker("plugin", "enable", plugin)
        const listed = yield* engine.docker("plugin", "ls", "--format", "{{.Name}} {{.Enabled}}")
        expect(listed.split("\n")).toContain(`${plugin} true`)

        const script = "echo out one; echo err one >&2; echo out two"
        yield* engine.docker(
          "run",
          "--name",
          container,
          "--network",
          "none",
          "--log-driver",
          plugin,
          engine.image,
          "sh",
          "-c",
          script
        )
        const id = yield* engine.docker("inspect", "-f", "{{.Id}}", container)
        expect(yield* engine.docker("inspect", "-f", "{{.HostConfig.LogConfig.Type}}", container)).toBe(plugin)
        const file = Path.join(logs, `${id}.log`)
        expect(yield* recordsAtLeast(file, 3)).toHaveLength(3)
        expect(Fs.readdirSync(logs)).toEqual([`${id}.log`])
        expect(byStream(file)).toEqual({ stdout: ["out one\n", "out two\n"], stderr: ["err one\n"] })
        const first = records(file)
        for (const r of first) expect(Date.parse(r.time)).toBeGreaterThan(Date.now() - 600_000)

        const shown = yield* engine.dockerResult("logs", container)
        expect(shown.exitCode, shown.stderr).toBe(0)
        expect(shown.stdout).toBe("out one\nout two\n")
        expect(shown.stderr).toBe("err one\n")
        const tail1 = yield* engine.dockerResult("logs", "--tail", "1", container)
        expect([tail1.stdout, tail1.stderr]).toEqual(tailOf(file, 1))

        // A second start appends to the same file.
        yield* engine.docker("start", "-a", container)
        const after = yield* recordsAtLeast(file, 6)
        expect(after).toHaveLength(6)
        expect(Fs.readdirSync(logs)).toEqual([`${id}.log`])
        expect(after.slice(0, 3)).toEqual(first)
        expect(byStream(file)).toEqual({
          stdout: ["out one\n", "out two\n", "out one\n", "out two\n"],
          stderr: ["err one\n", "err one\n"]
        })
        const tail2 = yield* engine.dockerResult("logs", "--tail", "2", container)
        expect([tail2.stdout, tail2.stderr]).toEqual(tailOf(file, 2))

        // The engine holds a log plugin while a container logs to it: disabling is refused while one runs (a stopped
        // container does not hold it).
        yield* engine.docker(
          "run",
          "-d",
          "--name",
          running,
          "--network",
          "none",
          "--log-driver",
          name,
          engine.image,
          "sh",
          "-c",
          "echo running; sleep 60"
        )
        // The name without its tag is the same plugin; the daemon keeps it as given.
        expect(yield* engine.docker("inspect", "-f", "{{.HostConfig.LogConfig.Type}}", running)).toBe(name)
        const runningLog = Path.join(logs, `${yield* engine.docker("inspect", "-f", "{{.Id}}", running)}.log`)
        expect(yield* recordsAtLeast(runningLog, 1)).toHaveLength(1)
        expect(yield* engine.docker("logs", running)).toBe("running")
        // Its FIFO is in the plugin's rootfs, where the plugin finds it at the path StartLogging names.
        const pluginId = yield* engine.docker("plugin", "inspect", "-f", "{{.Id}}", plugin)
        const dataRoot = yield* engine.docker("info", "-f", "{{.DockerRootDir}}")
        const fifos = Path.join(dataRoot, "plugins", pluginId, "rootfs", "run", "docker", "logging")
        const live = Fs.readdirSync(fifos)
        expect(live).toHaveLength(1)
        expect(Fs.statSync(Path.join(fifos, live[0]!)).isFIFO()).toBe(true)
        const refused = yield* engine.dockerResult("plugin", "disable", plugin)
        expect(refused.exitCode).not.toBe(0)
        expect(refused.stderr).toContain("in use")
        yield* engine.docker("rm", "-f", running)
        expect(Fs.readdirSync(fifos)).toEqual([])
        yield* engine.docker("rm", container)
        yield* engine.docker("plugin", "disable", plugin)
        yield* engine.docker("plugin", "rm", plugin)
        expect(yield* engine.docker("plugin", "ls", "--format", "{{.Name}}")).not.toContain(name)
      }),
    240_000
  )
})
