/**
 * `Mounts` without root: a mount table kept in memory (nothing is merged; a "mounted" folder stays as it is) and
 * copies done with Node's `fs.cp` (owners kept too when running as root, as `cp -a` keeps them). For testing a
 * driver's rules and counts anywhere.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { MountError, Mounts } from "./Mounts.ts"

/** Gives everything under `to` the owner of its counterpart under `from` (which `fs.cp` does not copy). */
const copyOwners = (from: string, to: string) => {
  const stat = Fs.lstatSync(from)
  Fs.lchownSync(to, stat.uid, stat.gid)
  if (stat.isDirectory())
    for (const name of Fs.readdirSync(from)) copyOwners(Path.join(from, name), Path.join(to, name))
}

/**
 * The service with its table, so tests can look at what is mounted.
 *
 * @since 0.1.0
 */
export const make = (): Mounts["Service"] & { readonly table: Set<string> } => {
  const table = new Set<string>()
  return {
    table,
    mountOverlay: ({ target }) =>
      Effect.suspend(() => {
        if (table.has(target)) {
          return Effect.fail(new MountError({ operation: "mount overlay on", path: target, reason: "already mounted" }))
        }
        table.add(target)
        return Effect.void
      }),
    unmount: (target) =>
      Effect.suspend(() =>
        table.delete(target)
          ? Effect.void
          : Effect.fail(new MountError({ operation: "umount", path: target, reason: "not mounted" }))
      ),
    mountedUnder: (folder) =>
      Effect.sync(() => [...table].filter((p) => p.startsWith(folder.endsWith("/") ? folder : `${folder}/`))),
    copy: (from, to) =>
      Effect.try({
        try: () => {
          Fs.cpSync(from, to, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true, force: true })
          if (process.getuid?.() === 0) copyOwners(from, to)
        },
        catch: (e) => new MountError({ operation: "copy", path: from, reason: String(e) })
      })
  }
}

/**
 * A fresh memory Layer.
 *
 * @since 0.1.0
 */
export const layer = (): Layer.Layer<Mounts> => Layer.sync(Mounts, make)
