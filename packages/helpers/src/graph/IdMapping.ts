/**
 * The daemon's user-namespace remapping (`dockerd --userns-remap`) as a graph driver sees it: the ranges of user and
 * group IDs that `GraphDriver.Init` sends, which map the IDs inside containers (those of image layers) to the IDs
 * their files have on the host. A layer is applied with its owners moved to host IDs, and written out with them
 * moved back, as the daemon's own drivers do; an ID outside the ranges has no counterpart and is refused.
 *
 * @since 0.1.0
 */
import type { GraphDriver } from "@docker-plugin-kit/protocol"
import * as Result from "effect/Result"

/**
 * One range: `size` IDs from `container` inside map to as many from `host` outside.
 *
 * @since 0.1.0
 */
export interface Range {
  readonly container: number
  readonly host: number
  readonly size: number
}

/**
 * The ranges of user IDs and of group IDs.
 *
 * @since 0.1.0
 */
export interface IdMapping {
  readonly uids: ReadonlyArray<Range>
  readonly gids: ReadonlyArray<Range>
}

/**
 * The mapping of `Init`'s `UIDMaps` and `GIDMaps`; `undefined` when both are empty (no remapping: IDs are kept).
 *
 * @since 0.1.0
 */
export const fromInit = (
  uidMaps: ReadonlyArray<GraphDriver.IdMap> | null,
  gidMaps: ReadonlyArray<GraphDriver.IdMap> | null
): IdMapping | undefined => {
  const ranges = (maps: ReadonlyArray<GraphDriver.IdMap> | null): ReadonlyArray<Range> =>
    (maps ?? []).map((m) => ({ container: m.container_id, host: m.host_id, size: m.size }))
  const uids = ranges(uidMaps)
  const gids = ranges(gidMaps)
  return uids.length === 0 && gids.length === 0 ? undefined : { uids, gids }
}

const translate = (
  ranges: ReadonlyArray<Range>,
  id: number,
  from: "container" | "host",
  to: "container" | "host"
): number | undefined => {
  // No ranges for this kind of ID: it is not remapped.
  if (ranges.length === 0) return id
  for (const range of ranges) {
    const offset = id - range[from]
    if (offset >= 0 && offset < range.size) return range[to] + offset
  }
  return undefined
}

/**
 * The host user ID of a container user ID; `undefined` when no range holds it.
 *
 * @since 0.1.0
 */
export const hostUid = (mapping: IdMapping, uid: number): number | undefined =>
  translate(mapping.uids, uid, "container", "host")

/**
 * The host group ID of a container group ID; `undefined` when no range holds it.
 *
 * @since 0.1.0
 */
export const hostGid = (mapping: IdMapping, gid: number): number | undefined =>
  translate(mapping.gids, gid, "container", "host")

/**
 * The container user ID of a host user ID; `undefined` when no range holds it.
 *
 * @since 0.1.0
 */
export const containerUid = (mapping: IdMapping, uid: number): number | undefined =>
  translate(mapping.uids, uid, "host", "container")

/**
 * The container group ID of a host group ID; `undefined` when no range holds it.
 *
 * @since 0.1.0
 */
export const containerGid = (mapping: IdMapping, gid: number): number | undefined =>
  translate(mapping.gids, gid, "host", "container")

/**
 * A file's owner.
 *
 * @since 0.1.0
 */
export interface Owner {
  readonly uid: number
  readonly gid: number
}

/** Moves both IDs of `owner`; fails naming the first one no range holds (`user 70000`, `group 5`). */
const moveOwner = (mapping: IdMapping, owner: Owner, from: "container" | "host"): Result.Result<Owner, string> => {
  const to = from === "container" ? "host" : "container"
  const uid = translate(mapping.uids, owner.uid, from, to)
  if (uid === undefined) return Result.fail(`user ${owner.uid}`)
  const gid = translate(mapping.gids, owner.gid, from, to)
  if (gid === undefined) return Result.fail(`group ${owner.gid}`)
  return Result.succeed({ uid, gid })
}

/**
 * The host owner of a container owner (a layer entry's); fails naming the ID outside the ranges (`user 70000`).
 *
 * @since 0.1.0
 */
export const ownerToHost = (mapping: IdMapping, owner: Owner): Result.Result<Owner, string> =>
  moveOwner(mapping, owner, "container")

/**
 * The container owner of a host owner (a layer file's); fails naming the ID outside the ranges (`user 5`).
 *
 * @since 0.1.0
 */
export const ownerToContainer = (mapping: IdMapping, owner: Owner): Result.Result<Owner, string> =>
  moveOwner(mapping, owner, "host")

/**
 * The host owner of the containers' root (0:0 inside), which owns the folders a driver makes for them; `0:0`
 * when root is not in the ranges.
 *
 * @since 0.1.0
 */
export const hostRoot = (mapping: IdMapping | undefined): Owner =>
  mapping === undefined ? { uid: 0, gid: 0 } : { uid: hostUid(mapping, 0) ?? 0, gid: hostGid(mapping, 0) ?? 0 }
