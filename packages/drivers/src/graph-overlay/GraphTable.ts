/**
 * The rules of a graph driver as pure functions over an immutable table of layers: which layers exist, their
 * parents, and how many `Get`s hold each. No I/O: the driver performs the side effects a transition asks for
 * (mount on the first `Get`, unmount on the last `Put`).
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import {
  type GraphError,
  InvalidLayerId,
  LayerExists,
  LayerHasChildren,
  LayerInUse,
  LayerNotFound,
  LayerNotMounted,
  LayerTooDeep
} from "./GraphErrors.ts"

/**
 * One layer.
 *
 * @since 0.1.0
 */
export interface LayerRecord {
  readonly id: string
  /** Absent for a base layer. */
  readonly parent?: string
  /** `Get`s not yet balanced by a `Put`. */
  readonly mounts: number
}

/**
 * Every layer by ID.
 *
 * @since 0.1.0
 */
export type GraphTable = ReadonlyMap<string, LayerRecord>

/**
 * An empty table.
 *
 * @since 0.1.0
 */
export const empty: GraphTable = new Map()

const idPattern = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/

/**
 * Checks that an ID can name a folder of its own: letters, digits, `_`, `.`, `-`, not starting with a dot
 * (the daemon sends 64 hex digits, or that plus `-init`).
 *
 * @since 0.1.0
 */
export const validateId = (id: string): Result.Result<string, InvalidLayerId> => {
  if (id === "") return Result.fail(new InvalidLayerId({ layer: id, reason: "it is empty" }))
  if (id.length > 200) return Result.fail(new InvalidLayerId({ layer: id, reason: "it is longer than 200 characters" }))
  if (!idPattern.test(id)) {
    return Result.fail(
      new InvalidLayerId({ layer: id, reason: "only letters, digits, _ . - are allowed, and not a leading dot" })
    )
  }
  return Result.succeed(id)
}

const set = (table: GraphTable, record: LayerRecord): GraphTable => new Map(table).set(record.id, record)

/**
 * The layer, or `LayerNotFound`.
 *
 * @since 0.1.0
 */
export const get = (table: GraphTable, id: string): Result.Result<LayerRecord, LayerNotFound> => {
  const record = table.get(id)
  return record === undefined ? Result.fail(new LayerNotFound({ layer: id })) : Result.succeed(record)
}

/**
 * The most lower folders one overlay mount takes (the kernel's `OVL_MAX_STACK`; a deeper mount fails with "too many
 * lower directories"). The daemon's own overlay2 stops at 128.
 *
 * @since 0.1.0
 */
export const overlayMaxLowers = 500

/**
 * Adds a layer on `parent` (which must exist), refusing one that would stack more than `maxLowers` ancestors.
 *
 * @since 0.1.0
 */
export const create = (
  table: GraphTable,
  id: string,
  parent: string | undefined,
  maxLowers: number = Number.POSITIVE_INFINITY
): Result.Result<GraphTable, GraphError> =>
  Result.flatMap(validateId(id), (): Result.Result<GraphTable, GraphError> => {
    if (table.has(id)) return Result.fail(new LayerExists({ layer: id }))
    if (parent === undefined) return Result.succeed(set(table, { id, mounts: 0 }))
    if (!table.has(parent)) return Result.fail(new LayerNotFound({ layer: parent }))
    const lowers = ancestors(table, parent).length + 1
    if (lowers > maxLowers) return Result.fail(new LayerTooDeep({ layer: id, parent, lowers, limit: maxLowers }))
    return Result.succeed(set(table, { id, parent, mounts: 0 }))
  })

/**
 * The table of the layers found on disk, and those left out with why: an ID that does not validate, a parent that
 * is not among them (or does not validate), a chain of parents that loops. Every layer kept reaches a base layer
 * through kept layers, so its lower folders are all the driver's own.
 *
 * @since 0.1.0
 */
