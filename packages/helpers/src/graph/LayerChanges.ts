/**
 * What a layer changes compared with its parent, found without reading file contents, in the order a layer tar
 * lists it (a folder before what it holds, names sorted), and produced lazily, one path at a time:
 *
 * - `Naive`: a folder holding the whole image compared with its parent's folder (added, modified, deleted).
 * - `Overlay`: an overlay upper folder, whose whiteouts (0/0 character devices) are deletions and whose folders
 *   marked `trusted.overlay.opaque=y` hide everything below them; a path is "modified" when a lower folder has it.
 *   For `changes`, what an opaque folder replaced is compared with the lower folders merged (deleted, modified or
 *   added), as the daemon's naive comparison of the two mounted trees lists it.
 *
 * `changes` is what the daemon's `Changes` answers, `size` what `DiffSize` answers; `LayerDiff` turns the same
 * walk into a tar.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as LayerPath from "./LayerPath.ts"
import { ioError, type LayerIoError } from "./LayerTarError.ts"
import * as FileName from "./FileName.ts"
import * as SpecialFiles from "./SpecialFiles.ts"
import * as XattrSlices from "./internal/xattrSlices.ts"

/**
 * Kind of a change as the daemon numbers it: 0 modified, 1 added, 2 deleted.
 *
 * @since 0.1.0
 */
export const Kind = { Modify: 0, Add: 1, Delete: 2 } as const

/**
 * @since 0.1.0
 */
export type Kind = (typeof Kind)[keyof typeof Kind]

/**
 * Where a layer's changes are read from.
 *
 * @since 0.1.0
 */
export type Source =
  | { readonly _tag: "Naive"; readonly layer: string; readonly parent?: string }
  | { readonly _tag: "Overlay"; readonly upper: string; readonly lowers: ReadonlyArray<string> }

/**
 * A folder with the whole image, compared with its parent's (none: everything is added).
 *
 * @since 0.1.0
 */
export const naive = (layer: string, parent?: string): Source =>
  parent === undefined ? { _tag: "Naive", layer } : { _tag: "Naive", layer, parent }

/**
 * An overlay upper folder over its lower folders (top first).
 *
 * @since 0.1.0
 */
export const overlay = (upper: string, lowers: ReadonlyArray<string>): Source => ({ _tag: "Overlay", upper, lowers })

/**
 * One changed path. `stat` is the path's in the layer (for a deletion in a naive source, the parent's);
 * `opaque` marks an overlay folder that hides the lower layers' content.
 *
 * @since 0.1.0
 */
export interface Item {
  readonly path: string
  readonly kind: Kind
  readonly stat: Fs.BigIntStats
  readonly opaque: boolean
  /** Extended attributes of the path, overlayfs' own left out. */
  readonly xattrs: Readonly<Record<string, Uint8Array>>
}

/**
 * Yielded by `items` in place of an item when the walk must wait for what it reads next (the extended attributes
 * of the path it has reached): run `ready`, then go on reading (until then the walk yields it again).
 *
 * @since 0.1.0
 */
export class Pending {
  readonly ready: Effect.Effect<void, LayerIoError>
  constructor(ready: Effect.Effect<void, LayerIoError>) {
    this.ready = ready
  }
}

/** Extended attributes by relative path, read once for the whole folder. */
type Xattrs = ReadonlyMap<string, Readonly<Record<string, Uint8Array>>>

/** Extended attributes by relative path, as far as they are read (see `Pending`). */
interface XattrsLookup {
  readonly get: (rel: string) => Readonly<Record<string, Uint8Array>> | undefined
}

const none: Readonly<Record<string, Uint8Array>> = {}

// Paths go to the file system as their bytes, and names come back as theirs (see FileName).
const lstat = (path: string): Fs.BigIntStats | undefined =>
  Fs.lstatSync(FileName.fsPath(path), { bigint: true, throwIfNoEntry: false })

const sortedNames = (path: string): Array<string> => FileName.readdir(path).sort()

/** overlayfs' "y" (one byte). */
const isYes = (value: Uint8Array | undefined) => value?.length === 1 && value[0] === 0x79

const isWhiteout = (s: Fs.BigIntStats) => s.isCharacterDevice() && s.rdev === 0n

/**
 * The one attribute the daemon's naive comparison reads besides the stat (archive's `walkchunk`): a `setcap` changes
 * neither size nor mtime, and would otherwise be lost from the layer.
 */
const capability = "security.capability"

/** `getfattr`'s `-m` for that attribute alone. */
const capabilityMatch = "^security\\.capability$"

