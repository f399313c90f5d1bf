/**
 * Applies a layer tar to a folder, entry by entry as the bytes arrive: regular files (streamed to disk chunk by
 * chunk), folders, symlinks, hard links, devices and FIFOs, owners, modes, times and extended attributes, with
 * Docker's whiteouts either applied (`naive`: deletions and opaque folders done on the folder, for a folder that
 * holds the whole image) or converted to overlayfs' form (`overlay`: a 0/0 character device per deletion and
 * `trusted.overlay.opaque=y`, for an overlay upper folder).
 *
 * Every entry is checked before it touches the disk, and a path is never resolved through a symlink: an entry
 * whose folder is (or goes through) a symlink, planted by the tar or already in the folder, is refused, and the
 * last component is always replaced, never followed. Nothing is written outside the target folder. Small regular
 * files are created here and finished (body, owner, mode, times) by a thread of their own while the next entries
 * are read (`Options.writeBehind`).
 *
 * Layers exported by AUFS-backed daemons are applied as Docker applies them: the regular files of the folder
 * `.wh..wh.plnk/` at the top (AUFS' hard-link targets) are kept aside, never in the target, and a hard link to one
 * becomes a copy of it at the link's path; the rest of AUFS' metadata (`.wh..wh.aufs`, `.wh..wh.orph`) is left out.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type * as Stream from "effect/Stream"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as FileName from "./FileName.ts"
import * as IdMapping from "./IdMapping.ts"
import * as LayerPath from "./LayerPath.ts"
import { ioError, LayerIoError, type LayerTarError, MalformedTar, UnsafeEntry } from "./LayerTarError.ts"
import * as SpecialFiles from "./SpecialFiles.ts"
import * as TarStream from "./TarStream.ts"
import * as WriteBehind from "./internal/writeBehind.ts"

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
  /**
   * Write small regular files' bodies (up to 128 KiB), owners, modes and times from a second thread while the next
   * entries are read (default `true`); every path is still checked and created on the calling thread, in entry
   * order. `false` makes every call on the calling thread, one entry after the other.
   */
  readonly writeBehind?: boolean
}

/**
 * What `apply` did.
 *
 * @since 0.1.0
 */
export interface Applied {
  /**
   * Bytes of regular-file content written (what the daemon records as the layer's size). A file of AUFS'
   * `.wh..wh.plnk/` counts once, when it is read, whatever the number of hard links copied from it, as the daemon
   * counts it.
   */
  readonly size: number
  /** Entries read. */
  readonly entries: number
  /**
   * Entries left out: AUFS metadata (the files of `.wh..wh.plnk/` included: they reach the layer only as the hard
   * links that name them), and devices when they are not allowed.
   */
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

/** A regular file of AUFS' hard-link folder (`LayerPath.aufsLinkDir`), kept aside for the hard links naming it. */
interface Kept {
  /** Where its body is, in the kept-aside folder (`Applier.keptFolder`). */
  readonly path: string
  /** Its header: each copy gets its mode, time and extended attributes, as Docker gives them. */
  readonly header: TarStream.Header
  /** Its host owner, which each copy gets too. */
  readonly owner: IdMapping.Owner
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
  /**
   * Relative folders whose times are set at the end, once their content no longer changes them. A folder that a
   * later entry removes or replaces is dropped (see `clear`): its path may then lead somewhere else.
   */
  readonly folderTimes = new Map<string, Date>()
  /** The files of AUFS' hard-link folder read so far, by their normalised names (`.wh..wh.plnk/NAME`). */
  readonly kept = new Map<string, Kept>()
  /** The folder `kept` files are in, once one is made (see `keptFolder`). */
  keptDir: string | undefined
  /** Names of the files in `keptDir`: a counter, so no name from the tar is ever used there. */
  keptCount = 0

  /** The host owner of the entry being applied (its own, or remapped). */
  owner: IdMapping.Owner = { uid: 0, gid: 0 }

