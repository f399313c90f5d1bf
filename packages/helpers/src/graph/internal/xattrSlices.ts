/**
 * The extended attributes of a folder read in slices, so that a layer's tar can start before all of them are known.
 *
 * Why: Node cannot list a file's extended attributes, so they come from `getfattr`, and one `getfattr -R` over a
 * layer of 1 GiB (32 000 files) took 125–170 ms, during which a `Diff` sent nothing (`tar -c` sends its first byte
 * after 3 ms). In slices, the walk waits only for the slice of the path it has reached: the folder's first entry
 * is read alone, the next ones in groups that double in size, at most two `getfattr` runs at a time, while the
 * tar of the slices already read is sent.
 *
 * Slices follow the walk's order (names sorted, a folder before what it holds): a folder with a single folder in it
 * is split one level further down (`usr/` alone in a layer), and the folders above the split are read on their own
 * (not recursively) in the first slice. A name that is not text cannot go to `getfattr` as an argument: a folder
 * holding one is read whole, in one slice, as before.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Scope from "effect/Scope"
import * as Fs from "node:fs"
import * as FileName from "../FileName.ts"
import * as LayerPath from "../LayerPath.ts"
import { ioError, type LayerIoError } from "../LayerTarError.ts"
import * as SpecialFiles from "../SpecialFiles.ts"

type Found = Readonly<Record<string, Uint8Array>>

/** Paths relative to the root, read on their own or with everything below them. */
export interface Slice {
  readonly paths: ReadonlyArray<string>
  readonly recursive: boolean
}

/** How a folder's attributes are read: the slices in the walk's order, and which slice a path is in. */
export interface Plan {
  readonly slices: ReadonlyArray<Slice>
  /** The slice of relative path `rel`; -1 for a path the plan did not see (it is known once every slice is). */
  readonly sliceOf: (rel: string) => number
}

/** How far down a chain of lone folders the split goes. */
const maxDepth = 4
/** Bytes of names per `getfattr` run: under the smallest limit Linux puts on a command line (128 KiB with the environment). */
const maxSliceBytes = 96 * 1024

/**
 * The slices of a folder, from its listing: `names(rel)` the sorted names in folder `rel`, `isFolder(rel)` whether
 * `rel` is a folder (not a symlink to one). `rootBytes`: the length of the folder's own path, which every argument
 * of a run starts with.
 */
export const plan = (
  names: (rel: string) => ReadonlyArray<string>,
  isFolder: (rel: string) => boolean,
  rootBytes = 0
): Plan => {
  const chain = [""]
  let base = ""
  let entries = names(base)
  while (chain.length <= maxDepth && entries.length === 1 && FileName.isText(entries[0]!)) {
    const only = LayerPath.join(base, entries[0]!)
    if (!isFolder(only)) break
    base = only
    chain.push(base)
    entries = names(base)
  }
  if (!entries.every(FileName.isText)) return { slices: [{ paths: [""], recursive: true }], sliceOf: () => 0 }
  const slices: Array<Slice> = [{ paths: chain, recursive: false }]
  const sliceOfName = new Map<string, number>()
  for (let start = 0, size = 1; start < entries.length; size *= 2) {
    const paths: Array<string> = []
    let bytes = 0
    while (start < entries.length && paths.length < size && (paths.length === 0 || bytes < maxSliceBytes)) {
      const name = entries[start++]!
      sliceOfName.set(name, slices.length)
      paths.push(LayerPath.join(base, name))
      bytes += rootBytes + base.length + Buffer.byteLength(name) + 3
    }
    slices.push({ paths, recursive: true })
  }
  const inChain = new Set(chain)
  const below = base === "" ? "" : `${base}/`
  return {
    slices,
    sliceOf: (rel) => {
      if (inChain.has(rel)) return 0
      if (!rel.startsWith(below)) return -1
      const slash = rel.indexOf("/", below.length)
      return sliceOfName.get(rel.slice(below.length, slash < 0 ? undefined : slash)) ?? -1
    }
  }
}

/**
 * The attributes read so far, and how to wait for a path's.
 */
export interface Reader {
  /** `rel`'s attributes, once `pending(rel)` is `undefined` (before, what is read so far). */
  readonly get: (rel: string) => Found | undefined
  /** `undefined` when `rel`'s attributes are known; else an effect that ends when they are, or fails as their read. */
  readonly pending: (rel: string) => Effect.Effect<void, LayerIoError> | undefined
}

/** How one slice's paths are read (`SpecialFiles.readXattrsOf`; tests pass a stand-in). */
export type ReadOf = (
  root: string,
  paths: ReadonlyArray<string>,
  recursive: boolean
) => Effect.Effect<ReadonlyMap<string, Found>, LayerIoError>

/**
 * Starts reading the attributes under `root` (a text path) in slices, in the background of the scope (closing it
 * stops the runs still going).
 */
export const read = (
  root: string,
  names: (rel: string) => ReadonlyArray<string>,
  isFolder: (rel: string) => boolean,
  readOf: ReadOf = SpecialFiles.readXattrsOf
): Effect.Effect<Reader, LayerIoError, Scope.Scope> =>
  Effect.gen(function* () {
    const at = LayerPath.under(root)
    // getfattr names files as given: relative paths are cut from the same resolved root.
    const base = at("")
    const { slices, sliceOf } = yield* Effect.try({
      try: () => plan(names, isFolder, Buffer.byteLength(base)),
      catch: ioError("walk", root)
    })
    const found = new Map<string, Found>()
    const known = slices.map(() => false)
    const reads = yield* Effect.forEach(slices, () => Deferred.make<void, LayerIoError>())
    const there = (rel: string) => Fs.lstatSync(at(rel), { throwIfNoEntry: false }) !== undefined
    const readSlice = (slice: Slice, i: number) =>
      readOf(base, slice.paths.map(at), slice.recursive).pipe(
        // A path listed when the slices were planned may be gone since (a container still running while its layer
        // is read, as one getfattr of the whole folder allowed): what is still there is read once more.
        Effect.catch((error): Effect.Effect<ReadonlyMap<string, Found>, LayerIoError> => {
          const still = slice.paths.filter(there)
          if (still.length === slice.paths.length) return Effect.fail(error)
          return still.length === 0
            ? Effect.succeed(new Map<string, Found>())
            : readOf(base, still.map(at), slice.recursive)
        }),
        Effect.tap((read) =>
          Effect.sync(() => {
            for (const [rel, attributes] of read) found.set(rel, attributes)
            known[i] = true
          })
        ),
        // Each slice's outcome goes to its own waiters: a failed slice does not stop the others.
        Effect.exit,
        Effect.flatMap((exit) => Deferred.done(reads[i]!, Exit.asVoid(exit)))
      )
    yield* Effect.forkScoped(Effect.forEach(slices, readSlice, { concurrency: 2, discard: true }))
    const all = Effect.forEach(reads, Deferred.await, { discard: true })
    return {
      get: (rel) => found.get(rel),
      pending: (rel) => {
        const i = sliceOf(rel)
        if (i >= 0) return known[i] ? undefined : Deferred.await(reads[i]!)
        return known.every(Boolean) ? undefined : all
      }
    }
  })
