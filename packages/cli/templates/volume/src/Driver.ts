// The volume driver: one folder per volume under a root folder, mounts counted per ID as the daemon needs.
import { DriverError, VolumeDriver } from "@docker-plugin-kit/protocol"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"

/** A name is one path component: it cannot reach outside the root. */
const checkName = (name: string): Effect.Effect<string, DriverError> =>
  name === "" || name === "." || name === ".." || name.includes("/") || name.includes("\0")
    ? Effect.fail(new DriverError({ message: `invalid volume name ${JSON.stringify(name)}` }))
    : Effect.succeed(name)

/** The driver, keeping its volumes under `root`. */
export const layer = (root: string) =>
  Layer.sync(VolumeDriver.VolumeDriver, () => {
    Fs.mkdirSync(root, { recursive: true })
    // Mount IDs per volume; an ID mounted twice (docker cp does that) is held until unmounted twice.
    const mounts = new Map<string, Array<string>>()
    const folder = (name: string) => Path.join(root, name)
    const existing = (Name: string) =>
      Effect.flatMap(checkName(Name), (name) =>
        Fs.existsSync(folder(name))
          ? Effect.succeed(folder(name))
          : Effect.fail(new DriverError({ message: `no such volume: ${name}` }))
      )
    return VolumeDriver.make({
      create: ({ Name }) =>
        Effect.flatMap(checkName(Name), (name) =>
          Effect.try({
            try: () => {
              Fs.mkdirSync(folder(name), { recursive: true })
              return {}
            },
            catch: (e) => new DriverError({ message: `cannot create ${name}: ${(e as Error).message}` })
          })
        ),
      remove: ({ Name }) =>
        Effect.flatMap(existing(Name), (path) =>
          (mounts.get(Name)?.length ?? 0) > 0
            ? Effect.fail(new DriverError({ message: `volume ${Name} is in use` }))
            : Effect.sync(() => {
                Fs.rmSync(path, { recursive: true, force: true })
                return {}
              })
        ),
      get: ({ Name }) =>
        Effect.map(existing(Name), (Mountpoint) => ({
          Volume: { Name, Mountpoint, Status: { mounts: mounts.get(Name)?.length ?? 0 } }
        })),
      list: () =>
        Effect.sync(() => ({
          Volumes: Fs.readdirSync(root).map((Name) => ({ Name, Mountpoint: folder(Name) }))
        })),
      path: ({ Name }) => Effect.map(existing(Name), (Mountpoint) => ({ Mountpoint })),
      mount: ({ Name, ID }) =>
        Effect.map(existing(Name), (Mountpoint) => {
          mounts.set(Name, [...(mounts.get(Name) ?? []), ID])
          return { Mountpoint }
        }),
      unmount: ({ Name, ID }) =>
        Effect.map(existing(Name), () => {
          const held = mounts.get(Name) ?? []
          const at = held.lastIndexOf(ID)
          // An ID not held is fine: the daemon may unmount after a restart of ours.
          if (at >= 0) mounts.set(Name, held.toSpliced(at, 1))
          return {}
        }),
      capabilities: () => Effect.succeed({ Capabilities: { Scope: "local" as const } })
    })
  })
