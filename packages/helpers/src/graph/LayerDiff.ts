/**
 * Writes a layer's changes as a layer tar, streamed: the walk of `LayerChanges` turned into tar entries
 * (deletions as `.wh.NAME`, opaque overlay folders as `.wh..wh..opq`, a file met again through another hard link
 * as a link entry), each file read in 256 KiB chunks only as fast as the tar is consumed.
 *
 * @since 0.1.0
 */
import { ReusableChunk } from "@docker-plugin-kit/protocol"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import * as Fs from "node:fs"
import * as FileName from "./FileName.ts"
import * as IdMapping from "./IdMapping.ts"
import * as LayerChanges from "./LayerChanges.ts"
import * as LayerPath from "./LayerPath.ts"
import { ioError, LayerIoError } from "./LayerTarError.ts"
import * as TarStream from "./TarStream.ts"

const chunkBytes = 256 * 1024
const batchEntries = 64
// The chunks of large files are read into buffers the server hands back once it has written them (ReusableChunk):
// a fresh buffer per chunk cost about twice the CPU (new pages for every read, and the collector's work).
const chunks = ReusableChunk.pool(chunkBytes)
const slabs = ReusableChunk.pool(2 * chunkBytes, 4)

/**
 * The small files of one batch, read side by side into one reused buffer (at most a chunk of content is read
 * before a batch ends, and a small file is at most a chunk, so two chunks always hold them). Each content is a
 * reusable view; the buffer is reused once the batch is complete and every view has been released (copied into
 * the tar's output).
 */
class Slab {
  readonly buffer = slabs.take()
  used = 0
  shared = 0
  sealed = false

  /** The whole content of a small file, read at once. */
  read(path: string, size: number): Uint8Array {
    const fd = Fs.openSync(FileName.fsPath(path), Fs.constants.O_RDONLY | Fs.constants.O_NOFOLLOW)
    try {
      const start = this.used
      let offset = 0
      while (offset < size) {
        const n = Fs.readSync(fd, this.buffer, start + offset, size - offset, null)
        if (n === 0) throw new Error("the file shrank while it was read")
        offset += n
      }
      this.used += size
      this.shared++
      return ReusableChunk.mark(this.buffer.subarray(start, start + size), () => {
        this.shared--
        this.giveBack()
      })
    } finally {
      Fs.closeSync(fd)
    }
  }

  /** The batch is complete: no more reads. */
  seal() {
    this.sealed = true
    this.giveBack()
  }

  private giveBack() {
    if (this.sealed && this.shared === 0) slabs.putBack(this.buffer)
  }
}

/** Exactly `size` bytes of the file at `path`, read in chunks as they are pulled. */
const fileBody = (path: string, size: number): Stream.Stream<Uint8Array, LayerIoError> =>
  Stream.unwrap(
    Effect.map(
      Effect.acquireRelease(
        Effect.try({
          try: () => Fs.openSync(FileName.fsPath(path), Fs.constants.O_RDONLY | Fs.constants.O_NOFOLLOW),
          catch: ioError("open", path)
        }),
        (fd) => Effect.sync(() => Fs.closeSync(fd))
      ),
      (fd) => {
        let left = size
        const pull = Effect.suspend((): Effect.Effect<readonly [Uint8Array], LayerIoError | Cause.Done> => {
          if (left === 0) return Cause.done()
          const buffer = chunks.take()
          let n = 0
          try {
            n = Fs.readSync(fd, buffer, 0, Math.min(chunkBytes, left), null)
          } catch (error) {
            chunks.putBack(buffer)
            return Effect.fail(ioError("read", path)(error))
          }
          if (n === 0) {
            chunks.putBack(buffer)
            return Effect.fail(
              new LayerIoError({ operation: "read", path, reason: "the file shrank while it was read" })
            )
          }
          left -= n
          return Effect.succeed([chunks.share(buffer, n)] as const)
        })
        return Stream.fromPull(Effect.succeed(pull))
      }
    )
  )

const major = (rdev: bigint) => Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn))
const minor = (rdev: bigint) => Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn))

/** The owner of `item` as the tar gives it: the container's IDs of a remapped host owner. */
const ownerOf = (item: LayerChanges.Item, ids: IdMapping.IdMapping | undefined): IdMapping.Owner => {
  const own = { uid: Number(item.stat.uid), gid: Number(item.stat.gid) }
  if (ids === undefined) return own
  const inside = IdMapping.ownerToContainer(ids, own)
  if (Result.isFailure(inside)) {
    throw new Error(`the owner of ${item.path} (host ${inside.failure}) is outside the daemon's user-namespace map`)
  }
  return inside.success
}

const headerOf = (
  name: string,
  type: TarStream.EntryType,
  item: LayerChanges.Item,
  ids: IdMapping.IdMapping | undefined
): TarStream.Header =>
  TarStream.header({
    name,
    type,
    mode: Number(item.stat.mode & 0o7777n),
    ...ownerOf(item, ids),
    size: type === "file" ? Number(item.stat.size) : 0,
    mtime: new Date(Number(item.stat.mtimeMs)),
    xattrs: item.xattrs
  })

