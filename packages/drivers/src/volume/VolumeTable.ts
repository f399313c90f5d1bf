/**
 * The state machine of volumes and their mounts, as pure functions over an immutable table. Both reference volume
 * drivers keep their state in one of these, so the rules (reference counting by mount ID, no removal while
 * mounted, idempotent create) are written and tested once, without a disk.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import { VolumeConflict, VolumeInUse, VolumeNotFound } from "./VolumeErrors.ts"

/**
 * One volume.
 *
 * @since 0.1.0
 */
export interface VolumeRecord {
  readonly name: string
  readonly options: Readonly<Record<string, string>>
  /** RFC 3339 creation time. */
  readonly createdAt: string
  /**
   * IDs of the mount operations currently holding the volume, once per Mount: the engine mounts a running
   * container's volume again with the same ID for `docker cp` and unmounts that ID once afterwards (moby issues
   * 34665 and 35120), so an ID is held as many times as it was mounted.
   */
  readonly mounts: ReadonlyArray<string>
}

/**
 * Every volume, by name.
 *
 * @since 0.1.0
 */
export type VolumeTable = ReadonlyMap<string, VolumeRecord>

/**
 * The empty table.
 *
 * @since 0.1.0
 */
export const empty: VolumeTable = new Map()

const sameOptions = (a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean => {
  const ka = Object.keys(a)
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k])
}

const set = (table: VolumeTable, record: VolumeRecord): VolumeTable => new Map(table).set(record.name, record)

/**
 * Looks a volume up.
 *
 * @since 0.1.0
 */
export const get = (table: VolumeTable, name: string): Result.Result<VolumeRecord, VolumeNotFound> => {
  const record = table.get(name)
  return record === undefined ? Result.fail(new VolumeNotFound({ volume: name })) : Result.succeed(record)
}

/**
 * Creates a volume. Creating it again with the same options is a no-op (two daemons may race); with other
 * options it is a conflict.
 *
 * @since 0.1.0
 */
export const create = (
  table: VolumeTable,
  name: string,
  options: Readonly<Record<string, string>>,
  createdAt: string
): Result.Result<{ readonly table: VolumeTable; readonly created: boolean }, VolumeConflict> => {
  const existing = table.get(name)
  if (existing !== undefined) {
    return sameOptions(existing.options, options)
      ? Result.succeed({ table, created: false })
      : Result.fail(new VolumeConflict({ volume: name }))
  }
  return Result.succeed({ table: set(table, { name, options, createdAt, mounts: [] }), created: true })
}

/**
 * Removes a volume that no mount holds.
 *
 * @since 0.1.0
 */
export const remove = (
  table: VolumeTable,
  name: string
): Result.Result<{ readonly table: VolumeTable; readonly removed: VolumeRecord }, VolumeNotFound | VolumeInUse> =>
  Result.flatMap(get(table, name), (record) => {
    if (record.mounts.length > 0) return Result.fail(new VolumeInUse({ volume: name, mounts: record.mounts.length }))
    const next = new Map(table)
    next.delete(name)
    return Result.succeed({ table: next, removed: record })
  })

/**
 * Records a mount. `first` is true when no other mount held the volume (the driver prepares the path then).
 * Mounting twice with the same ID counts twice, and takes two Unmounts to release.
 *
 * @since 0.1.0
 */
export const mount = (
  table: VolumeTable,
  name: string,
  id: string
): Result.Result<
  { readonly table: VolumeTable; readonly first: boolean; readonly record: VolumeRecord },
  VolumeNotFound
> =>
  Result.map(get(table, name), (record) => {
    const next = { ...record, mounts: [...record.mounts, id] }
    return { table: set(table, next), first: record.mounts.length === 0, record: next }
  })

/**
 * Releases one hold of a mount ID. `last` is true when it was the last hold of any ID (the driver releases the path
 * then). An ID the volume does not hold changes nothing and succeeds: the daemon unmounts IDs it never mounted
 * after a `docker cp`, and failing would only leave the container unable to stop cleanly.
 *
 * @since 0.1.0
 */
export const unmount = (
  table: VolumeTable,
  name: string,
  id: string
): Result.Result<
  { readonly table: VolumeTable; readonly last: boolean; readonly record: VolumeRecord },
  VolumeNotFound
> =>
  Result.map(get(table, name), (record) => {
    const at = record.mounts.lastIndexOf(id)
    if (at < 0) return { table, last: false, record }
    const next = { ...record, mounts: record.mounts.toSpliced(at, 1) }
    return { table: set(table, next), last: next.mounts.length === 0, record: next }
  })