  readonly root: string
  /** The path on disk of a normalised relative path. */
  readonly abs: (rel: string) => string
  readonly whiteouts: WhiteoutMode
  readonly owners: boolean
  readonly devices: boolean
  readonly ids: IdMapping.IdMapping | undefined
  /** Owner of the folders made for entries whose parents the tar does not hold. */
  readonly madeFolderOwner: IdMapping.Owner | undefined
  /** Where regular files are finished, when not on this thread (see `Options.writeBehind`). */
  readonly writeBehind: WriteBehind.Session | undefined

  constructor(
    root: string,
    whiteouts: WhiteoutMode,
    owners: boolean,
    devices: boolean,
    ids: IdMapping.IdMapping | undefined,
    writeBehind: WriteBehind.Session | undefined
  ) {
    this.root = root
    this.abs = LayerPath.under(root)
    this.whiteouts = whiteouts
    this.owners = owners
    this.devices = devices
    this.ids = ids
    this.madeFolderOwner = owners && ids !== undefined ? IdMapping.hostRoot(ids) : undefined
    this.writeBehind = writeBehind
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
      const stat = io("lstat", path, () => lstatOrUndefined(path))
      if (stat === undefined) {
        if (!create) return Result.succeed(false)
        // Each call named: a full file system is a `LayerIoError` naming the folder, not a crash of the apply.
        io("mkdir", path, () => Fs.mkdirSync(onDisk(path)))
        io("chmod", path, () => Fs.chmodSync(onDisk(path), 0o755))
        const owner = this.madeFolderOwner
        if (owner !== undefined) io("chown", path, () => Fs.chownSync(onDisk(path), owner.uid, owner.gid))
      } else if (stat.isSymbolicLink()) {
        return Result.fail(new UnsafeEntry({ name, reason: `its path goes through the symlink ${current}` }))
      } else if (!stat.isDirectory()) {
        return Result.fail(new UnsafeEntry({ name, reason: `its path goes through ${current}, which is not a folder` }))
      }
      this.safeDirs.add(current)
    }
    return Result.succeed(true)
  }

  /**
   * Removes whatever is at `rel` (a folder with its content), forgetting folders checked under it and the times
   * recorded for them: once `a/` is replaced by a symlink, `a/b` names a folder outside, whose time must not be set.
   */
  clear(rel: string, stat: Fs.Stats | undefined = lstatOrUndefined(this.abs(rel))) {
    if (stat === undefined) return
    if (stat.isDirectory()) {
      Fs.rmSync(onDisk(this.abs(rel)), { recursive: true, force: true })
      const under = (dir: string) => dir === rel || dir.startsWith(`${rel}/`)
      for (const dir of this.safeDirs) if (under(dir)) this.safeDirs.delete(dir)
      for (const dir of this.folderTimes.keys()) if (under(dir)) this.folderTimes.delete(dir)
    } else Fs.unlinkSync(onDisk(this.abs(rel)))
  }

  /**
   * Sets the recorded folder times, last recorded first. Each path is checked again as every entry's is
   * (no symlink in its parents, the folder itself still a folder), so a time is never set through a symlink, even
   * if a way to replace a folder without `clear` appears.
   */
  setFolderTimes() {
    const times = [...this.folderTimes]
    for (let i = times.length - 1; i >= 0; i--) {
      const [rel, mtime] = times[i]!
      const parents = this.folder(LayerPath.dirname(rel), rel, false)
      if (Result.isFailure(parents) || !parents.success) continue
      const path = this.abs(rel)
      if (lstatOrUndefined(path)?.isDirectory() === true) Fs.lutimesSync(onDisk(path), mtime, mtime)
    }
  }

  /** Notes that this tar wrote `rel` (see `written`). */
  wrote(rel: string) {
    if (this.whiteouts === "naive") this.written.add(rel)
  }