/** An empty entry with no owner, mode or time (whiteouts and opaque markers carry nothing else). */
const marker = (name: string): TarStream.Header => TarStream.header({ name, mode: 0 })

/** The tar entries of one change; `links` maps the inode of a file already written to its name. */
const outputs = (
  at: (path: string) => string,
  item: LayerChanges.Item,
  links: Map<bigint, string>,
  slab: Slab,
  ids: IdMapping.IdMapping | undefined
): ReadonlyArray<TarStream.Output<LayerIoError>> => {
  const header = (name: string, type: TarStream.EntryType, of: LayerChanges.Item) => headerOf(name, type, of, ids)
  const path = at(item.path)
  const s = item.stat
  if (item.kind === LayerChanges.Kind.Delete) return [{ header: marker(LayerPath.whiteoutOf(item.path)) }]
  if (s.isDirectory()) {
    const dir = { header: header(`${item.path}/`, "directory", item) }
    return item.opaque ? [dir, { header: marker(LayerPath.join(item.path, LayerPath.opaqueMarker)) }] : [dir]
  }
  if (s.isFile()) {
    if (s.nlink > 1n) {
      const first = links.get(s.ino)
      if (first !== undefined) return [{ header: { ...header(item.path, "link", item), linkname: first } }]
      links.set(s.ino, item.path)
    }
    const size = Number(s.size)
    // A small file is read when the walk reaches it, which the tar's reader drives: still one chunk at a time.
    return size <= chunkBytes
      ? [{ header: header(item.path, "file", item), content: slab.read(path, size) }]
      : [{ header: header(item.path, "file", item), body: fileBody(path, size) }]
  }
  if (s.isSymbolicLink())
    return [
      {
        header: {
          ...header(item.path, "symlink", item),
          linkname: FileName.readlink(path)
        }
      }
    ]
  const type = s.isCharacterDevice()
    ? "character-device"
    : s.isBlockDevice()
      ? "block-device"
      : s.isFIFO()
        ? "fifo"
        : undefined
  // Sockets have no tar form; the daemon's own archiver leaves them out too.
  if (type === undefined) return []
  return [{ header: { ...header(item.path, type, item), devmajor: major(s.rdev), devminor: minor(s.rdev) } }]
}

/**
 * Options of `diff`.
 *
 * @since 0.1.0
 */
export interface Options {
  /** The daemon's user-namespace remapping: owners are written as the containers' IDs (one outside it fails). */
  readonly ids?: IdMapping.IdMapping
}

/**
 * The layer tar of `source`'s changes. The walk, the reads and the tar are all driven by whoever reads the
 * stream; a filesystem error fails it (after the status line, the server then aborts the connection).
 *
 * @since 0.1.0
 */
export const diff = (source: LayerChanges.Source, options: Options = {}): Stream.Stream<Uint8Array, LayerIoError> => {
  const root = source._tag === "Naive" ? source.layer : source.upper
  const entries = Stream.unwrap(
    // A tar tells only deletions apart: no path needs looking up in the lowers to be called modified.
    Effect.map(LayerChanges.items(source, { modified: false }), (all) => {
      const iterator = all[Symbol.iterator]()
      const links = new Map<bigint, string>()
      const at = LayerPath.under(root)
      // What the walk waits for before its next item (see `LayerChanges.Pending`), once the batch before it is out.
      let waiting: Effect.Effect<void, LayerIoError> | undefined
      // Several small entries per pull (one Effect step for a batch, not for each path), up to a chunk's worth of
      // read content, so memory stays bounded whatever the folder; a file read as a stream ends the batch.
      const collect = Effect.try({
        try: () => {
          const batch: Array<TarStream.Output<LayerIoError>> = []
          const slab = new Slab()
          let bytes = 0
          while (batch.length < batchEntries && bytes < chunkBytes) {
            const step = iterator.next()
            if (step.done === true) break
            if (step.value instanceof LayerChanges.Pending) {
              waiting = step.value.ready
              break
            }
            for (const output of outputs(at, step.value, links, slab, options.ids)) {
              batch.push(output)
              bytes += output.content?.length ?? 0
              if (output.body !== undefined) bytes = chunkBytes
            }
          }
          slab.seal()
          return batch
        },
        catch: ioError("walk", root)
      })
      type Batch = readonly [TarStream.Output<LayerIoError>, ...Array<TarStream.Output<LayerIoError>>]
      const pull: Effect.Effect<Batch, LayerIoError | Cause.Done> = Effect.suspend(() => {
        const wait = waiting
        waiting = undefined
        return wait === undefined ? next : Effect.andThen(wait, next)
      })
      const next: Effect.Effect<Batch, LayerIoError | Cause.Done> = Effect.flatMap(collect, (batch) =>
        batch.length > 0 ? Effect.succeed(batch as unknown as Batch) : waiting === undefined ? Cause.done() : pull
      )
      return Stream.fromPull(Effect.succeed(pull))
    })
  )
  return TarStream.write(entries)
}