/** The file capabilities under `root` (none without a folder). */
const capabilitiesOf = (root: string | undefined): Effect.Effect<Xattrs, LayerIoError> =>
  root === undefined ? Effect.succeed(new Map()) : SpecialFiles.readXattrsTree(root, capabilityMatch)

const sameBytes = (a: Uint8Array | undefined, b: Uint8Array | undefined) =>
  a === undefined || b === undefined ? a === b : Buffer.from(a).equals(b)

const visibleXattrs = (all: XattrsLookup, rel: string): Readonly<Record<string, Uint8Array>> => {
  const found = all.get(rel)
  if (found === undefined) return none
  const kept = Object.entries(found).filter(([name]) => !name.startsWith("trusted.overlay."))
  return kept.length === 0 ? none : Object.fromEntries(kept)
}

/** Yields a `Pending` until `path`'s attributes are known (see `XattrSlices`). */
function* known(until: XattrSlices.Reader["pending"], path: string): Generator<Pending> {
  for (let wait = until(path); wait !== undefined; wait = until(path)) yield new Pending(wait)
}

/**
 * One side of the naive comparison, by path relative to its root: a folder on disk, or lower layers merged.
 */
interface Tree {
  readonly lstat: (rel: string) => Fs.BigIntStats | undefined
  /** The names in folder `rel`, sorted. */
  readonly names: (rel: string) => Array<string>
  readonly readlink: (rel: string) => string
  /** The path's `security.capability`, if it has one. */
  readonly capability: (rel: string) => Uint8Array | undefined
}

/** Folder `root` on disk; `xattrs`: its extended attributes (at least its capabilities). */
const folderTree = (root: string, xattrs: XattrsLookup): Tree => {
  const at = LayerPath.under(root)
  return {
    lstat: (rel) => lstat(at(rel)),
    names: (rel) => sortedNames(at(rel)),
    readlink: (rel) => FileName.readlink(at(rel)),
    capability: (rel) => xattrs.get(rel)?.[capability]
  }
}

const opaqueMarker = "trusted.overlay.opaque"

/** `tree` with its whiteouts left out (below an opaque folder they hide nothing the opaque marker does not). */
const withoutWhiteouts = (tree: Tree): Tree => {
  const lstat = (rel: string) => {
    const s = tree.lstat(rel)
    return s === undefined || isWhiteout(s) ? undefined : s
  }
  return { ...tree, lstat, names: (rel) => tree.names(rel).filter((name) => lstat(LayerPath.join(rel, name))) }
}

/**
 * The lower folders of an overlay (top first) as overlayfs merges them, read without mounting: a whiteout hides the
 * name in the layers below it, and a folder marked opaque or anything that is not a folder ends the merge of a
 * path there. `xattrs`: each layer's opaque markers and capabilities.
 */
const mergedTree = (lowers: ReadonlyArray<string>, xattrs: ReadonlyArray<Xattrs>): Tree => {
  const ats = lowers.map(LayerPath.under)
  const isOpaque = (layer: number, rel: string) => isYes(xattrs[layer]?.get(rel)?.[opaqueMarker])
  /** The layer showing a path with its stat, and the layers (top first) whose folders at that path are merged. */
  interface Shown {
    readonly layer: number
    readonly stat: Fs.BigIntStats
    readonly merged: ReadonlyArray<number>
  }
  // The root: every layer's, down to the first marked opaque.
  const opaqueRoot = ats.findIndex((_, i) => isOpaque(i, ""))
  const root: Shown = {
    layer: 0,
    stat: lstat(ats[0]!(""))!,
    merged: ats.map((_, i) => i).slice(0, opaqueRoot < 0 ? ats.length : opaqueRoot + 1)
  }
  // Folders resolved so far: each path is then resolved from its folder's layers, not again from the root.
  const folders = new Map<string, Shown>([["", root]])
  const resolve = (rel: string): Shown | undefined => {
    const known = folders.get(rel)
    if (known !== undefined) return known
    const within = resolve(LayerPath.dirname(rel))
    if (within === undefined || !within.stat.isDirectory()) return undefined
    const merged: Array<number> = []
    let shown: { readonly layer: number; readonly stat: Fs.BigIntStats } | undefined
    for (const i of within.merged) {
      const s = lstat(ats[i]!(rel))
      if (s === undefined) continue
      if (isWhiteout(s)) break
      shown ??= { layer: i, stat: s }
      if (!s.isDirectory()) break
      merged.push(i)
      if (isOpaque(i, rel)) break
    }
    const found = shown === undefined ? undefined : { ...shown, merged }
    if (found?.stat.isDirectory()) folders.set(rel, found)
    return found
  }
  return {
    lstat: (rel) => resolve(rel)?.stat,
    names: (rel) => {
      const found = resolve(rel)
      if (found === undefined || !found.stat.isDirectory()) return []
      const shown = new Set<string>()
      const hidden = new Set<string>()
      for (const i of found.merged) {
        for (const name of sortedNames(ats[i]!(rel))) {
          if (shown.has(name) || hidden.has(name)) continue
          const s = lstat(ats[i]!(LayerPath.join(rel, name)))
          if (s !== undefined && isWhiteout(s)) hidden.add(name)
          else shown.add(name)
        }
      }
      return [...shown].sort()
    },
    readlink: (rel) => FileName.readlink(ats[resolve(rel)?.layer ?? 0]!(rel)),
    capability: (rel) => {
      const found = resolve(rel)
      return found === undefined ? undefined : xattrs[found.layer]?.get(rel)?.[capability]
    }
  }
}