  /**
   * The folder kept AUFS hard-link files are written to, made on first use (most layers have none). Docker uses the
   * system's temporary folder; this one is in the target's parent instead: on the file system the layer is written
   * to (a system temporary folder is often a tmpfs, where a large file would take memory, or a small one), yet not
   * in the target, where the layer would show it and the tar's own names could reach it. Whoever may write in the
   * target's parent may replace the target itself, so no one new can reach it. Made as `mkdtemp` makes a folder,
   * by hand so that a parent whose name is not UTF-8 is given as its bytes (`FileName`): fresh (`mkdir` fails on
   * anything already there, a symlink included), under a name no one can guess, open to its owner only; and only
   * files named by this apply (`keptCount`) go in it. Removed by `dropKept` however the apply ends.
   */
  keptFolder(): string {
    if (this.keptDir !== undefined) return this.keptDir
    const dir = Path.join(Path.dirname(this.root), `.aufs-plnk-${Crypto.randomBytes(9).toString("hex")}`)
    io("mkdir", dir, () => Fs.mkdirSync(onDisk(dir), 0o700))
    this.keptDir = dir
    return dir
  }

  /** Removes the kept-aside folder and its files, if one was made; answers what failed. */
  dropKept(): LayerIoError | undefined {
    const dir = this.keptDir
    if (dir === undefined) return undefined
    this.keptDir = undefined
    this.kept.clear()
    try {
      Fs.rmSync(onDisk(dir), { recursive: true, force: true })
      return undefined
    } catch (e) {
      return ioError("remove", dir)(e)
    }
  }

  /** Gives `path` the current entry's owner (`owner`). */
  chown(path: string) {
    if (this.owners) Fs.lchownSync(onDisk(path), this.owner.uid, this.owner.gid)
  }
}

const unsafe = (name: string) => (reason: string) => new UnsafeEntry({ name, reason })

// The usual entries (regular files without attributes, folders, symlinks, hard links, naive whiteouts) are applied
// by plain synchronous calls from tar-stream's own events (`TarStream.forEachEntry`), a file's body by a sink written
// chunk by chunk: no Effect, promise or Stream per entry. An Effect step around every call made a layer of small
// files take about a fifth more time; an Effect per entry and per file body (the previous design) used about 1.7
// times the floor's user CPU on a tree of 54 000 entries. Only entries that run helper programs (devices, whiteouts
// in overlay form, extended attributes) leave an Effect to run. A step fails by throwing what `apply` reports
// (`UnsafeEntry`, `LayerIoError`); `thrownFailure` turns that into the failure.

const isLayerTarError = (u: unknown): u is LayerTarError =>
  u instanceof UnsafeEntry || u instanceof LayerIoError || u instanceof MalformedTar

/** Runs a file-system step, failing with its operation and path. */
const io = <A>(operation: string, path: string, f: () => A): A => {
  try {
    return f()
  } catch (e) {
    throw ioError(operation, path)(e)
  }
}

/** The success of a check, or its refusal thrown. */
const must = <A>(result: Result.Result<A, UnsafeEntry>): A => {
  if (Result.isFailure(result)) throw result.failure
  return result.success
}

/** The same step as an Effect, for the entries that need Effects (helper programs, a file's body). */
const sync = <A>(operation: string, path: string, f: () => A) => Effect.try({ try: f, catch: ioError(operation, path) })

const noXattrs = (h: TarStream.Header) => {
  for (const _ in h.xattrs) return false
  return true
}

/**
 * Sets entry `h`'s extended attributes on `path` as Docker's `createTarFile` does: one the file system does not
 * support or permit (ENOTSUP, EPERM) is left out with a warning, any other failure fails.
 */
const setXattrs = (path: string, h: TarStream.Header) =>
  Effect.flatMap(
    Effect.forEach(
      // overlayfs' own attributes are never taken from a tar: they would change what the merged view shows.
      Object.entries(h.xattrs).filter(([name]) => !name.startsWith("trusted.overlay.")),
      ([name, value]) => Effect.map(SpecialFiles.setXattrIfAllowed(path, name, value), (left) => ({ name, left }))
    ),
    (results) => {
      const skipped = results.flatMap(({ name, left }) => (left === undefined ? [] : [`${name} (${left.reason})`]))
      if (skipped.length === 0) return Effect.void
      return Effect.logWarning(
        `tar entry ${JSON.stringify(h.name)}: extended attributes left out, not supported or permitted here: ${skipped.join(", ")}`
      )
    }
  )

