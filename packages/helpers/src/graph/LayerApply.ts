/**
 * Applies a layer tar to a folder, entry by entry as the bytes arrive: regular files (streamed to disk chunk by
 * chunk), folders, symlinks, hard links, devices and FIFOs, owners, modes, times and extended attributes, with
 * Docker's whiteouts either applied (`naive`: deletions and opaque folders done on the folder, for a folder that
 * holds the whole image) or converted to overlayfs' form (`overlay`: a 0/0 character device per deletion and
 * `trusted.overlay.opaque=y`, for an overlay upper folder).
 *
 * Every entry is checked before it touches the disk, and a path is never resolved through a symlink: an entry
 * whose folder is (or goes through) a symlink, planted by the tar or already in the folder, is refused, and the
 * last component is always replaced, never followed. Nothing is written outside the target folder.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as FileName from "./FileName.ts"
import * as IdMapping from "./IdMapping.ts"
import * as LayerPath from "./LayerPath.ts"
import { ioError, type LayerTarError, UnsafeEntry } from "./LayerTarError.ts"
import * as SpecialFiles from "./SpecialFiles.ts"
import * as TarStream from "./TarStream.ts"

/**
 * How whiteouts are materialised.
 *
 * @since 0.1.0
 */
export type WhiteoutMode = "naive" | "overlay"

/**
 * Options of `apply`.
 *
 * @since 0.1.0
 */
export interface Options {
  /** `naive` (default) applies whiteouts; `overlay` writes them in overlayfs' form. */
  readonly whiteouts?: WhiteoutMode
  /** Set owners from the tar (default: when running as root). */
  readonly owners?: boolean
  /** Make device nodes (default: when running as root); when false they are skipped and counted. */
  readonly devices?: boolean
  /**
   * The daemon's user-namespace remapping: owners are moved to host IDs (an owner outside the ranges is refused),
   * and folders made for entries whose parents the tar does not hold belong to the containers' root.
   */
  readonly ids?: IdMapping.IdMapping
}

/**
 * What `apply` did.
 *
 * @since 0.1.0
 */
export interface Applied {
  /** Bytes of regular-file content written (what the daemon records as the layer's size). */
  readonly size: number
  /** Entries read. */
  readonly entries: number
  /** Entries left out: AUFS metadata, and devices when they are not allowed. */
  readonly skipped: number
}

const isRoot = () => process.getuid?.() === 0
const overlayOpaque = "trusted.overlay.opaque"

// Paths are handed to the file system as their bytes (names that are not UTF-8 included: see FileName).
const onDisk = FileName.fsPath

// Without an exception for the usual case of a new path (building one costs more than the lstat).
const lstatOrUndefined = (path: string): Fs.Stats | undefined => Fs.lstatSync(onDisk(path), { throwIfNoEntry: false })

const writeAll = (fd: number, chunk: Uint8Array) => {
  let offset = 0
  while (offset < chunk.length) offset += Fs.writeSync(fd, chunk, offset, chunk.length - offset)
}

/** The mutable state of one application. */
class Applier {
  size = 0
  entries = 0
  skipped = 0
  /** Relative folders known to be real folders (no symlink on the way) in this run. */
  readonly safeDirs = new Set<string>([""])
  /**
   * Paths written by this tar, which an opaque marker of their folder must keep: kept for naive whiteouts only (an
   * overlay upper folder marks opacity with an attribute), as it grows with the layer (~10 MB for 127,000 files).
   */
  readonly written = new Set<string>()
  /** Folders whose times are set at the end, once their content no longer changes them. */
  readonly folderTimes: Array<{ readonly path: string; readonly mtime: Date }> = []

  /** The host owner of the entry being applied (its own, or remapped). */
  owner: IdMapping.Owner = { uid: 0, gid: 0 }

  readonly root: string
  readonly whiteouts: WhiteoutMode
  readonly owners: boolean
  readonly devices: boolean
  readonly ids: IdMapping.IdMapping | undefined
  /** Owner of the folders made for entries whose parents the tar does not hold. */
  readonly madeFolderOwner: IdMapping.Owner | undefined