/** Whether `path` differs from the parent's, as the daemon's naive comparison sees it. */
const differs = (l: Fs.BigIntStats, p: Fs.BigIntStats, layer: Tree, parent: Tree, path: string): boolean => {
  if ((l.mode & 0o170000n) !== (p.mode & 0o170000n)) return true
  if (!sameBytes(layer.capability(path), parent.capability(path))) return true
  if ((l.mode & 0o7777n) !== (p.mode & 0o7777n) || l.uid !== p.uid || l.gid !== p.gid || l.rdev !== p.rdev) {
    return true
  }
  // A folder's own times change with its content; its content is compared path by path instead.
  if (l.isDirectory()) return false
  if (l.size !== p.size || l.mtimeNs !== p.mtimeNs) return true
  return l.isSymbolicLink() && layer.readlink(path) !== parent.readlink(path)
}

/**
 * The naive comparison of what is below folder `from` in `layer` and in `parent` (everything added without one).
 * `xattrs`: the layer's extended attributes, given with its items.
 */
function* naiveFolder(
  layer: Tree,
  parent: Tree | undefined,
  xattrs: XattrsLookup,
  from: string,
  until?: XattrSlices.Reader["pending"]
): Generator<Item | Pending> {
  // Folders unchanged themselves, listed only once something below them changed.
  const pending: Array<Item> = []
  const item = (path: string, kind: Kind, stat: Fs.BigIntStats): Item => ({
    path,
    kind,
    stat,
    opaque: false,
    xattrs: kind === Kind.Delete ? none : visibleXattrs(xattrs, path)
  })
  function* emit(change: Item): Generator<Item> {
    yield* pending.splice(0)
    yield change
  }
  function* added(rel: string): Generator<Item | Pending> {
    for (const name of layer.names(rel)) {
      const path = LayerPath.join(rel, name)
      if (until?.(path) !== undefined) yield* known(until, path)
      const stat = layer.lstat(path)!
      yield* emit(item(path, Kind.Add, stat))
      if (stat.isDirectory()) yield* added(path)
    }
  }
  function* folder(rel: string): Generator<Item | Pending> {
    const names = new Set(layer.names(rel))
    if (parent !== undefined) for (const name of parent.names(rel)) names.add(name)
    for (const name of [...names].sort()) {
      const path = LayerPath.join(rel, name)
      const l = layer.lstat(path)
      const p = parent?.lstat(path)
      if (l === undefined) {
        if (p !== undefined) yield* emit(item(path, Kind.Delete, p))
        continue
      }
      // A deletion needs no attributes; anything else may need the layer's, and the parent's capability.
      if (until?.(path) !== undefined) yield* known(until, path)
      if (p === undefined) {
        yield* emit(item(path, Kind.Add, l))
        if (l.isDirectory()) yield* added(path)
        continue
      }
      const changed = differs(l, p, layer, parent!, path)
      if (l.isDirectory() && p.isDirectory()) {
        const self = item(path, Kind.Modify, l)
        if (changed) yield* emit(self)
        else pending.push(self)
        yield* folder(path)
        if (pending.at(-1) === self) pending.pop()
      } else if (l.isDirectory()) {
        yield* emit(item(path, Kind.Modify, l))
        yield* added(path)
      } else if (changed) yield* emit(item(path, Kind.Modify, l))
    }
  }
  yield* folder(from)
}

/**
 * `xattrs`: the layer's (at least its capabilities); `parentCapabilities`: the parent's file capabilities. `until`:
 * given, both are still being read (`XattrSlices`), and the walk yields a `Pending` until a path's are known.
 */