/** What is left of an entry once its synchronous part is done: nothing, or an Effect to run before the next. */
type Rest = Effect.Effect<void, LayerTarError> | undefined

/** What is left of an entry: a `Rest`, or, for a regular file, the sink its body is written by. */
type Step = TarStream.EntryStep<LayerTarError>

/** Notes that `rel` was written, after its attributes when it has any. */
const attributesThenWrote = (applier: Applier, rel: string, path: string, h: TarStream.Header): Rest => {
  if (noXattrs(h)) return void applier.wrote(rel)
  return Effect.andThen(
    setXattrs(path, h),
    Effect.sync(() => applier.wrote(rel))
  )
}

const applyWhiteout = (applier: Applier, entry: TarStream.Entry, dir: string, target: string): Rest => {
  const name = entry.header.name
  const rel = LayerPath.join(dir, target)
  if (applier.whiteouts === "naive") {
    if (!must(applier.folder(dir, name, false))) return undefined
    return void io("remove", applier.abs(rel), () => applier.clear(rel))
  }
  must(applier.folder(dir, name))
  const path = applier.abs(rel)
  io("remove", path, () => applier.clear(rel))
  return SpecialFiles.mknod(path, "character-device", 0, 0).pipe(
    Effect.andThen(sync("chown", path, () => applier.chown(path))),
    Effect.andThen(Effect.sync(() => applier.wrote(rel)))
  )
}

const applyOpaque = (applier: Applier, entry: TarStream.Entry, dir: string): Rest => {
  must(applier.folder(dir, entry.header.name))
  const path = applier.abs(dir)
  if (applier.whiteouts === "overlay") return SpecialFiles.setXattr(path, overlayOpaque, "y")
  // Hide what the folder held before this tar, at every depth as Docker's `UnpackLayer` does (it walks the whole
  // folder): what this tar did not write goes; a folder it wrote stays and is looked into, a symlink never followed.
  const folders = [dir]
  for (let folder = folders.pop(); folder !== undefined; folder = folders.pop()) {
    const at = applier.abs(folder)
    for (const child of io("readdir", at, () => FileName.readdir(at))) {
      const rel = LayerPath.join(folder, child)
      const childPath = applier.abs(rel)
      const stat = io("lstat", childPath, () => lstatOrUndefined(childPath))
      if (!applier.written.has(rel)) io("remove", childPath, () => applier.clear(rel, stat))
      else if (stat?.isDirectory() === true) folders.push(rel)
    }
  }
  return undefined
}

const createFlags = Fs.constants.O_WRONLY | Fs.constants.O_CREAT | Fs.constants.O_EXCL | Fs.constants.O_NOFOLLOW

/**
 * Creates regular file `rel` (at `path`) exclusively, open for writing: in the usual case (a new path) that is the
 * only check, and whatever is already there (a symlink included, never followed) is removed first only when the
 * creation finds it.
 */
const createFile = (applier: Applier, rel: string, path: string): number =>
  io("create", path, () => {
    try {
      return Fs.openSync(onDisk(path), createFlags, 0o600)
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e
      applier.clear(rel)
      return Fs.openSync(onDisk(path), createFlags, 0o600)
    }
  })

/**
 * Sets the owner (when owners are set), mode and time of the file open at `fd`. One call per step, each named by its
 * own operation: a single step around the three once reported a refused owner (a uid past 2^32 - 1) as a `chmod`.
 */
const finishFd = (applier: Applier, fd: number, path: string, owner: IdMapping.Owner, mode: number, mtime: Date) => {
  if (applier.owners) io("chown", path, () => Fs.fchownSync(fd, owner.uid, owner.gid))
  io("chmod", path, () => Fs.fchmodSync(fd, mode))
  io("utimes", path, () => Fs.futimesSync(fd, mtime, mtime))
}

