/**
 * graph-overlay as the storage driver of a private Engine 20.10 (`dockerd --experimental -s NAME`): the busybox
 * image imported through ApplyDiff, a container writing a file, docker diff, commit (Diff streamed out, ApplyDiff
 * streamed back in), save and load, info and inspect, a daemon restart, and rm/rmi removing layers from disk; a file
 * name that is not UTF-8 through commit, save and load; binary extended attributes (a file capability) through
 * import, commit and save; and an image built by `docker build`; docker diff against the engine's own overlay2 for
 * the same changes. Then graph-vfs (full copies) through import, run,
 * diff, commit, rm and rmi.
 */
import { FolderOwner } from "@docker-plugin-kit/drivers"
import { TarStream } from "@docker-plugin-kit/helpers"
import { DockerEngine, RemapUser } from "@docker-plugin-kit/testkit"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Result, Stream } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { removeSocket, spawnServe, uniqueName } from "../../support/engine.ts"

const tools = DockerEngine.findTools()
if (Result.isFailure(tools)) console.warn(`⚠ SKIPPING real Docker Engine graph-driver tests: ${tools.failure}`)

/** Layer folders the plugin keeps under the daemon's Home for it. */
/** The layer folders in a root: not the leftovers (`.tmp-`, `.removing-`) nor the root's owner file. */
const layersOn = (home: string) =>
  Fs.readdirSync(home).filter((name) => !name.startsWith(".") && name !== FolderOwner.fileName)

const xattrOf = (path: string, name: string) =>
  new Uint8Array(ChildProcess.execFileSync("getfattr", ["--absolute-names", "--only-values", "-n", name, path]))

// v2, effective, permitted CAP_SETUID: the byte 0x80 is not UTF-8, and a corrupted value is refused by the kernel.
const capability = Uint8Array.from([1, 0, 0, 2, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
const binary = Uint8Array.from({ length: 256 }, (_, i) => 255 - i)

/** A one-file image tar: `newuidmap`, carrying the file capability. */
const capabilityTar = (path: string) =>
  Stream.runForEach(
    TarStream.write(
      Stream.make({
        header: TarStream.header({
          name: "newuidmap",
          mode: 0o755,
          size: 2,
          mtime: new Date(1_700_000_000_000),
          xattrs: { "security.capability": capability }
        }),
        content: Buffer.from("#!")
      })
    ),
    (chunk) => Effect.sync(() => Fs.appendFileSync(path, chunk))
  )

/** The extended attributes of `name` in the layers of a `docker save` tar (extracted into `dir`). */
const savedXattrs = (dir: string, name: string) =>
  Effect.gen(function* () {
    const found: Array<Readonly<Record<string, Uint8Array>>> = []
    for (const layer of Fs.readdirSync(dir).filter((d) => Fs.existsSync(Path.join(dir, d, "layer.tar")))) {
      const bytes = Stream.make(Fs.readFileSync(Path.join(dir, layer, "layer.tar")))
      yield* Stream.runForEach(TarStream.entries(bytes), (entry) =>
        Effect.sync(() => void (entry.header.name === name && found.push(entry.header.xattrs)))
      )
    }
    return found
  })

/**
 * `dpk serve DRIVER` under a unique name, then a private daemon with it as its storage driver (the daemon asks for
 * its storage driver at start: the plugin must listen first); both stopped with the scope.
 */
const daemonOn = (driver: "graph-overlay" | "graph-vfs", remap?: RemapUser.RemapUser) =>
  Effect.gen(function* () {
    const name = uniqueName(`dpk-${driver}`)
    const plugin = yield* Effect.promise(() => spawnServe([driver, "--name", name]))
    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        await plugin.stop()
        removeSocket(name)
      })
    )
    const engine = yield* DockerEngine.make({
      daemonArgs: ["--experimental", `--storage-driver=${name}`],
      ...(remap === undefined ? {} : { usernsRemap: remap.name })
    })
    // Remapped, the daemon keeps its data under a folder named for the containers' root on the host.
    const data = remap === undefined ? "root" : Path.join("root", `${remap.start}.${remap.start}`)
    const home = Path.join(engine.dir, data, name)
    const run = (...a: ReadonlyArray<string>) => engine.docker("run", "--network", "none", ...a)
    return { name, engine, home, run }
  })