function naiveItems(
  layer: string,
  parent: string | undefined,
  xattrs: Xattrs,
  parentCapabilities: Xattrs
): Generator<Item>
function naiveItems(
  layer: string,
  parent: string | undefined,
  xattrs: XattrsLookup,
  parentCapabilities: XattrsLookup,
  until: XattrSlices.Reader["pending"]
): Generator<Item | Pending>
function naiveItems(
  layer: string,
  parent: string | undefined,
  xattrs: XattrsLookup,
  parentCapabilities: XattrsLookup,
  until?: XattrSlices.Reader["pending"]
): Generator<Item | Pending> {
  return naiveFolder(
    folderTree(layer, xattrs),
    parent === undefined ? undefined : folderTree(parent, parentCapabilities),
    xattrs,
    "",
    until
  )
}

/**
 * `lowerXattrs` (each lower's opaque markers and capabilities, top first): given, what a folder made opaque over a
 * lower folder replaced is compared with the lowers merged, as the daemon's naive comparison of the two mounted
 * trees shows it (`rm -rf d && mkdir d`: what `d` held is deleted, a name made again is modified); without, all
 * below it is added (enough for the tar, whose opaque marker removes the rest). `until`: given, the upper folder's
 * attributes are still being read (`XattrSlices`), and the walk yields a `Pending` until a path's are known.
 * `modified: false`: what is not deleted is "added", without looking for it in every lower (the tar needs no more).
 */
function overlayItems(
  upper: string,
  lowers: ReadonlyArray<string>,
  xattrs: Xattrs,
  lowerXattrs?: ReadonlyArray<Xattrs>
): Generator<Item>
function overlayItems(
  upper: string,
  lowers: ReadonlyArray<string>,
  xattrs: XattrsLookup,
  lowerXattrs: undefined,
  until: XattrSlices.Reader["pending"],
  modified: boolean
): Generator<Item | Pending>
function* overlayItems(
  upper: string,
  lowers: ReadonlyArray<string>,
  xattrs: XattrsLookup,
  lowerXattrs?: ReadonlyArray<Xattrs>,
  until?: XattrSlices.Reader["pending"],
  modified = true
): Generator<Item | Pending> {
  const inUpper = LayerPath.under(upper)
  // Without `modified`, no path is looked up in the lowers: everything but a deletion is "added".
  const inLowers = modified ? lowers.map(LayerPath.under) : []
  const inLower = (rel: string) => inLowers.some((inLower) => lstat(inLower(rel)) !== undefined)
  const compared =
    lowerXattrs === undefined || lowers.length === 0
      ? undefined
      : { upper: withoutWhiteouts(folderTree(upper, xattrs)), lowers: mergedTree(lowers, lowerXattrs) }
  function* folder(rel: string, hidden: boolean): Generator<Item | Pending> {
    for (const name of sortedNames(inUpper(rel))) {
      const path = LayerPath.join(rel, name)
      const stat = lstat(inUpper(path))!
      if (isWhiteout(stat)) {
        yield { path, kind: Kind.Delete, stat, opaque: false, xattrs: none }
        continue
      }
      if (until?.(path) !== undefined) yield* known(until, path)
      const opaque = stat.isDirectory() && isYes(xattrs.get(path)?.[opaqueMarker])
      const kind = !hidden && inLower(path) ? Kind.Modify : Kind.Add
      yield { path, kind, stat, opaque, xattrs: visibleXattrs(xattrs, path) }
      if (!stat.isDirectory()) continue
      if (opaque && !hidden && compared?.lowers.lstat(path)?.isDirectory()) {
        yield* naiveFolder(compared.upper, compared.lowers, xattrs, path)
      } else yield* folder(path, hidden || opaque)
    }
  }
  yield* folder("", false)
}

/**
 * Options of `items`.
 *
 * @since 0.1.0
 */
export interface ItemsOptions {
  /**
   * Whether an overlay source tells modified paths from added ones (`true` by default): each path is then looked up
   * in every lower folder. `false` reports them all as added, as a layer tar needs nothing more (`LayerDiff`).
   */
  readonly modified?: boolean
}

/**
 * The changes of `source`, one by one. The walk runs as the iterable is read (a layer is never held whole). The
 * extended attributes (a naive source's, and its parent's capabilities) are read in slices beside the walk, in the
 * scope: where the walk reaches a path whose slice is still being read, it yields a `Pending` to run before reading
 * on.
 *
 * @since 0.1.0
 */