/** A regular file, written as tar-stream hands its chunks over (no Effect step per chunk); see `createFile`. */
const writeFile = (applier: Applier, entry: TarStream.Entry, rel: string, path: string): Step => {
  const h = entry.header
  const fd = createFile(applier, rel, path)
  if (applier.writeBehind !== undefined && h.size <= WriteBehind.maxFileBytes && noXattrs(h)) {
    return finishBehind(applier, applier.writeBehind, fd, rel, path, h)
  }
  return fdSink(fd, path, (close) => {
    try {
      finishFd(applier, fd, path, applier.owner, h.mode, h.mtime)
    } finally {
      close()
    }
    applier.size += h.size
    return attributesThenWrote(applier, rel, path, h)
  })
}

/**
 * A body written chunk by chunk to `fd`, open for `path`, then handed to `end` with the function that closes it;
 * a body that fails or is cut short closes it too.
 */
const fdSink = (fd: number, path: string, end: (close: () => void) => Rest): TarStream.BodySink<LayerTarError> => {
  let open = true
  const close = () => {
    if (!open) return
    open = false
    Fs.closeSync(fd)
  }
  return {
    _tag: "BodySink",
    chunk: (chunk) => io("write", path, () => writeAll(fd, chunk)),
    end: () => end(close),
    release: () => {
      try {
        close()
      } catch {
        // Already failing: the first failure is the one reported.
      }
    }
  }
}

/**
 * The sink of a regular file whose body, owner, mode and times are written by the write-behind thread. A file with
 * extended attributes is not: they are set by path once the file is finished, and a later `fchown` would drop
 * `security.capability`.
 */
const finishBehind = (
  applier: Applier,
  behind: WriteBehind.Session,
  fd: number,
  rel: string,
  path: string,
  h: TarStream.Header
): TarStream.BodySink<LayerTarError> => {
  behind.begin(fd, path)
  let open = true
  return {
    _tag: "BodySink",
    chunk: (chunk) => behind.write(fd, chunk),
    end: () => {
      open = false
      behind.finish(fd, applier.owners, applier.owner.uid, applier.owner.gid, h.mode, h.mtime)
      applier.size += h.size
      return void applier.wrote(rel)
    },
    release: () => {
      if (open) behind.close(fd)
      open = false
    }
  }
}

/**
 * A regular file of AUFS' hard-link folder (`rel` is `.wh..wh.plnk/NAME`): its body goes, chunk by chunk, to a file
 * of the kept-aside folder (never into the target), and its header and owner are kept, by its whole name, for the
 * hard links that name it (Docker keys them by their last component, the same in AUFS' flat folder). A later entry
 * of the same name replaces it, as it would anywhere in the layer.
 */
const keepAside = (applier: Applier, entry: TarStream.Entry, rel: string): Step => {
  const h = entry.header
  const owner = applier.owner
  applier.skipped++
  const path = `${applier.keptFolder()}/${applier.keptCount++}`
  const fd = io("create", path, () => Fs.openSync(onDisk(path), createFlags, 0o600))
  return fdSink(fd, path, (close) => {
    io("close", path, close)
    const replaced = applier.kept.get(rel)
    applier.kept.set(rel, { path, header: h, owner })
    if (replaced !== undefined) io("remove", replaced.path, () => Fs.unlinkSync(onDisk(replaced.path)))
    applier.size += h.size
    return undefined
  })
}

/** The buffer a kept file is copied through: a copy never holds a whole file in memory. */
const copyChunkBytes = 64 * 1024

/**
 * A hard link to `target` in AUFS' hard-link folder, made as Docker's `UnpackLayer` makes it: a copy of the kept
 * file at the link's path, with that file's owner, mode, time and extended attributes. Each path so made is a file
 * of its own (one link), as in Docker; the kept file goes with its folder. Refused when `target` is not a kept file:
 * the tar has not given it (yet), or it is an entry of that folder that is not a regular file (a symlink, a hard
 * link, a folder), which is never kept, as Docker keeps none.
 */
