// Small layer tars for the driver tests, written with the toolkit's own tar writer, and drivers built in a scope.
import { GraphOverlay, type Mounts } from "@docker-plugin-kit/drivers"
import { TarStream } from "@docker-plugin-kit/helpers"
import { GraphDriver } from "@docker-plugin-kit/protocol"
import { Effect, Exit, Layer, Scope, Stream } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const mtime = new Date("2024-05-06T07:08:09Z")

/** A header with the usual defaults, dated `mtime`. */
export const header = (over: Partial<TarStream.Header> & { name: string }): TarStream.Header =>
  TarStream.header({ mtime, ...over })

/** A layer tar of folders (names ending in `/`), files (`name: content`) and whiteouts (`.wh.` names). */
export const layerTar = (files: Record<string, string>): Stream.Stream<Uint8Array> =>
  TarStream.write(
    Stream.fromIterable(
      Object.entries(files).map(([name, content]) =>
        name.endsWith("/")
          ? { header: header({ name, type: "directory", mode: 0o755 }) }
          : {
              header: header({ name, size: Buffer.byteLength(content) }),
              body: Stream.make(new TextEncoder().encode(content))
            }
      )
    )
  )

/** Entry names of a tar stream. */
export const tarNames = <E>(bytes: Stream.Stream<Uint8Array, E>) =>
  Stream.runCollect(Stream.map(TarStream.entries(bytes), (e) => e.header.name))

/** A fresh temporary folder, removed when the scope closes. */
export const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-graph-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** Whether overlay mounts can be tried here. */
export const isRoot = process.getuid?.() === 0

/** Builds a driver of `mode` on `root` over the given mounts, in the test's scope. */
export const driverOn = (options: GraphOverlay.Options, mounts: Layer.Layer<Mounts.Mounts>) =>
  Effect.flatMap(Scope.Scope, (scope) =>
    Effect.map(
      Layer.buildWithScope(GraphOverlay.layer(options).pipe(Layer.provide(mounts)), scope),
      (context) => context.mapUnsafe.get(GraphDriver.GraphDriver.key) as GraphDriver.Driver
    )
  )

/** Builds a driver as `driverOn` does, in a scope of its own: `stop` closes it, as a plugin stopping (also at the end). */
export const stoppableDriverOn = (options: GraphOverlay.Options, mounts: Layer.Layer<Mounts.Mounts>) =>
  Effect.gen(function* () {
    const scope = yield* Scope.make()
    const stop = Scope.close(scope, Exit.void)
    yield* Effect.addFinalizer(() => stop)
    const driver = yield* Scope.provide(driverOn(options, mounts), scope)
    return { driver, stop }
  })
