/**
 * The GraphDriver conformance suite: what the daemon relies on (protocol/graphdriver.md), checked over the wire on
 * fresh layers that are removed afterwards: layers created on a parent, a tar applied and diffed back, changes,
 * removal, and counted Get/Put. Layer tars are written with the helpers' layer-tar toolkit.
 *
 * @since 0.1.0
 */
import { TarStream } from "@docker-plugin-kit/helpers"
import { GraphDriver, Manifest } from "@docker-plugin-kit/protocol"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Conformance from "./Conformance.ts"

const E = GraphDriver.Api.endpoints

const header = (name: string, type: TarStream.EntryType, size = 0): TarStream.Header =>
  TarStream.header({ name, type, size, mtime: new Date("2024-01-01T00:00:00Z") })

/** A layer tar of folders (`name/`) and files (`name: content`); `.wh.` names are whiteouts. */
const layerTar = (entries: ReadonlyArray<readonly [string, string]>): Stream.Stream<Uint8Array> =>
  TarStream.write(
    Stream.fromIterable(
      entries.map(([name, content]) =>
        name.endsWith("/")
          ? { header: header(name, "directory") }
          : { header: header(name, "file", Buffer.byteLength(content)), body: Stream.make(Buffer.from(content)) }
      )
    )
  )

const json = <E extends (typeof E)[keyof typeof E]>(context: Conformance.Context, endpoint: E, body: unknown) =>
  Effect.flatMap(Conformance.send(context, endpoint.path, body), (ex) =>
    Effect.map(Conformance.expectSuccess(ex, endpoint), (out) => ({ ex, out }))
  )

/** A layer ID for this run: the daemon's are 64 hex digits; these are recognisable. */
const layerId = (context: Conformance.Context, label: string) => context.unique(label)

/** Creates a layer for the check (on `parent`) and removes it (best effort) when the check ends. */
const created = (
  context: Conformance.Context,
  label: string,
  options: { readonly parent?: string; readonly readWrite?: boolean } = {}
) =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const ID = layerId(context, label)
      const endpoint = options.readWrite === true ? E.createReadWrite : E.create
      return Effect.as(
        json(context, endpoint, options.parent === undefined ? { ID } : { ID, Parent: options.parent }),
        ID
      )
    }),
    (ID) => Effect.ignore(context.client.exchange(E.remove.path, { ID }))
  )

const failed = (path: string, reason: string) => new Conformance.CheckFailed({ reason, request: { path, body: "" } })

/** Applies a tar to a layer through the streamed endpoint; answers the size. */
const applied = (context: Conformance.Context, id: string, parent: string, tar: Stream.Stream<Uint8Array>) =>
  Effect.map(
    Effect.mapError(context.client.call(E.applyDiff, { id, parent, body: tar }), (e) =>
      failed(`${E.applyDiff.path}?id=${id}&parent=${parent}`, `ApplyDiff failed: ${e.message}`)
    ),
    (r) => r.Size
  )

/** The entries (name and content) of the layer's Diff. */
const diffed = (context: Conformance.Context, ID: string, Parent?: string) =>
  Effect.mapError(
    Effect.flatMap(context.client.call(E.diff, Parent === undefined ? { ID } : { ID, Parent }), (bytes) =>
      Stream.runCollect(
        Stream.mapEffect(TarStream.entries(bytes), (entry) =>
          Effect.map(
            Stream.runFold(
              entry.body,
              () => "",
              (text, chunk) => text + Buffer.from(chunk).toString()
            ),
            (content) => [entry.header.name, content] as const
          )
        )
      )
    ),
    (e) => failed(E.diff.path, `Diff failed or is not a tar: ${e.message}`)
  )

/**
 * A base layer holding `etc/old` and `etc/kept`, and a layer on it with `childEntries` applied (both removed when
 * the check ends).
 */
const onParent = (context: Conformance.Context, childEntries: ReadonlyArray<readonly [string, string]>) =>
  Effect.gen(function* () {
    const base = yield* created(context, "parent")
    yield* applied(
      context,
      base,
      "",
      layerTar([
        ["etc/", ""],
        ["etc/old", "old"],
        ["etc/kept", "kept"]
      ])
    )
    const child = yield* created(context, "child", { parent: base })
    yield* applied(context, child, base, layerTar(childEntries))
    return { base, child }
  })

/** The names in a folder of this machine; none when it is not one (a plugin elsewhere, or not a folder). */
const listed = (dir: string): ReadonlyArray<string> => {
  try {
    return Fs.readdirSync(dir)
  } catch {
    return []
  }
}

const has = (list: ReadonlyArray<readonly [string, string]>, name: string, content?: string) =>
  list.some(([n, c]) => (n === name || n === `${name}/`) && (content === undefined || c === content))

/**
 * Every GraphDriver check.
 *
 * @since 0.1.0
 */