  constructor(root: string, whiteouts: WhiteoutMode, owners: boolean, devices: boolean, ids?: IdMapping.IdMapping) {
    this.root = root
    this.whiteouts = whiteouts
    this.owners = owners
    this.devices = devices
    this.ids = ids
    this.madeFolderOwner = owners && ids !== undefined ? IdMapping.hostRoot(ids) : undefined
  }

  /** Sets `owner` for entry `h`: its IDs, moved to the host's when remapped. */
  ownerOf(h: TarStream.Header): Result.Result<void, UnsafeEntry> {
    const own = { uid: h.uid, gid: h.gid }
    const owner = this.ids === undefined ? Result.succeed(own) : IdMapping.ownerToHost(this.ids, own)
    if (Result.isFailure(owner)) {
      const reason = `its owner (${owner.failure}) is outside the daemon's user-namespace map`
      return Result.fail(new UnsafeEntry({ name: h.name, reason }))
    }
    this.owner = owner.success
    return Result.void
  }

  abs(rel: string) {
    return rel === "" ? this.root : Path.join(this.root, rel)
  }

  /**
   * Makes sure every component of folder `rel` is a real folder, creating missing ones (0755, like Docker);
   * fails when one is a symlink or not a folder. With `create: false`, a missing folder answers false.
   */
  folder(rel: string, name: string, create = true): Result.Result<boolean, UnsafeEntry> {
    if (this.safeDirs.has(rel)) return Result.succeed(true)
    let current = ""
    for (const part of rel.split("/")) {
      current = LayerPath.join(current, part)
      if (this.safeDirs.has(current)) continue
      const path = this.abs(current)
      const stat = lstatOrUndefined(path)
      if (stat === undefined) {
        if (!create) return Result.succeed(false)
        Fs.mkdirSync(onDisk(path))
        Fs.chmodSync(onDisk(path), 0o755)
        if (this.madeFolderOwner !== undefined) {
          Fs.chownSync(onDisk(path), this.madeFolderOwner.uid, this.madeFolderOwner.gid)
        }
      } else if (stat.isSymbolicLink()) {
        return Result.fail(new UnsafeEntry({ name, reason: `its path goes through the symlink ${current}` }))
      } else if (!stat.isDirectory()) {
        return Result.fail(new UnsafeEntry({ name, reason: `its path goes through ${current}, which is not a folder` }))
      }
      this.safeDirs.add(current)
    }
    return Result.succeed(true)
  }

  /** Removes whatever is at `rel` (a folder with its content), forgetting folders checked under it. */
  clear(rel: string, stat: Fs.Stats | undefined = lstatOrUndefined(this.abs(rel))) {
    if (stat === undefined) return
    if (stat.isDirectory()) {
      Fs.rmSync(onDisk(this.abs(rel)), { recursive: true, force: true })
      for (const dir of this.safeDirs) if (dir === rel || dir.startsWith(`${rel}/`)) this.safeDirs.delete(dir)
    } else Fs.unlinkSync(onDisk(this.abs(rel)))
  }

  /** Notes that this tar wrote `rel` (see `written`). */
  wrote(rel: string) {
    if (this.whiteouts === "naive") this.written.add(rel)
  }

  /** Gives `path` the current entry's owner (`owner`). */
  chown(path: string) {
    if (this.owners) Fs.lchownSync(onDisk(path), this.owner.uid, this.owner.gid)
  }
}

const unsafe = (name: string) => (reason: string) => new UnsafeEntry({ name, reason })

const sync = <A>(operation: string, path: string, f: () => A) => Effect.try({ try: f, catch: ioError(operation, path) })

const fromResult = <A>(result: Result.Result<A, UnsafeEntry>) => Effect.fromResult(result)

const noXattrs = (h: TarStream.Header) => {
  for (const _ in h.xattrs) return false
  return true
}

const setXattrs = (path: string, h: TarStream.Header) =>
  noXattrs(h)
    ? Effect.void
    : Effect.forEach(
        // overlayfs' own attributes are never taken from a tar: they would change what the merged view shows.
        Object.entries(h.xattrs).filter(([name]) => !name.startsWith("trusted.overlay.")),
        ([name, value]) => SpecialFiles.setXattr(path, name, value),
        { discard: true }
      )