describe.skipIf(Result.isFailure(tools))("graph-overlay as the storage driver of Docker Engine 20.10", () => {
  it.live(
    "import, run, diff, commit, save/load, info, inspect, restart, rm and rmi",
    () =>
      Effect.gen(function* () {
        const { name, engine, home, run } = yield* daemonOn("graph-overlay")

        // docker info: our name and our Status pairs.
        expect(yield* engine.docker("info", "--format", "{{.Driver}}")).toBe(name)
        const status = JSON.parse(yield* engine.docker("info", "--format", "{{json .DriverStatus}}"))
        expect(status).toContainEqual(["Mode", "overlayfs"])
        expect(status).toContainEqual(["Root Dir", home])
        // The root named by Init is claimed by the plugin.
        expect(Fs.existsSync(Path.join(home, FolderOwner.fileName))).toBe(true)

        // The busybox image was imported through ApplyDiff into a layer on disk.
        const baseLayers = layersOn(home)
        expect(baseLayers.length).toBe(1)
        expect(Fs.existsSync(Path.join(home, baseLayers[0]!, "diff", "bin", "busybox"))).toBe(true)

        // A container writes a file; docker diff shows it added.
        // Besides, a file whose name is not UTF-8 (latin1 "café"): it must survive byte for byte.
        yield* run(
          "--name",
          "writer",
          engine.image,
          "sh",
          "-c",
          "echo made by a container > /tmp/made-here; echo latin1 > /tmp/$(printf 'caf\\351')"
        )
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
        const readLatin1 = () => run("--rm", "dpk-committed:1", "sh", "-c", "cat /tmp/$(printf 'caf\\351')")
        expect(yield* readLatin1()).toBe("latin1")
        const latin1Path = (layer: string) =>
          Buffer.concat([Buffer.from(Path.join(home, layer, "diff", "tmp", "caf")), Buffer.from([0xe9])])
        expect(layersOn(home).filter((id) => Fs.existsSync(latin1Path(id))).length).toBe(2) // the container's, the commit's

        // Save, remove, load: the layer goes out of the store and comes back through ApplyDiff.
        const saved = Path.join(engine.dir, "committed.tar")
        yield* engine.docker("save", "-o", saved, "dpk-committed:1")
        const withCommitted = layersOn(home).length
        yield* engine.docker("rmi", "dpk-committed:1")
        expect(layersOn(home).length).toBe(withCommitted - 1)
        yield* engine.docker("load", "-i", saved)
        expect(layersOn(home).length).toBe(withCommitted)
        expect(yield* read()).toBe("made by a container")
        expect(yield* readLatin1()).toBe("latin1")

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

        // Binary extended attributes: docker import applies a file capability through ApplyDiff, byte for byte.
        const capsTar = Path.join(engine.dir, "caps.tar")
        yield* capabilityTar(capsTar)
        yield* engine.docker("import", capsTar, "dpk-caps:1")
        const [capsLayer] = layersOn(home).filter((id) => !baseLayers.includes(id))
        expect(xattrOf(Path.join(home, capsLayer!, "diff", "newuidmap"), "security.capability")).toEqual(capability)
        // An attribute set in a container's upper folder goes out through Diff at commit and back in through
        // ApplyDiff, and into the tar docker save writes.
        yield* engine.docker("create", "--name", "caps", "dpk-caps:1", "/newuidmap")
        const upper = JSON.parse(yield* engine.docker("inspect", "--format", "{{json .GraphDriver.Data}}", "caps"))
          .UpperDir as string
        Fs.writeFileSync(Path.join(upper, "added"), "x")
        ChildProcess.execFileSync("setfattr", [
          "-n",
          "user.bytes",
          "-v",
          `0s${Buffer.from(binary).toString("base64")}`,
          Path.join(upper, "added")
        ])
        const committedId = (yield* engine.docker("commit", "caps", "dpk-caps:2")).replace(/^sha256:/, "")
        expect(committedId).toMatch(/^[0-9a-f]{64}$/)
        const committedLayer = layersOn(home).find(
          (id) => Fs.existsSync(Path.join(home, id, "diff", "added")) && Path.join(home, id, "diff") !== upper
        )
        expect(xattrOf(Path.join(home, committedLayer!, "diff", "added"), "user.bytes")).toEqual(binary)
        const savedDir = Path.join(engine.dir, "caps-saved")
        Fs.mkdirSync(savedDir)
        yield* engine.docker("save", "-o", Path.join(engine.dir, "caps-saved.tar"), "dpk-caps:2")
        ChildProcess.execFileSync("tar", ["-C", savedDir, "-xf", Path.join(engine.dir, "caps-saved.tar")])
        expect(yield* savedXattrs(savedDir, "newuidmap")).toEqual([{ "security.capability": capability }])
        expect(yield* savedXattrs(savedDir, "added")).toEqual([{ "user.bytes": binary }])

        // docker build (the legacy builder: each COPY and RUN a container committed through Diff and ApplyDiff),
        // then rmi removes what the build added.
        const beforeBuild = layersOn(home).length
        const context = Path.join(engine.dir, "build")
        Fs.mkdirSync(context)
        Fs.writeFileSync(Path.join(context, "hello.txt"), "hello\n")
        Fs.writeFileSync(
          Path.join(context, "Dockerfile"),
          [
            `FROM ${engine.image}`,
            "COPY hello.txt /hello.txt",
            "RUN echo built > /built && mkdir /data && echo x > /data/x && echo y > /data/y",
            "RUN rm /data/x && echo more >> /built",
            // A folder of a lower layer removed and made again: overlayfs marks it opaque, Diff sends the marker.
            "RUN rm -rf /data && mkdir /data && echo z > /data/z"
          ].join("\n")
        )
        yield* engine.docker("build", "--network", "none", "-t", "dpk-built:1", context)
        expect(yield* run("--rm", "dpk-built:1", "sh", "-c", "cat /hello.txt /built; ls /data")).toBe(
          "hello\nbuilt\nmore\nz"
        )
        expect(layersOn(home).length).toBeGreaterThan(beforeBuild)
        yield* engine.docker("rmi", "dpk-built:1")
        expect(layersOn(home).length).toBe(beforeBuild)
      }),
    300_000
  )

  it.live(
    "docker diff on graph-overlay and graph-vfs lists what the engine's own overlay2 lists, a folder made again included",
    () =>
      Effect.gen(function* () {
        /** An image with a few folders, a container changing them, and its docker diff, sorted. */
        const changesOn = (engine: DockerEngine.Engine) =>
          Effect.gen(function* () {
            const run = (...a: ReadonlyArray<string>) => engine.docker("run", "--network", "none", ...a)
            yield* run(
              ...["--name", "base", engine.image, "sh", "-c"],
              "mkdir -p /data/old /data/same && echo a > /data/old/f && echo b > /data/keep && echo c > /data/same/s"
            )
            yield* engine.docker("commit", "base", "dpk-diff-base:1")
            yield* run(
              ...["--name", "changer", "dpk-diff-base:1", "sh", "-c"],
              "echo x >> /data/keep; echo y >> /data/same/s; rm -rf /data/old && mkdir /data/old && echo n > /data/old/g; " +
                "echo t > /tmp/t; rm /bin/ls; chmod 700 /data/same; ln -s keep /data/link"
            )
            return (yield* engine.docker("diff", "changer")).split("\n").sort()
          })
        const builtin = yield* DockerEngine.make({ daemonArgs: ["--storage-driver=overlay2"] })
        const expected = yield* changesOn(builtin)
        // What the folder made again held is listed as deleted (the case this test is for).
        expect(expected).toEqual(expect.arrayContaining(["C /data/old", "D /data/old/f", "A /data/old/g"]))
        const { engine } = yield* daemonOn("graph-overlay")
        expect(yield* changesOn(engine)).toEqual(expected)
        const { engine: copies } = yield* daemonOn("graph-vfs")
        expect(yield* changesOn(copies)).toEqual(expected)
      }),
    300_000
  )

  it.live(
    "graph-vfs (full copies): import, run, diff, commit, a container of the committed image, rm and rmi",
    () =>
      Effect.gen(function* () {
        const { engine, home, run } = yield* daemonOn("graph-vfs")
        const status = JSON.parse(yield* engine.docker("info", "--format", "{{json .DriverStatus}}"))
        expect(status).toContainEqual(["Mode", "vfs (full copies)"])
        const baseLayers = layersOn(home)

        yield* run("--name", "writer", engine.image, "sh", "-c", "echo by vfs > /tmp/vfs-file; rm /bin/ls")
        const diff = (yield* engine.docker("diff", "writer")).split("\n")
        expect(diff).toEqual(expect.arrayContaining(["A /tmp/vfs-file", "D /bin/ls"]))
        yield* engine.docker("commit", "writer", "dpk-vfs:1")
        expect(yield* run("--rm", "dpk-vfs:1", "sh", "-c", "cat /tmp/vfs-file; test -e /bin/ls || echo ls gone")).toBe(
          "by vfs\nls gone"
        )
        // The base image is untouched by the container's deletion: its layer is a copy of its own.
        expect(yield* run("--rm", engine.image, "sh", "-c", "test -e /bin/ls && echo ls here")).toBe("ls here")

        // A size limit the driver cannot set is refused, with nothing made, rather than silently not applied.
        const layersBefore = layersOn(home)
        const sized = yield* engine.dockerResult("create", "--storage-opt", "size=1G", engine.image, "true")
        expect(sized.exitCode).not.toBe(0)
        expect(sized.stderr).toContain("--storage-opt size=1G is not supported: graph-vfs sets no quotas")
        expect(layersOn(home)).toEqual(layersBefore)

        yield* engine.docker("rm", "writer")
        yield* engine.docker("rmi", "dpk-vfs:1")
        expect(layersOn(home)).toEqual(baseLayers)
      }),
    300_000
  )

  it.live(
    "with user namespaces remapped: layers hold host owners, containers see their own, commit and save give them back",
    () =>
      Effect.gen(function* () {
        const remap = yield* RemapUser.make
        const { engine, home, run } = yield* daemonOn("graph-overlay", remap)
        const owner = (path: string) => {
          const stat = Fs.lstatSync(path)
          return [stat.uid, stat.gid]
        }
        // The image was imported with its owners (root) moved to the remapped root.
        const [base] = layersOn(home)
        expect(owner(Path.join(home, base!, "diff", "bin", "busybox"))).toEqual([remap.start, remap.start])
        expect(owner(Path.join(home, base!, "diff"))).toEqual([remap.start, remap.start])
        // Inside, root and its files are 0; a file the container writes is the remapped root's on the host.
        const inside = yield* run(
          "--name",
          "remapped",
          engine.image,
          "sh",
          "-c",
          "id -u; stat -c '%u:%g' /bin/busybox; echo remapped > /tmp/by-root; chown 1000:1000 /tmp/by-root; stat -c '%u:%g' /tmp/by-root"
        )
        expect(inside.split("\n")).toEqual(["0", "0:0", "1000:1000"])
        const upper = JSON.parse(yield* engine.docker("inspect", "--format", "{{json .GraphDriver.Data}}", "remapped"))
          .UpperDir as string
        expect(owner(Path.join(upper, "tmp", "by-root"))).toEqual([remap.start + 1000, remap.start + 1000])
        // Commit (Diff out, ApplyDiff in): the container's IDs again in the tar, host IDs again in the new layer.
        yield* engine.docker("commit", "remapped", "dpk-remapped:1")
        expect(yield* run("--rm", "dpk-remapped:1", "stat", "-c", "%u:%g", "/tmp/by-root")).toBe("1000:1000")
        const saved = Path.join(engine.dir, "remapped.tar")
        yield* engine.docker("save", "-o", saved, "dpk-remapped:1")
        const extracted = Path.join(engine.dir, "remapped-save")
        Fs.mkdirSync(extracted)
        ChildProcess.execFileSync("tar", ["-xf", saved, "-C", extracted])
        const owners: Array<string> = []
        for (const layer of Fs.readdirSync(extracted).filter((d) =>
          Fs.existsSync(Path.join(extracted, d, "layer.tar"))
        )) {
          yield* Stream.runForEach(
            TarStream.entries(Stream.make(Fs.readFileSync(Path.join(extracted, layer, "layer.tar")))),
            (entry) =>
              Effect.sync(() => {
                const name = entry.header.name.replace(/^\.\//, "")
                if (name === "tmp/by-root" || name === "bin/busybox") {
                  owners.push(`${name} ${entry.header.uid}:${entry.header.gid}`)
                }
              })
          )
        }
        expect(owners.sort()).toEqual(["bin/busybox 0:0", "tmp/by-root 1000:1000"])
        yield* engine.docker("rm", "remapped")
        yield* engine.docker("rmi", "dpk-remapped:1")
      }),
    300_000
  )
})