export const checks: ReadonlyArray<Conformance.Check> = [
  Conformance.check(
    "Plugin.Activate lists GraphDriver",
    { why: "The daemon looks up -s NAME among the plugins whose Implements lists GraphDriver." },
    (context) =>
      Effect.gen(function* () {
        const ex = yield* Conformance.send(context, Manifest.Activate.path)
        const manifest = yield* Conformance.expectSuccess(ex, Manifest.Activate)
        if (!(manifest.Implements ?? []).includes("GraphDriver")) {
          yield* Conformance.fail(ex, `Implements ${JSON.stringify(manifest.Implements)} does not list "GraphDriver"`)
        }
      })
  ),
  Conformance.check(
    "Capabilities is nested under Capabilities (or 404)",
    { why: "A flat ReproducesExactDiffs is read as false; 404 means the defaults." },
    (context) =>
      Effect.gen(function* () {
        const ex = yield* Conformance.send(context, E.capabilities.path, {})
        if (ex.response.status === 404) return
        yield* Conformance.expectSuccess(ex, E.capabilities)
      })
  ),
  Conformance.check(
    "Status answers key/value pairs",
    { why: "docker info shows each pair under the storage driver." },
    (context) => Effect.asVoid(json(context, E.status, {}))
  ),
  Conformance.check(
    "Create, then Exists is true; Remove, then Exists is false",
    { why: "The daemon creates every image and container layer with Create and deletes it with Remove." },
    (context) =>
      Effect.gen(function* () {
        const ID = yield* created(context, "exists")
        const before = yield* json(context, E.exists, { ID })
        if (!before.out.Exists) yield* Conformance.fail(before.ex, "Exists answered false for a layer just created")
        yield* json(context, E.remove, { ID })
        const after = yield* json(context, E.exists, { ID })
        if (after.out.Exists) yield* Conformance.fail(after.ex, "Exists answered true after Remove")
      })
  ),
  Conformance.check(
    "Create on an unknown parent fails with Err",
    { why: "A layer on a missing parent could never be mounted; the daemon must hear it at once." },
    (context) =>
      Effect.gen(function* () {
        const ID = layerId(context, "orphan")
        const ex = yield* Conformance.send(context, E.create.path, { ID, Parent: layerId(context, "missing") })
        yield* Effect.ensuring(
          Conformance.expectCleanFailure(ex, E.create),
          Effect.ignore(context.client.exchange(E.remove.path, { ID }))
        )
      })
  ),
  Conformance.check(
    "ApplyDiff answers the size, and Diff of a base layer gives the files back",
    { why: "docker pull/load/import extract layers with ApplyDiff; docker commit and export read them with Diff." },
    (context) =>
      Effect.gen(function* () {
        const ID = yield* created(context, "apply")
        const size = yield* applied(
          context,
          ID,
          "",
          layerTar([
            ["etc/", ""],
            ["etc/motd", "hello"],
            ["bin/", ""],
            ["bin/tool", "#!/bin/sh\n"]
          ])
        )
        if (size < 15)
          return yield* Effect.fail(failed(E.applyDiff.path, `ApplyDiff answered Size ${size} for 15 bytes of files`))
        const entries = yield* diffed(context, ID)
        for (const [name, content] of [
          ["etc/motd", "hello"],
          ["bin/tool", "#!/bin/sh\n"]
        ] as const) {
          if (!has(entries, name, content)) {
            return yield* Effect.fail(
              failed(
                E.diff.path,
                `Diff does not give back ${name} with its content; it holds ${entries.map(([n]) => n).join(", ")}`
              )
            )
          }
        }
      })
  ),
  Conformance.check(
    "A layer on a parent: ApplyDiff with a whiteout, then Diff, Changes and DiffSize show only its changes",
    {
      why: "docker diff lists Changes (0 modified, 1 added, 2 deleted); docker commit and ps -s use Diff and DiffSize against the parent."
    },
    (context) =>
      Effect.gen(function* () {
        const { base, child } = yield* onParent(context, [
          ["etc/", ""],
          ["etc/.wh.old", ""],
          ["etc/new", "new!"]
        ])
        const entries = yield* diffed(context, child, base)
        if (!has(entries, "etc/new", "new!") || !has(entries, "etc/.wh.old") || has(entries, "etc/kept")) {
          return yield* Effect.fail(
            failed(
              E.diff.path,
              `Diff against the parent should hold etc/new and etc/.wh.old only; it holds ${entries.map(([n]) => n).join(", ")}`
            )
          )
        }
        const changes = yield* json(context, E.changes, { ID: child, Parent: base })
        const list = changes.out.Changes ?? []
        const kind = (path: string) => list.find((c) => c.Path === path)?.Kind
        if (kind("/etc/new") !== 1 || kind("/etc/old") !== 2 || kind("/etc/kept") !== undefined) {
          yield* Conformance.fail(
            changes.ex,
            "Changes should list /etc/new as added (1) and /etc/old as deleted (2), and not /etc/kept"
          )
        }
        const size = yield* json(context, E.diffSize, { ID: child, Parent: base })
        if (size.out.Size < 4)
          yield* Conformance.fail(size.ex, `DiffSize answered ${size.out.Size} for a 4-byte file added`)
      })
  ),
  Conformance.check(
    "A folder made again on a parent (an opaque marker): Changes lists what it held as deleted, Diff removes it",
    {
      why: "A Dockerfile's `RUN rm -rf DIR && mkdir DIR` sends `DIR/.wh..wh..opq`; docker diff must list what DIR held before as deleted (as the engine's own drivers do), and a commit's Diff must still remove it."
    },
    (context) =>
      Effect.gen(function* () {
        const { base, child } = yield* onParent(context, [
          ["etc/", ""],
          ["etc/.wh..wh..opq", ""],
          ["etc/kept", "kept, longer"]
        ])
        const changes = yield* json(context, E.changes, { ID: child, Parent: base })
        const list = changes.out.Changes ?? []
        const kind = (path: string) => list.find((c) => c.Path === path)?.Kind
        if (kind("/etc/old") !== 2 || kind("/etc/kept") !== 0) {
          yield* Conformance.fail(
            changes.ex,
            `Changes should list /etc/old as deleted (2) and /etc/kept as modified (0); it lists ${list.map((c) => `${c.Path} ${c.Kind}`).join(", ")}`
          )
        }
        const entries = yield* diffed(context, child, base)
        // Either form removes etc/old: the opaque marker (an overlay layer's) or its whiteout (a naive diff's).
        const removed = has(entries, "etc/.wh..wh..opq") || has(entries, "etc/.wh.old")
        if (!removed || !has(entries, "etc/kept", "kept, longer") || has(entries, "etc/old")) {
          return yield* Effect.fail(
            failed(
              E.diff.path,
              `Diff against the parent should hold etc/kept and remove etc/old (an opaque marker or etc/.wh.old); it holds ${entries.map(([n]) => n).join(", ")}`
            )
          )
        }
      })
  ),
  Conformance.check(
    "Get is counted per ID: two Gets answer the same Dir, and the first Put leaves it mounted",
    {
      why: "Container start, docker cp and layer export each Get the same layer and each Put it once: a driver that unmounts on the first Put pulls the file system from under the container still running on it. Each layer has its own Dir (the daemon runs a container in its layer's Dir while it exports the image's), which shows the parent's files. What Dir holds is checked where this process sees it (a plugin on this host)."
    },
    (context) =>
      Effect.gen(function* () {
        const base = yield* created(context, "get-base")
        yield* applied(context, base, "", layerTar([["counted", "yes"]]))
        const rw = yield* created(context, "get-rw", { parent: base, readWrite: true })
        const first = yield* json(context, E.get, { ID: rw })
        const second = yield* json(context, E.get, { ID: rw })
        if (first.out.Dir !== second.out.Dir) {
          yield* Conformance.fail(second.ex, `the second Get answered ${second.out.Dir}, the first ${first.out.Dir}`)
        }
        if (!first.out.Dir.startsWith("/")) yield* Conformance.fail(first.ex, `Dir ${first.out.Dir} is not absolute`)
        // The parent, mounted while its child is: another layer, another Dir.
        const parent = yield* json(context, E.get, { ID: base })
        if (parent.out.Dir === first.out.Dir) {
          yield* Conformance.fail(
            parent.ex,
            `Get answered the same Dir ${parent.out.Dir} for a layer and for its parent`
          )
        }
        yield* json(context, E.put, { ID: base })
        const marker = Path.join(first.out.Dir, "counted")
        // Observable only where Dir is this machine's and shows the parent's file (not with a memory mount table,
        // which leaves Dir empty): a Dir here that holds files but not the parent's is another folder.
        const observable = Fs.existsSync(marker)
        if (!observable && listed(first.out.Dir).length > 0) {
          yield* Conformance.fail(
            first.ex,
            `Dir ${first.out.Dir} holds ${listed(first.out.Dir).slice(0, 5).join(", ")} but not the parent's file "counted": it is not this layer`
          )
        }
        const put = yield* json(context, E.put, { ID: rw })
        if (observable && !Fs.existsSync(marker)) {
          yield* Conformance.fail(
            put.ex,
            `after two Gets and one Put, ${marker} is gone: the layer was released while a Get still holds it`
          )
        }
        yield* json(context, E.put, { ID: rw })
        yield* json(context, E.remove, { ID: rw })
      })
  ),
  Conformance.check(
    "Get of an unknown layer fails with Err",
    { why: "The daemon shows the error of a failed mount to the user." },
    (context) =>
      Effect.flatMap(Conformance.send(context, E.get.path, { ID: layerId(context, "nothing") }), (ex) =>
        Conformance.expectCleanFailure(ex, E.get)
      )
  ),
  Conformance.check(
    "GetMetadata answers a string map for a layer",
    { why: "docker inspect shows it under GraphDriver.Data." },
    (context) =>
      Effect.gen(function* () {
        const ID = yield* created(context, "meta")
        yield* json(context, E.getMetadata, { ID })
      })
  )
]

/**
 * The suite.
 *
 * @since 0.1.0
 */
export const suite: Conformance.Suite = { api: GraphDriver.Api, checks }