export const items = (
  source: Source,
  options: ItemsOptions = {}
): Effect.Effect<Iterable<Item | Pending>, LayerIoError, Scope.Scope> =>
  source._tag === "Naive"
    ? Effect.map(
        Effect.all([
          sliced(source.layer),
          source.parent === undefined ? Effect.succeed(undefined) : sliced(source.parent, capabilityOnly)
        ]),
        ([layer, parent]) => {
          const noParent: Xattrs = new Map()
          const until = (rel: string) => layer.pending(rel) ?? parent?.pending(rel)
          return {
            [Symbol.iterator]: () => naiveItems(source.layer, source.parent, layer, parent ?? noParent, until)
          }
        }
      )
    : Effect.map(sliced(source.upper), (reader) => ({
        [Symbol.iterator]: () =>
          overlayItems(source.upper, source.lowers, reader, undefined, reader.pending, options.modified !== false)
      }))

/** The extended attributes under `root`, read in slices beside the walk (`XattrSlices`). */
const sliced = (root: string, readOf?: XattrSlices.ReadOf) =>
  Effect.suspend(() => {
    const at = LayerPath.under(root)
    return XattrSlices.read(
      root,
      (rel) => sortedNames(at(rel)),
      (rel) => lstat(at(rel))?.isDirectory() === true,
      readOf
    )
  })

/** Reads only file capabilities (what the parent's side of the naive comparison looks at). */
const capabilityOnly: XattrSlices.ReadOf = (root, paths, recursive) =>
  SpecialFiles.readXattrsOf(root, paths, recursive, capabilityMatch)

/** Whether an overlay upper folder has a folder marked opaque (by its extended attributes). */
const hasOpaque = (xattrs: Xattrs) => {
  for (const [path, found] of xattrs) if (path !== "" && isYes(found[opaqueMarker])) return true
  return false
}

/**
 * Reads the changes without their attributes (enough for `Changes` and `DiffSize`). `compareOpaque`: what opaque
 * folders replaced is compared with the lowers (see `overlayItems`), whose opaque markers and capabilities are then
 * read too, only when the upper folder has such a folder.
 */
const quickItems = (source: Source, compareOpaque: boolean): Effect.Effect<Iterable<Item>, LayerIoError> =>
  source._tag === "Naive"
    ? Effect.map(
        // Only capabilities tell a change the stat does not show.
        Effect.all([capabilitiesOf(source.layer), capabilitiesOf(source.parent)], { concurrency: 2 }),
        ([layerCapabilities, parentCapabilities]) => ({
          [Symbol.iterator]: () => naiveItems(source.layer, source.parent, layerCapabilities, parentCapabilities)
        })
      )
    : Effect.flatMap(
        // Opaque markers are under trusted.overlay; capabilities matter only where lowers are compared.
        SpecialFiles.readXattrsTree(source.upper),
        (xattrs) =>
          Effect.map(
            compareOpaque && hasOpaque(xattrs)
              ? Effect.forEach(source.lowers, (lower) =>
                  SpecialFiles.readXattrsTree(lower, "^(trusted\\.overlay\\.opaque|security\\.capability)$")
                )
              : Effect.succeed(undefined),
            (lowerXattrs) => ({
              [Symbol.iterator]: () => overlayItems(source.upper, source.lowers, xattrs, lowerXattrs)
            })
          )
      )

const walked = <A>(
  source: Source,
  compareOpaque: boolean,
  f: (items: Iterable<Item>) => A
): Effect.Effect<A, LayerIoError> =>
  Effect.flatMap(quickItems(source, compareOpaque), (all) =>
    Effect.try({ try: () => f(all), catch: ioError("walk", source._tag === "Naive" ? source.layer : source.upper) })
  )

/**
 * The changes as the daemon's `Changes` answers them: absolute paths within the layer, sorted as walked.
 *
 * @since 0.1.0
 */
export const changes = (
  source: Source
): Effect.Effect<Array<{ readonly Path: string; readonly Kind: Kind }>, LayerIoError> =>
  walked(source, true, (all) => Array.from(all, (i) => ({ Path: `/${i.path}`, Kind: i.kind })))

/**
 * Bytes of what is added or modified, what the daemon's `DiffSize` answers: every path but folders by its size
 * (a symlink's is its target's length), a file with several hard links counted once (as `archive.ChangesSize` and
 * `directory.Size` count).
 *
 * @since 0.1.0
 */
export const size = (source: Source): Effect.Effect<number, LayerIoError> =>
  walked(source, false, (all) => {
    const seen = new Set<bigint>()
    let total = 0
    for (const i of all) {
      if (i.kind === Kind.Delete || i.stat.isDirectory()) continue
      if (i.stat.nlink > 1n) {
        if (seen.has(i.stat.ino)) continue
        seen.add(i.stat.ino)
      }
      total += Number(i.stat.size)
    }
    return total
  })