export const fromDisk = (
  found: ReadonlyArray<LayerRecord>
): {
  readonly table: GraphTable
  readonly skipped: ReadonlyArray<{ readonly id: string; readonly reason: string }>
} => {
  const byId = new Map(found.map((r) => [r.id, r]))
  const skipped: Array<{ id: string; reason: string }> = []
  // undefined: kept. Walked without recursion, each layer once: a chain on disk may be as long as anyone made it.
  const verdicts = new Map<string, string | undefined>()
  const verdict = (id: string): string | undefined => {
    const path: Array<string> = []
    const onPath = new Set<string>()
    let current: string | undefined = id
    let failing: { readonly layer: string; readonly why: string } | undefined
    while (current !== undefined && failing === undefined) {
      if (verdicts.has(current)) {
        const known = verdicts.get(current)
        if (known !== undefined) failing = { layer: current, why: known }
        break
      }
      const record = byId.get(current)
      if (onPath.has(current))
        failing = { layer: current, why: `its parents loop (${[...path, current].join(" -> ")})` }
      else if (record === undefined) failing = { layer: path.at(-1)!, why: `its parent ${current} is not on disk` }
      else if (Result.isFailure(validateId(current))) failing = { layer: current, why: "its ID is not valid" }
      else {
        path.push(current)
        onPath.add(current)
        current = record.parent
      }
    }
    for (const layer of path) {
      verdicts.set(
        layer,
        failing === undefined || failing.layer === layer ? failing?.why : `its ancestor ${failing.layer} is left out`
      )
    }
    return verdicts.get(id) ?? (failing?.layer === id ? failing.why : undefined)
  }
  const table = new Map<string, LayerRecord>()
  for (const record of found) {
    const reason = verdict(record.id)
    if (reason === undefined) table.set(record.id, record)
    else skipped.push({ id: record.id, reason })
  }
  return { table, skipped }
}

/**
 * The layers built directly on `id`.
 *
 * @since 0.1.0
 */
export const children = (table: GraphTable, id: string): Array<string> =>
  [...table.values()].filter((r) => r.parent === id).map((r) => r.id)

/**
 * Removes a layer that nothing holds and nothing is built on.
 *
 * @since 0.1.0
 */
export const remove = (table: GraphTable, id: string): Result.Result<GraphTable, GraphError> =>
  Result.flatMap(get(table, id), (record): Result.Result<GraphTable, GraphError> => {
    if (record.mounts > 0) return Result.fail(new LayerInUse({ layer: id, mounts: record.mounts }))
    const built = children(table, id)
    if (built.length > 0) return Result.fail(new LayerHasChildren({ layer: id, children: built }))
    const next = new Map(table)
    next.delete(id)
    return Result.succeed(next)
  })

/**
 * Counts one more `Get`; `first` tells the driver to mount.
 *
 * @since 0.1.0
 */
export const acquire = (
  table: GraphTable,
  id: string
): Result.Result<{ readonly table: GraphTable; readonly first: boolean }, LayerNotFound> =>
  Result.map(get(table, id), (record) => ({
    table: set(table, { ...record, mounts: record.mounts + 1 }),
    first: record.mounts === 0
  }))

/**
 * Counts one `Put`; `last` tells the driver to unmount.
 *
 * @since 0.1.0
 */
export const release = (
  table: GraphTable,
  id: string
): Result.Result<{ readonly table: GraphTable; readonly last: boolean }, LayerNotFound | LayerNotMounted> =>
  Result.flatMap(get(table, id), (record) =>
    record.mounts === 0
      ? Result.fail(new LayerNotMounted({ layer: id }))
      : Result.succeed({ table: set(table, { ...record, mounts: record.mounts - 1 }), last: record.mounts === 1 })
  )

/**
 * The ancestors of a layer, nearest first (its parent, the parent's parent, ...).
 *
 * @since 0.1.0
 */
export const ancestors = (table: GraphTable, id: string): Array<string> => {
  const chain: Array<string> = []
  let current = table.get(id)?.parent
  while (current !== undefined && !chain.includes(current)) {
    chain.push(current)
    current = table.get(current)?.parent
  }
  return chain
}

/**
 * Every layer with its mounts dropped to zero (after `Cleanup` unmounted everything).
 *
 * @since 0.1.0
 */
export const releaseAll = (table: GraphTable): GraphTable =>
  new Map([...table].map(([id, record]) => [id, { ...record, mounts: 0 }] as const))
