/**
 * `Mounts` without root: a mount table kept in memory (nothing is merged; a "mounted" folder stays as it is),
 * copies done with Node's `fs.cp` (owners kept too when running as root, as `cp -a` keeps them), and the claims of
 * roots in a map of root to owner pid, which services may share (the drivers of one process, or of a host) and tests
 * may fill (another process' live claim). For testing a driver's rules and counts anywhere.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { GraphRootInUse } from "./GraphErrors.ts"
import { MountError, Mounts } from "./Mounts.ts"

/** Gives everything under `to` the owner of its counterpart under `from` (which `fs.cp` does not copy). */
const copyOwners = (from: string, to: string) => {
  const stat = Fs.lstatSync(from)
  Fs.lchownSync(to, stat.uid, stat.gid)
  if (stat.isDirectory())
    for (const name of Fs.readdirSync(from)) copyOwners(Path.join(from, name), Path.join(to, name))
}

/**
 * Claimed roots, by path, with the pid of the process that holds each (this one's for the claims made here).
 *
 * @since 0.1.0
 */
export type Owners = Map<string, number>

/**
 * Claims `root` in `owners` until the scope closes, as `MountsNode` does in `ROOT/owner.pid`: any entry is a live
 * owner (a dead one's is the test's to delete).
 */
const claimIn = (owners: Owners, root: string) =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const owner = owners.get(root)
      if (owner !== undefined) {
        return Effect.fail(new GraphRootInUse({ root, owner, inThisProcess: owner === process.pid }))
      }
      owners.set(root, process.pid)
      return Effect.void
    }),
    () => Effect.sync(() => owners.delete(root))
  )

/**
 * The service with its table, so tests can look at what is mounted, and its claims (`owners`, fresh unless given).
 *
 * @since 0.1.0
 */
export const make = (
  owners: Owners = new Map()
): Mounts["Service"] & { readonly table: Set<string>; readonly owners: Owners } => {
  const table = new Set<string>()
  return {
    table,
    owners,
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
      }),
    claimRoot: (root) => claimIn(owners, root)
  }
}

/**
 * A fresh memory Layer; with `owners`, its claims are kept there (shared with other services given the same map).
 *
 * @since 0.1.0
 */
export const layer = (owners?: Owners): Layer.Layer<Mounts> => Layer.sync(Mounts, () => make(owners))