const applyWhiteout = (applier: Applier, entry: TarStream.Entry, dir: string, target: string) =>
  Effect.gen(function* () {
    const name = entry.header.name
    const rel = LayerPath.join(dir, target)
    if (applier.whiteouts === "naive") {
      if (!(yield* fromResult(applier.folder(dir, name, false)))) return
      yield* sync("remove", applier.abs(rel), () => applier.clear(rel))
      return
    }
    yield* fromResult(applier.folder(dir, name))
    const path = applier.abs(rel)
    yield* sync("remove", path, () => applier.clear(rel))
    yield* SpecialFiles.mknod(path, "character-device", 0, 0)
    yield* sync("chown", path, () => applier.chown(path))
    applier.wrote(rel)
  })

const applyOpaque = (applier: Applier, entry: TarStream.Entry, dir: string) =>
  Effect.gen(function* () {
    yield* fromResult(applier.folder(dir, entry.header.name))
    const path = applier.abs(dir)
    if (applier.whiteouts === "overlay") return yield* SpecialFiles.setXattr(path, overlayOpaque, "y")
    // Hide what the folder held before this tar: keep only what this tar wrote in it.
    yield* sync("readdir", path, () => {
      for (const child of FileName.readdir(path)) {
        const rel = LayerPath.join(dir, child)
        if (!applier.written.has(rel)) applier.clear(rel)
      }
    })
  })

const createFlags = Fs.constants.O_WRONLY | Fs.constants.O_CREAT | Fs.constants.O_EXCL | Fs.constants.O_NOFOLLOW

/**
 * A regular file, written as tar-stream hands its chunks over (no Effect step per chunk). Created exclusively: in
 * the usual case (a new path) that is the only check, and whatever is already there (a symlink included, never
 * followed) is removed first only when the creation finds it.
 */
const writeFile = (applier: Applier, entry: TarStream.Entry, rel: string, path: string) =>
  Effect.flatMap(
    sync("create", path, () => {
      try {
        return Fs.openSync(onDisk(path), createFlags, 0o600)
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
        applier.clear(rel)
        return Fs.openSync(onDisk(path), createFlags, 0o600)
      }
    }),
    (fd) =>
      Effect.andThen(
        TarStream.forEachChunk(entry, (chunk) => writeAll(fd, chunk), ioError("write", path)),
        sync("chmod", path, () => {
          const h = entry.header
          if (applier.owners) Fs.fchownSync(fd, applier.owner.uid, applier.owner.gid)
          Fs.fchmodSync(fd, h.mode)
          Fs.futimesSync(fd, h.mtime, h.mtime)
        })
      ).pipe(Effect.ensuring(Effect.sync(() => Fs.closeSync(fd))))
  )

