/**
 * The VolumeDriver conformance suite: what the daemon relies on (protocol/volume.md), checked over the wire with
 * fresh volume names that are removed afterwards.
 *
 * @since 0.1.0
 */
import { Manifest, VolumeDriver } from "@docker-plugin-kit/protocol"
import * as Effect from "effect/Effect"
import * as Conformance from "./Conformance.ts"

const E = VolumeDriver.Api.endpoints

/** A 64-hex mount ID like the daemon generates per mount operation. */
const mountId = () => Array.from({ length: 64 }, () => "0123456789abcdef"[Math.floor(Math.random() * 16)]).join("")

/** Creates a volume for the check and removes it (best effort) when the check ends. */
const created = (context: Conformance.Context, label: string, opts: Record<string, string> | null = null) =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const name = context.unique(label)
      return Effect.flatMap(Conformance.send(context, E.create.path, { Name: name, Opts: opts }), (ex) =>
        Effect.as(Conformance.expectSuccess(ex, E.create), name)
      )
    }),
    (name) => Effect.ignore(context.client.exchange(E.remove.path, { Name: name }))
  )

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null
const isNullVolume = (body: unknown) => isRecord(body) && body.Volume === null
const isVolume = (body: unknown) => isRecord(body) && isRecord(body.Volume)
/** Whether the daemon reads an answer as a success: 200 and no `Err`. */
const succeeded = (ex: { readonly response: { readonly status: number; readonly body: unknown } }) =>
  ex.response.status === 200 &&
  !(isRecord(ex.response.body) && typeof ex.response.body.Err === "string" && ex.response.body.Err !== "")

/**
 * Mounts a volume under a fresh ID for the check and unmounts it (best effort) when the check ends; `mountpoint` is
 * undefined when Mount failed (the Mount checks report that).
 */
const mounted = (context: Conformance.Context, name: string) =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const id = mountId()
      return Effect.flatMap(Conformance.send(context, E.mount.path, { Name: name, ID: id }), (ex) =>
        Effect.match(Conformance.expectSuccess(ex, E.mount), {
          onFailure: () => ({ ex, id, mountpoint: undefined }),
          onSuccess: (r) => ({ ex, id, mountpoint: r.Mountpoint })
        })
      )
    }),
    ({ id }) => Effect.ignore(context.client.exchange(E.unmount.path, { Name: name, ID: id }))
  )

const listed = (context: Conformance.Context) =>
  Effect.flatMap(Conformance.send(context, E.list.path, {}), (ex) =>
    Effect.map(Conformance.expectSuccess(ex, E.list), (r) => ({ ex, names: (r.Volumes ?? []).map((v) => v.Name) }))
  )

/**
 * Every VolumeDriver check.
 *
 * @since 0.1.0
 */
