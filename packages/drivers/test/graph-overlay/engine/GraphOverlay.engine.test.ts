/**
 * graph-overlay as the storage driver of a private Engine 20.10 (`dockerd --experimental -s NAME`): the busybox
 * image imported through ApplyDiff, a container writing a file, docker diff, commit (Diff streamed out, ApplyDiff
 * streamed back in), save and load, info and inspect, a daemon restart, and rm/rmi removing layers from disk.
 */
import { DockerEngine } from "@docker-plugin-kit/testkit"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { removeSocket, spawnServe, uniqueName } from "../../support/engine.ts"

const tools = DockerEngine.findTools()
if (Result.isFailure(tools)) console.warn(`⚠ SKIPPING real Docker Engine graph-driver tests: ${tools.failure}`)

/** Layer folders the plugin keeps under the daemon's Home for it. */
const layersOn = (home: string) => Fs.readdirSync(home).filter((name) => !name.startsWith("."))

describe.skipIf(Result.isFailure(tools))("graph-overlay as the storage driver of Docker Engine 20.10", () => {
  it.live(
    "import, run, diff, commit, save/load, info, inspect, restart, rm and rmi",
    () =>
      Effect.gen(function* () {
        const name = uniqueName("dpk-graph")
        // The daemon asks for its storage driver at start: the plugin must listen first.
        const plugin = yield* Effect.promise(() => spawnServe(["graph-overlay", "--name", name]))
        yield* Effect.addFinalizer(() =>
          Effect.promise(async () => {
            await plugin.stop()
            removeSocket(name)
          })
        )
        const engine = yield* DockerEngine.make({ daemonArgs: ["--experimental", `--storage-driver=${name}`] })
        const home = Path.join(engine.dir, "root", name)
        const run = (...a: ReadonlyArray<string>) => engine.docker("run", "--network", "none", ...a)

        // docker info: our name and our Status pairs.
        expect(yield* engine.docker("info", "--format", "{{.Driver}}")).toBe(name)
        const status = JSON.parse(yield* engine.docker("info", "--format", "{{json .DriverStatus}}"))
        expect(status).toContainEqual(["Mode", "overlayfs"])
        expect(status).toContainEqual(["Root Dir", home])

        // The busybox image was imported through ApplyDiff into a layer on disk.
        const baseLayers = layersOn(home)
        expect(baseLayers.length).toBe(1)
        expect(Fs.existsSync(Path.join(home, baseLayers[0]!, "diff", "bin", "busybox"))).toBe(true)

        // A container writes a file; docker diff shows it added.
        yield* run("--name", "writer", engine.image, "sh", "-c", "echo made by a container > /tmp/made-here")
        const diff = (yield* engine.docker("diff", "writer")).split("\n")
        expect(diff).toContain("A /tmp/made-here")
        expect(diff).toContain("C /tmp")

        // docker inspect shows our metadata.
        const graph = JSON.parse(yield* engine.docker("inspect", "--format", "{{json .GraphDriver}}", "writer"))
        expect(graph.Name).toBe(name)
        expect(graph.Data.UpperDir).toMatch(new RegExp(`^${home}/[0-9a-f]{64}/diff$`))
        expect(graph.Data.LowerDir).toContain(home)

        // Commit streams the container's Diff and applies it to a new image layer.
        yield* engine.docker("commit", "writer", "dpk-committed:1")
        const read = () => run("--rm", "dpk-committed:1", "cat", "/tmp/made-here")
        expect(yield* read()).toBe("made by a container")

        // Save, remove, load: the layer goes out of the store and comes back through ApplyDiff.
        const saved = Path.join(engine.dir, "committed.tar")
        yield* engine.docker("save", "-o", saved, "dpk-committed:1")
        const withCommitted = layersOn(home).length
        yield* engine.docker("rmi", "dpk-committed:1")
        expect(layersOn(home).length).toBe(withCommitted - 1)
        yield* engine.docker("load", "-i", saved)
        expect(layersOn(home).length).toBe(withCommitted)
        expect(yield* read()).toBe("made by a container")

        // A daemon restart (Cleanup, then Init on the same Home): container and images are still there and run.
        yield* engine.restart
        expect(yield* engine.docker("ps", "-a", "--filter", "name=writer", "--format", "{{.Names}}")).toBe("writer")
        yield* engine.docker("start", "-a", "writer")
        expect(yield* read()).toBe("made by a container")
        expect(yield* run("--rm", engine.image, "cat", "/bin/busybox").pipe(Effect.map((out) => out.length > 0))).toBe(
          true
        )

        // rm removes the container's two layers (itself and -init); rmi removes the committed image's layer.
        const beforeRm = layersOn(home).length
        yield* engine.docker("rm", "writer")
        expect(layersOn(home).length).toBe(beforeRm - 2)
        yield* engine.docker("rmi", "dpk-committed:1")
        expect(layersOn(home).length).toBe(beforeRm - 3)
        expect(layersOn(home)).toEqual(baseLayers)
      }),
    300_000
  )
})