const applyPlain = (applier: Applier, entry: TarStream.Entry, rel: string) =>
  Effect.gen(function* () {
    const h = entry.header
    const name = h.name
    // The folder itself (`./`) is the target: nothing of it is taken from the tar.
    if (rel === "") return void applier.skipped++
    if (!applier.devices && (h.type === "character-device" || h.type === "block-device")) {
      return void applier.skipped++
    }
    yield* fromResult(applier.folder(LayerPath.dirname(rel), name))
    const path = applier.abs(rel)
    if (h.type === "file") {
      yield* writeFile(applier, entry, rel, path)
      applier.size += h.size
      if (!noXattrs(h)) yield* setXattrs(path, h)
      applier.wrote(rel)
      return
    }
    const existing = yield* sync("lstat", path, () => lstatOrUndefined(path))
    const merge = h.type === "directory" && existing?.isDirectory() === true
    if (!merge) yield* sync("remove", path, () => applier.clear(rel, existing))
    switch (h.type) {
      case "directory": {
        yield* sync("mkdir", path, () => {
          if (!merge) Fs.mkdirSync(onDisk(path), 0o700)
          applier.chown(path)
          Fs.chmodSync(onDisk(path), h.mode)
        })
        applier.safeDirs.add(rel)
        applier.folderTimes.push({ path, mtime: h.mtime })
        break
      }
      case "symlink": {
        yield* sync("symlink", path, () => {
          Fs.symlinkSync(onDisk(h.linkname), onDisk(path))
          applier.chown(path)
          Fs.lutimesSync(onDisk(path), h.mtime, h.mtime)
        })
        break
      }
      case "link": {
        const target = yield* Effect.fromResult(
          Result.mapError(LayerPath.normalize(h.linkname), (r) => unsafe(name)(`hard link target: ${r}`))
        )
        const targetDir = LayerPath.dirname(target)
        const reachable = yield* fromResult(applier.folder(targetDir, name, false))
        const targetStat = reachable
          ? yield* sync("lstat", applier.abs(target), () => lstatOrUndefined(applier.abs(target)))
          : undefined
        if (target === "" || targetStat === undefined || targetStat.isDirectory()) {
          return yield* Effect.fail(
            unsafe(name)(`hard link to ${JSON.stringify(h.linkname)}, which is not a file in the layer`)
          )
        }
        yield* sync("link", path, () => Fs.linkSync(onDisk(applier.abs(target)), onDisk(path)))
        break
      }
      case "character-device":
      case "block-device":
      case "fifo": {
        yield* SpecialFiles.mknod(path, h.type, h.devmajor, h.devminor)
        yield* sync("chmod", path, () => {
          applier.chown(path)
          Fs.chmodSync(onDisk(path), h.mode)
          Fs.utimesSync(onDisk(path), h.mtime, h.mtime)
        })
        break
      }
    }
    if (h.type !== "link" && h.type !== "symlink") yield* setXattrs(path, h)
    applier.wrote(rel)
  })

const applyEntry = (applier: Applier, entry: TarStream.Entry): Effect.Effect<void, LayerTarError> =>
  Effect.gen(function* () {
    applier.entries++
    const name = entry.header.name
    const rel = yield* Effect.fromResult(Result.mapError(LayerPath.normalize(name), unsafe(name)))
    const meaning = yield* Effect.fromResult(Result.mapError(LayerPath.meaning(rel), unsafe(name)))
    if (applier.owners) yield* fromResult(applier.ownerOf(entry.header))
    switch (meaning._tag) {
      case "AufsMeta":
        return void applier.skipped++
      case "Whiteout":
        return yield* applyWhiteout(applier, entry, meaning.dir, meaning.target)
      case "Opaque":
        return yield* applyOpaque(applier, entry, meaning.dir)
      case "Plain":
        return yield* applyPlain(applier, entry, rel)
    }
  })

/**
 * Applies the layer tar in `bytes` to folder `root` (which must exist). Stops at the first refused entry with
 * `UnsafeEntry` (entries before it stay applied), at a malformed or truncated tar with `MalformedTar`; a failure
 * of `bytes` is passed through.
 *
 * @since 0.1.0
 */
export const apply = <E>(
  root: string,
  bytes: Stream.Stream<Uint8Array, E>,
  options: Options = {}
): Effect.Effect<Applied, E | LayerTarError> =>
  Effect.gen(function* () {
    const target = Path.resolve(root)
    const stat = yield* sync("lstat", target, () => Fs.lstatSync(target))
    if (!stat.isDirectory()) {
      return yield* Effect.fail(ioError("apply", target)(new Error("the target is not a folder")))
    }
    const applier = new Applier(
      target,
      options.whiteouts ?? "naive",
      options.owners ?? isRoot(),
      options.devices ?? isRoot(),
      options.ids
    )
    yield* Stream.runForEach(TarStream.entries(bytes), (entry) => applyEntry(applier, entry))
    yield* sync("utimes", target, () => {
      for (let i = applier.folderTimes.length - 1; i >= 0; i--) {
        const { path, mtime } = applier.folderTimes[i]!
        // A later entry may have put something else there (a symlink to outside, say): never set a time through it.
        if (lstatOrUndefined(path)?.isDirectory() === true) Fs.lutimesSync(onDisk(path), mtime, mtime)
      }
    })
    return { size: applier.size, entries: applier.entries, skipped: applier.skipped }
  })