const copyKept = (applier: Applier, h: TarStream.Header, rel: string, path: string, target: string): Rest => {
  const kept = applier.kept.get(target)
  if (kept === undefined) {
    const reason = `hard link to ${JSON.stringify(h.linkname)}, which is not a regular file of the AUFS hard-link folder ${LayerPath.aufsLinkDir}`
    throw unsafe(h.name)(reason)
  }
  const to = createFile(applier, rel, path)
  try {
    const from = io("open", kept.path, () => Fs.openSync(onDisk(kept.path), Fs.constants.O_RDONLY))
    try {
      const buffer = Buffer.allocUnsafe(Math.min(copyChunkBytes, Math.max(kept.header.size, 1)))
      for (let at = 0, n = 1; n > 0; at += n) {
        n = io("read", kept.path, () => Fs.readSync(from, buffer, 0, buffer.length, at))
        if (n > 0) io("write", path, () => writeAll(to, buffer.subarray(0, n)))
      }
    } finally {
      try {
        Fs.closeSync(from)
      } catch {
        // Nothing was written through it: a failed close loses nothing, and must not hide a failure being thrown.
      }
    }
    finishFd(applier, to, path, kept.owner, kept.header.mode, kept.header.mtime)
  } catch (e) {
    try {
      Fs.closeSync(to)
    } catch {
      // Already failing: the first failure is the one reported.
    }
    throw e
  }
  io("close", path, () => Fs.closeSync(to))
  // Its attributes are set by path, once the copy is closed, as a regular file's are; warnings name the link.
  return attributesThenWrote(applier, rel, path, { ...kept.header, name: h.name })
}

/** The normalised target of hard link `h`; a target outside the layer (absolute, climbing) is refused. */
const linkTarget = (h: TarStream.Header): string =>
  must(Result.mapError(LayerPath.normalize(h.linkname), (r) => unsafe(h.name)(`hard link target: ${r}`)))

const applyPlain = (applier: Applier, entry: TarStream.Entry, rel: string): Step => {
  const h = entry.header
  const name = h.name
  // The folder itself (`./`) is the target: nothing of it is taken from the tar.
  if (rel === "") return void applier.skipped++
  if (!applier.devices && (h.type === "character-device" || h.type === "block-device")) {
    return void applier.skipped++
  }
  must(applier.folder(LayerPath.dirname(rel), name))
  const path = applier.abs(rel)
  if (h.type === "file") return writeFile(applier, entry, rel, path)
  const existing = io("lstat", path, () => lstatOrUndefined(path))
  const merge = h.type === "directory" && existing?.isDirectory() === true
  if (!merge) io("remove", path, () => applier.clear(rel, existing))
  switch (h.type) {
    case "directory": {
      if (!merge) io("mkdir", path, () => Fs.mkdirSync(onDisk(path), 0o700))
      io("chown", path, () => applier.chown(path))
      io("chmod", path, () => Fs.chmodSync(onDisk(path), h.mode))
      applier.safeDirs.add(rel)
      applier.folderTimes.set(rel, h.mtime)
      return attributesThenWrote(applier, rel, path, h)
    }
    case "symlink": {
      io("symlink", path, () => Fs.symlinkSync(onDisk(h.linkname), onDisk(path)))
      io("chown", path, () => applier.chown(path))
      io("utimes", path, () => Fs.lutimesSync(onDisk(path), h.mtime, h.mtime))
      // Set on the symlink itself, as Docker's `Lsetxattr` does.
      return attributesThenWrote(applier, rel, path, h)
    }
    case "link": {
      const target = linkTarget(h)
      if (LayerPath.inAufsLinkDir(target)) return copyKept(applier, h, rel, path, target)
      const reachable = must(applier.folder(LayerPath.dirname(target), name, false))
      const targetStat = reachable
        ? io("lstat", applier.abs(target), () => lstatOrUndefined(applier.abs(target)))
        : undefined
      if (target === "" || targetStat === undefined || targetStat.isDirectory()) {
        throw unsafe(name)(`hard link to ${JSON.stringify(h.linkname)}, which is not a file in the layer`)
      }
      io("link", path, () => Fs.linkSync(onDisk(applier.abs(target)), onDisk(path)))
      return void applier.wrote(rel)
    }
    case "character-device":
    case "block-device":
    case "fifo": {
      return SpecialFiles.mknod(path, h.type, h.devmajor, h.devminor).pipe(
        Effect.andThen(sync("chown", path, () => applier.chown(path))),
        Effect.andThen(sync("chmod", path, () => Fs.chmodSync(onDisk(path), h.mode))),
        Effect.andThen(sync("utimes", path, () => Fs.utimesSync(onDisk(path), h.mtime, h.mtime))),
        Effect.andThen(Effect.suspend(() => attributesThenWrote(applier, rel, path, h) ?? Effect.void))
      )
    }
  }
}