export const checks: ReadonlyArray<Conformance.Check> = [
  Conformance.check(
    "Plugin.Activate lists VolumeDriver",
    { why: "The daemon activates a v1 plugin with an empty POST and uses it only for what Implements lists." },
    (context) =>
      Effect.gen(function* () {
        const ex = yield* Conformance.send(context, Manifest.Activate.path)
        const manifest = yield* Conformance.expectSuccess(ex, Manifest.Activate)
        if (!(manifest.Implements ?? []).includes("VolumeDriver")) {
          yield* Conformance.fail(ex, `Implements ${JSON.stringify(manifest.Implements)} does not list "VolumeDriver"`)
        }
      })
  ),
  Conformance.check(
    "Capabilities answers a valid scope, the same every time",
    { why: "The daemon caches the first answer; 404 is allowed and means scope local." },
    (context) =>
      Effect.gen(function* () {
        const first = yield* Conformance.send(context, E.capabilities.path, {})
        if (first.response.status === 404) return
        const a = yield* Conformance.expectSuccess(first, E.capabilities)
        const second = yield* Conformance.send(context, E.capabilities.path, {})
        const b = yield* Conformance.expectSuccess(second, E.capabilities)
        if (a.Capabilities.Scope !== b.Capabilities.Scope) {
          yield* Conformance.fail(second, `scope changed from "${a.Capabilities.Scope}" to "${b.Capabilities.Scope}"`)
        }
      })
  ),
  Conformance.check(
    "Create with Opts null, then Get answers the same Name",
    {
      why: "docker volume create and docker run send Opts null; the daemon records the Name that Get returns, and CreatedAt must be RFC 3339 or absent. The name has capitals: names differing in case are two volumes to the daemon."
    },
    (context) =>
      Effect.gen(function* () {
        const name = yield* created(context, "Create")
        const ex = yield* Conformance.send(context, E.get.path, { Name: name })
        const { Volume } = yield* Conformance.expectSuccess(ex, E.get)
        if (Volume === null) yield* Conformance.fail(ex, "Get of a volume just created answered Volume null")
        else if (Volume.Name !== name) yield* Conformance.fail(ex, `Get answered Name "${Volume.Name}" for "${name}"`)
      })
  ),
  Conformance.check(
    "Create of an existing volume with the same Opts succeeds",
    {
      severity: "warning",
      why: "The daemon sends Create only after Get found nothing, but two clients (or, for a global driver, two daemons) can race between the two: the second Create should not fail the second command."
    },
    (context) =>
      Effect.gen(function* () {
        const name = yield* created(context, "again")
        const again = yield* Conformance.send(context, E.create.path, { Name: name, Opts: null })
        if (!succeeded(again)) {
          const err = isRecord(again.response.body) ? again.response.body.Err : undefined
          yield* Conformance.fail(
            again,
            `a second Create of "${name}" with the same Opts failed (status ${again.response.status}${typeof err === "string" && err !== "" ? `, ${JSON.stringify(err)}` : ""}): a client racing another to create it gets that error`
          )
        }
      })
  ),
  Conformance.check(
    "Create accepts Opts {}",
    { why: "The 20.10 docker CLI sends an empty map instead of null." },
    (context) => Effect.asVoid(created(context, "empty-opts", {}))
  ),
  Conformance.check(
    "List shows a volume after Create and not after Remove",
    { why: "docker volume ls lists what List answers (null and [] both mean none)." },
    (context) =>
      Effect.gen(function* () {
        const name = yield* created(context, "list")
        const before = yield* listed(context)
        if (!before.names.includes(name))
          yield* Conformance.fail(before.ex, `List does not show "${name}" after Create`)
        yield* Effect.flatMap(Conformance.send(context, E.remove.path, { Name: name }), (ex) =>
          Conformance.expectSuccess(ex, E.remove)
        )
        const after = yield* listed(context)
        if (after.names.includes(name)) yield* Conformance.fail(after.ex, `List still shows "${name}" after Remove`)
      })
  ),
  Conformance.check(
    "Get of a removed volume answers Err (or Volume null)",
    {
      why: "docker volume create asks Get first and skips Create when Get finds the name, and at start the daemon keeps every volume Get still finds: a removed volume that Get still answers comes back without its Create."
    },
    (context) =>
      Effect.gen(function* () {
        const name = yield* created(context, "removed")
        yield* Effect.flatMap(Conformance.send(context, E.remove.path, { Name: name }), (ex) =>
          Conformance.expectSuccess(ex, E.remove)
        )
        const ex = yield* Conformance.send(context, E.get.path, { Name: name })
        yield* Effect.catch(Conformance.expectCleanFailure(ex, E.get, { acceptAlso: isNullVolume }), (e) =>
          isVolume(ex.response.body)
            ? Conformance.fail(ex, `Get still answers "${name}" after Remove succeeded`)
            : Effect.fail(e)
        )
      })
  ),
  Conformance.check(
    "Path of a created volume answers a Mountpoint",
    { why: "The daemon asks Path when it needs a volume's path outside a mount." },
    (context) =>
      Effect.gen(function* () {
        const name = yield* created(context, "path")
        yield* Effect.flatMap(Conformance.send(context, E.path.path, { Name: name }), (ex) =>
          Conformance.expectSuccess(ex, E.path)
        )
      })
  ),
  Conformance.check(
    "Mount and Unmount pair by ID (two mounts, one mountpoint, released one by one)",
    {
      why: "Each container mount has its own 64-hex ID; the driver keeps a reference count and releases the volume on the last Unmount."
    },
    (context) =>
      Effect.gen(function* () {
        const name = yield* created(context, "mount")
        const [a, b] = [mountId(), mountId()]
        const mount = (id: string) =>
          Effect.flatMap(Conformance.send(context, E.mount.path, { Name: name, ID: id }), (ex) =>
            Effect.map(Conformance.expectSuccess(ex, E.mount), (r) => ({ ex, mountpoint: r.Mountpoint }))
          )
        const unmount = (id: string) =>
          Effect.flatMap(Conformance.send(context, E.unmount.path, { Name: name, ID: id }), (ex) =>
            Conformance.expectSuccess(ex, E.unmount)
          )
        const first = yield* mount(a)
        if (first.mountpoint === "") yield* Conformance.fail(first.ex, "Mount answered an empty Mountpoint")
        const second = yield* mount(b)
        if (second.mountpoint !== first.mountpoint) {
          yield* Conformance.fail(
            second.ex,
            `a second Mount answered "${second.mountpoint}", the first "${first.mountpoint}"`
          )
        }
        yield* unmount(a)
        yield* unmount(b)
        yield* Effect.flatMap(Conformance.send(context, E.remove.path, { Name: name }), (ex) =>
          Conformance.expectSuccess(ex, E.remove)
        )
      })
  ),
  Conformance.check(
    "With two mount IDs, the first Unmount does not release the volume",
    {
      why: "Two containers mount a volume under two IDs; the driver must release it only on the last Unmount, or the second container loses its data under it. Seen through Remove: a driver that refuses Remove while both are mounted must still refuse it after one Unmount. (Skipped for a driver that does not refuse Remove while mounted.)"
    },
    (context) =>
      Effect.gen(function* () {
        const name = yield* created(context, "held")
        const [a, b] = [mountId(), mountId()]
        const call = (endpoint: typeof E.mount | typeof E.unmount, ID: string) =>
          Effect.flatMap(Conformance.send(context, endpoint.path, { Name: name, ID }), (ex) =>
            Conformance.expectSuccess(ex, endpoint)
          )
        yield* call(E.mount, a)
        yield* call(E.mount, b)
        if (succeeded(yield* Conformance.send(context, E.remove.path, { Name: name }))) return
        yield* call(E.unmount, a)
        const afterOne = yield* Conformance.send(context, E.remove.path, { Name: name })
        if (succeeded(afterOne)) {
          yield* Conformance.fail(
            afterOne,
            "Remove was refused while two mount IDs held the volume but succeeded after one Unmount: the driver released the volume on the first Unmount, under the container that still has it mounted"
          )
        }
        yield* call(E.unmount, b)
      })
  ),
  Conformance.check(
    "A name with / is refused, or mounts outside the volume named by its first part",
    {
      why: "The daemon passes names with / through (docker volume create a/b, -v a/b:/dst); a driver that joins the name to its folder puts volume a/b inside volume a: a's containers see b's data, and removing a deletes it."
    },
    (context) =>
      Effect.gen(function* () {
        const parent = yield* created(context, "parent")
        const child = `${parent}/child`
        if (!succeeded(yield* Conformance.send(context, E.create.path, { Name: child, Opts: null }))) return
        yield* Effect.addFinalizer(() => Effect.ignore(context.client.exchange(E.remove.path, { Name: child })))
        const outer = yield* mounted(context, parent)
        const inner = yield* mounted(context, child)
        if (outer.mountpoint === undefined || inner.mountpoint === undefined) return
        if (inner.mountpoint === outer.mountpoint || inner.mountpoint.startsWith(`${outer.mountpoint}/`)) {
          yield* Conformance.fail(
            inner.ex,
            `Mount of "${child}" answered "${inner.mountpoint}", inside the mountpoint "${outer.mountpoint}" of volume "${parent}"`
          )
        }
      })
  ),
  Conformance.check(
    "Unmount of an unknown ID succeeds",
    {
      severity: "warning",
      why: "Mount IDs survive daemon restarts, so Unmount can name an ID the plugin never saw; it should answer success."
    },
    (context) =>
      Effect.gen(function* () {
        const name = yield* created(context, "unmount")
        yield* Effect.flatMap(Conformance.send(context, E.unmount.path, { Name: name, ID: mountId() }), (ex) =>
          Conformance.expectSuccess(ex, E.unmount)
        )
      })
  ),
  Conformance.check(
    "A mount ID mounted twice is held until it is unmounted twice (docker cp)",
    {
      severity: "warning",
      why: "For docker cp the daemon mounts a running container's volume again with the same ID and unmounts it once (moby 34665, 35120); a driver that counts the ID once releases the volume under the container."
    },
    (context) =>
      Effect.gen(function* () {
        const name = yield* created(context, "cp")
        const id = mountId()
        const call = (endpoint: typeof E.mount | typeof E.unmount) =>
          Effect.flatMap(Conformance.send(context, endpoint.path, { Name: name, ID: id }), (ex) =>
            Effect.as(Conformance.expectSuccess(ex, endpoint), ex)
          )
        yield* call(E.mount)
        yield* call(E.mount)
        yield* call(E.unmount)
        // Still held once: the daemon refuses to remove a volume in use, and so must the driver.
        yield* Effect.flatMap(Conformance.send(context, E.remove.path, { Name: name }), (ex) =>
          Conformance.expectCleanFailure(ex, E.remove)
        )
        yield* call(E.unmount)
      })
  ),
  Conformance.check(
    "Get of an unknown volume answers Err (or Volume null)",
    {
      why: "The daemon calls Get for names no driver has, before every create and on every driver; it must fail cleanly."
    },
    (context) =>
      Effect.flatMap(Conformance.send(context, E.get.path, { Name: context.unique("missing") }), (ex) =>
        Conformance.expectCleanFailure(ex, E.get, {
          acceptAlso: isNullVolume
        })
      )
  ),
  Conformance.check(
    "Remove, Mount and Path of an unknown volume answer Err",
    { why: "Failures must carry a non-empty Err so the daemon can show why." },
    (context) =>
      Effect.gen(function* () {
        const name = context.unique("missing")
        const calls = [
          [E.remove, { Name: name }],
          [E.mount, { Name: name, ID: mountId() }],
          [E.path, { Name: name }]
        ] as const
        for (const [endpoint, body] of calls) {
          const ex = yield* Conformance.send(context, endpoint.path, body)
          yield* Conformance.expectCleanFailure(ex, endpoint)
        }
      })
  ),
  Conformance.check(
    "Unknown endpoints answer 404",
    { severity: "warning", why: "404 is how the daemon learns that an optional endpoint is not implemented." },
    (context) =>
      Effect.flatMap(Conformance.send(context, "/VolumeDriver.NoSuchMethod", {}), (ex) =>
        ex.response.status === 404
          ? Effect.void
          : Conformance.fail(ex, `an unknown endpoint answered status ${ex.response.status} instead of 404`)
      )
  )
]

/**
 * The suite.
 *
 * @since 0.1.0
 */
export const suite: Conformance.Suite = { api: VolumeDriver.Api, checks }
