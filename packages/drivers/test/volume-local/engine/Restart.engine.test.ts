/**
 * Plugin restarts against a private Engine 20.10: `dpk serve volume-local` is spawned as a process, killed with
 * SIGKILL and started again; the daemon stopped and started again while a container holds a volume; and a plugin
 * that appears only after the daemon first asked for it.
 */
import { VolumeMemory } from "@docker-plugin-kit/drivers"
import { DockerEngine } from "@docker-plugin-kit/testkit"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { inspect, removeSocket, serve, socketOf, spawnServe, uniqueName } from "../../support/engine.ts"

const shared = await DockerEngine.shared()
const engine = shared.engine!
afterAll(() => shared.close())

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

describe.skipIf(shared.engine === undefined)("plugin restarts against Docker Engine 20.10", () => {
  const base =
    // Vitest runs a skipped describe's body too: no folder where the engine cannot run (its hooks do not).
    shared.engine === undefined ? "" : Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-e2e-restart-"))
  afterAll(() => Fs.rmSync(base, { recursive: true, force: true }))

  it.effect(
    "volume-local killed with SIGKILL between two docker runs keeps every volume, its data and its mount count",
    () =>
      Effect.gen(function* () {
        const name = uniqueName("dpk-e2e-restart")
        const root = Path.join(base, "volumes")
        const args = ["volume-local", "--name", name, "--root", root, "--state-dir", Path.join(base, "state")]
        let plugin = yield* promise(() => spawnServe(args))
        yield* Effect.addFinalizer(() =>
          promise(async () => {
            await plugin.stop()
            removeSocket(name)
          })
        )
        const run = (...a: ReadonlyArray<string>) => engine.docker("run", "--rm", "--network", "none", ...a)
        yield* engine.docker("volume", "create", "-d", name, "-o", "label.keep=yes", "kept1")
        yield* engine.docker("volume", "create", "-d", name, "kept2")
        yield* run("-v", "kept1:/data", engine.image, "sh", "-c", "echo before the crash > /data/note")
        const holder = yield* engine.docker(
          "run",
          "-d",
          "--network",
          "none",
          "-v",
          "kept2:/data",
          engine.image,
          "sleep",
          "300"
        )
        expect((yield* inspect(engine, "kept2")).Status.mounts).toBe(1)

        yield* promise(() => plugin.kill9())
        // A crash leaves the socket file behind; the next start must cope with it.
        expect(Fs.existsSync(socketOf(name))).toBe(true)
        plugin = yield* promise(() => spawnServe(args))

        const listed = yield* engine.docker("volume", "ls", "--filter", `driver=${name}`, "--format", "{{.Name}}")
        expect(listed.split("\n").sort()).toEqual(["kept1", "kept2"])
        expect((yield* inspect(engine, "kept1")).Status.labels).toEqual({ keep: "yes" })
        expect(yield* run("-v", "kept1:/data", engine.image, "cat", "/data/note")).toBe("before the crash")
        // The mount taken before the crash is still counted, and its Unmount (after the restart) is accepted.
        expect((yield* inspect(engine, "kept2")).Status.mounts).toBe(1)
        yield* engine.docker("rm", "-f", holder)
        expect((yield* inspect(engine, "kept2")).Status.mounts).toBe(0)
        yield* engine.docker("volume", "rm", "kept1", "kept2")
        expect(Fs.readdirSync(root)).toEqual([])
      }),
    120_000
  )

  // it.live: starting and restarting a daemon waits on the real clock.
  it.live(
    "the daemon restarted while a container holds a volume: one mount held after, none once the container is gone",
    () =>
      Effect.gen(function* () {
        // A daemon of its own: this one is stopped and started again.
        const own = yield* DockerEngine.make()
        const name = uniqueName("dpk-e2e-dstop")
        const dir = Path.join(base, "daemon-restart")
        const root = Path.join(dir, "volumes")
        const args = ["volume-local", "--name", name, "--root", root, "--state-dir", Path.join(dir, "state")]
        const plugin = yield* promise(() => spawnServe(args))
        yield* Effect.addFinalizer(() =>
          promise(async () => {
            await plugin.stop()
            removeSocket(name)
          })
        )
        yield* own.docker("volume", "create", "-d", name, "held")
        const holder = yield* own.docker(
          "run",
          "-d",
          "--restart",
          "always",
          "--network",
          "none",
          "-v",
          "held:/data",
          own.image,
          "sleep",
          "300"
        )
        expect((yield* inspect(own, "held")).Status.mounts).toBe(1)
        // The daemon stops the container as it stops (Unmount) and starts it again as it starts (Mount): the driver
        // holds one mount after, not two, so the volume can be removed once the container is gone.
        yield* own.restart
        expect(yield* own.docker("inspect", "-f", "{{.State.Running}}", holder)).toBe("true")
        expect((yield* inspect(own, "held")).Status.mounts).toBe(1)
        yield* own.docker("rm", "-f", holder)
        expect((yield* inspect(own, "held")).Status.mounts).toBe(0)
        yield* own.docker("volume", "rm", "held")
      }),
    120_000
  )

  // it.live: the test sleeps on the real clock while the daemon retries.
  it.live(
    "a plugin that starts a few seconds after the daemon asked for it is reached within the retry window",
    () =>
      Effect.gen(function* () {
        const name = uniqueName("dpk-e2e-late")
        const started = Date.now()
        const create = yield* engine.dockerResult("volume", "create", "-d", name, "late1").pipe(Effect.forkChild)
        yield* Effect.sleep("3 seconds")
        expect(Fs.existsSync(socketOf(name))).toBe(false)
        const plugin = yield* promise(() => serve(name, VolumeMemory.layer()))
        yield* Effect.addFinalizer(() => promise(() => plugin.close()))
        const result = yield* Fiber.join(create)
        expect(result).toMatchObject({ exitCode: 0, stdout: "late1\n" })
        console.log(`late plugin: docker volume create returned after ${Date.now() - started} ms`)
        expect((yield* inspect(engine, "late1")).Driver).toBe(name)
        yield* engine.docker("volume", "rm", "late1")
      }),
    60_000
  )
})