/** What a refusal or failed call thrown while applying becomes: its failure; anything else is a defect (a bug). */
const thrownFailure = (e: unknown): Effect.Effect<never, LayerTarError> =>
  isLayerTarError(e) ? Effect.fail(e) : Effect.die(e)

/** Applies one entry; a refusal or a failed call is thrown (see `thrownFailure`). */
const applyEntry = (applier: Applier, entry: TarStream.Entry): Step => {
  // A file finished behind failed: stop at the next entry, as the synchronous path stops at the failing one.
  const failedBehind = applier.writeBehind?.failure()
  if (failedBehind !== undefined) throw failedBehind
  applier.entries++
  const name = entry.header.name
  const rel = must(Result.mapError(LayerPath.normalize(name), unsafe(name)))
  const meaning = must(Result.mapError(LayerPath.meaning(rel), unsafe(name)))
  if (applier.owners) must(applier.ownerOf(entry.header))
  switch (meaning._tag) {
    case "AufsMeta": {
      const h = entry.header
      if (h.type === "file" && LayerPath.inAufsLinkDir(rel)) return keepAside(applier, entry, rel)
      // Left out, as Docker leaves it out; but a hard link to outside the layer is refused wherever it is.
      if (h.type === "link") linkTarget(h)
      applier.skipped++
      return undefined
    }
    case "Whiteout":
      return applyWhiteout(applier, entry, meaning.dir, meaning.target)
    case "Opaque":
      return applyOpaque(applier, entry, meaning.dir)
    case "Plain":
      return applyPlain(applier, entry, rel)
  }
}

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
    const behind = options.writeBehind === false ? undefined : new WriteBehind.Session()
    const applier = new Applier(
      target,
      options.whiteouts ?? "naive",
      options.owners ?? isRoot(),
      options.devices ?? isRoot(),
      options.ids,
      behind
    )
    // However the walk ends, no call of this apply is left to run once it returns, and no kept AUFS hard-link file
    // is left on disk; a file finished behind that failed fails the apply, and comes first (its entry came before
    // whatever stopped the walk), then what stopped the walk, then a kept-aside folder that could not be removed.
    let failedBehind: LayerIoError | undefined
    let keptLeft: LayerIoError | undefined
    const walked = yield* TarStream.forEachEntry(bytes, (entry) => applyEntry(applier, entry), thrownFailure).pipe(
      Effect.exit,
      // Interrupted too.
      Effect.ensuring(
        Effect.sync(() => {
          failedBehind = behind?.drain()
          keptLeft = applier.dropKept()
        })
      )
    )
    if (failedBehind !== undefined) return yield* Effect.fail(failedBehind)
    yield* walked
    if (keptLeft !== undefined) return yield* Effect.fail(keptLeft)
    yield* sync("utimes", target, () => applier.setFolderTimes())
    return { size: applier.size, entries: applier.entries, skipped: applier.skipped }
  })
