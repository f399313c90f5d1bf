/**
 * Effect `Stream` adapters over tar-stream: the entries of a tar read from a byte stream, and the bytes of a tar
 * written from a stream of entries. Both are pull-driven end to end, so a slow reader slows the writer and no
 * more than a few chunks are ever held, whatever the size of the layer or of one file.
 *
 * @since 0.1.0
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Stream from "effect/Stream"
import * as Tar from "tar-stream"
import { MalformedTar } from "./LayerTarError.ts"

/**
 * The kinds of entry a layer tar may hold (`contiguous-file` is read as `file`).
 *
 * @since 0.1.0
 */
export type EntryType = "file" | "link" | "symlink" | "character-device" | "block-device" | "directory" | "fifo"

/**
 * One entry's header, with the PAX extended attributes (`SCHILY.xattr.NAME`) gathered in `xattrs`.
 *
 * @since 0.1.0
 */
export interface Header {
  readonly name: string
  readonly type: EntryType
  /** Permission bits, `mode & 0o7777`. */
  readonly mode: number
  readonly uid: number
  readonly gid: number
  /** Bytes of content (regular files only; 0 for every other type). */
  readonly size: number
  readonly mtime: Date
  /** Target of a symlink, or the path (inside the tar) a hard link names. */
  readonly linkname: string
  readonly devmajor: number
  readonly devminor: number
  /**
   * Extended attributes. tar-stream decodes PAX values as UTF-8 text, so values that are not valid UTF-8
   * (binary attributes such as `security.capability`) do not survive a round trip.
   */
  readonly xattrs: Readonly<Record<string, string>>
}

/**
 * An entry read from a tar. `body` must be read (or dropped) before the next entry is pulled; an entry whose
 * body was not read is skipped when the next one is pulled.
 *
 * @since 0.1.0
 */
export interface Entry {
  readonly header: Header
  readonly body: Stream.Stream<Uint8Array, MalformedTar>
}

/**
 * An entry to write: `body` (regular files only) must yield exactly `header.size` bytes.
 *
 * @since 0.1.0
 */
export interface Output<E> {
  readonly header: Header
  readonly body?: Stream.Stream<Uint8Array, E>
  /** The whole content of a small file, instead of `body` (one write, no stream to run). */
  readonly content?: Uint8Array
}

const xattrPrefix = "SCHILY.xattr."
const blockSize = 512
const roundUp = (n: number) => Math.ceil(n / blockSize) * blockSize

const typeOf = (type: string | null | undefined): EntryType | undefined => {
  switch (type) {
    case "file":
    case "contiguous-file":
      return "file"
    case "link":
    case "symlink":
    case "character-device":
    case "block-device":
    case "directory":
    case "fifo":
      return type
    default:
      return undefined
  }
}

/** tar-stream's decoded header carries these besides its declared fields. */
interface Decoded extends Partial<Omit<Tar.Header, "type" | "pax">> {
  readonly name: string
  readonly type?: string | null
  readonly byteOffset?: number
  readonly pax?: Readonly<Record<string, string>> | null
}

/** The part of a streamx writable the adapters use. */
interface Writable {
  readonly destroyed: boolean
  write(data: unknown): boolean
  end(): unknown
  destroy(error?: Error | null): void
  on(event: "drain" | "close", listener: () => void): unknown
  off(event: "drain" | "close", listener: () => void): unknown
}

const headerOf = (raw: Decoded): Header | string => {
  const type = typeOf(raw.type)
  if (type === undefined) return `entry ${JSON.stringify(raw.name)} has an unsupported type ${String(raw.type)}`
  const xattrs: Record<string, string> = {}
  for (const [key, value] of Object.entries(raw.pax ?? {})) {
    if (key.startsWith(xattrPrefix)) xattrs[key.slice(xattrPrefix.length)] = value
  }
  // A PAX mtime keeps the fraction of a second the ustar field drops.
  const paxTime = raw.pax?.mtime === undefined ? Number.NaN : Number(raw.pax.mtime)
  return {
    name: raw.name,
    type,
    mode: (raw.mode ?? 0) & 0o7777,
    uid: raw.uid ?? 0,
    gid: raw.gid ?? 0,
    size: type === "file" ? (raw.size ?? 0) : 0,
    mtime: Number.isFinite(paxTime) ? new Date(paxTime * 1000) : (raw.mtime ?? new Date(0)),
    linkname: raw.linkname ?? "",
    devmajor: raw.devmajor ?? 0,
    devminor: raw.devminor ?? 0,
    xattrs
  }
}

const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error))

/** Writes one chunk, waiting for `drain` when the writable's buffer is full (or for its end, if it breaks). */
const writeChunk = (writable: Writable, chunk: Uint8Array) =>
  Effect.callback<void>((resume) => {
    if (writable.destroyed) return resume(Effect.void)
    if (writable.write(chunk)) return resume(Effect.void)
    const done = () => {
      writable.off("drain", done)
      writable.off("close", done)
      resume(Effect.void)
    }
    writable.on("drain", done)
    writable.on("close", done)
  })

/**
 * Runs `producer` in a fiber of the current scope: when it ends, `finish` closes what it fed; when it fails, its
 * cause is kept in `failed` and `abort` breaks what it fed, so the reading side stops too.
 */
const forkProducer = <E>(
  producer: Effect.Effect<void, E>,
  failed: { cause?: Cause.Cause<E> },
  finish: () => void,
  abort: (error: Error) => void
) =>
  producer.pipe(
    Effect.onExit((exit) =>
      Effect.sync(() => {
        if (Exit.isSuccess(exit)) finish()
        else {
          failed.cause = exit.cause
          abort(new Error("the input stream failed"))
        }
      })
    ),
    Effect.ignoreCause,
    Effect.forkScoped
  )

/** The part of a streamx readable (an entry's body in tar-stream) that `forEachChunk` uses. */
interface Source {
  readonly destroyed: boolean
  on(event: "data", listener: (chunk: Uint8Array) => void): unknown
  on(event: "end" | "close", listener: () => void): unknown
  on(event: "error", listener: (error: unknown) => void): unknown
  off(event: string, listener: (...args: Array<any>) => void): unknown
  pause(): unknown
}

/** The tar-stream body behind each entry `entries` made, for `forEachChunk`. */
const sources = new WeakMap<Entry, { readonly source: Source; readonly failed: { cause?: Cause.Cause<any> } }>()

/**
 * Reads `entry`'s body, handing each chunk to `onChunk` as it arrives: for an entry of `entries`, straight from
 * tar-stream's events, with no Effect step or promise per chunk (what a large layer's files cost most). What
 * `onChunk` throws stops the read, mapped by `onError`; a tar cut inside the body is `MalformedTar`, a failure of
 * the tar's input stream is passed through.
 *
 * @since 0.1.0
 */
export const forEachChunk = <E>(
  entry: Entry,
  onChunk: (chunk: Uint8Array) => void,
  onError: (thrown: unknown) => E
): Effect.Effect<void, E | MalformedTar> => {
  const known = sources.get(entry)
  if (known === undefined) {
    return Stream.runForEach(entry.body, (chunk) => Effect.try({ try: () => onChunk(chunk), catch: onError }))
  }
  const { source, failed } = known
  const name = JSON.stringify(entry.header.name)
  return Effect.callback<void, E | MalformedTar>((resume) => {
    let settled = false
    const settle = (result: Effect.Effect<void, E | MalformedTar>) => {
      if (settled) return
      settled = true
      source.off("data", onData)
      source.off("end", onEnd)
      source.off("error", onFail)
      source.off("close", onClose)
      resume(result)
    }
    const fromCause = (reason: string) =>
      failed.cause !== undefined ? Effect.failCause(failed.cause) : Effect.fail(new MalformedTar({ reason }))
    const onData = (chunk: Uint8Array) => {
      if (settled) return
      try {
        onChunk(chunk)
      } catch (thrown) {
        source.pause()
        settle(Effect.fail(onError(thrown)))
      }
    }
    const onEnd = () => settle(Effect.void)
    const onFail = (error: unknown) => settle(fromCause(`entry ${name}: ${messageOf(error)}`))
    const onClose = () => settle(fromCause(`entry ${name}: the tar stopped inside it`))
    if (source.destroyed) return onClose()
    source.on("data", onData)
    source.on("end", onEnd)
    source.on("error", onFail)
    source.on("close", onClose)
  })
}

/**
 * The entries of the tar in `bytes`. Fails with `MalformedTar` for a bad header, a stream that ends inside an
 * entry, or one that ends without the two zero blocks that close a tar; a failure of `bytes` is passed through.
 *
 * @since 0.1.0
 */
export const entries = <E>(bytes: Stream.Stream<Uint8Array, E>): Stream.Stream<Entry, E | MalformedTar> =>
  Stream.unwrap(
    Effect.gen(function* () {
      const extract = Tar.extract()
      const failed: { cause?: Cause.Cause<E> } = {}
      let total = 0
      let entriesEnd = 0
      const writable = extract as unknown as Writable
      yield* forkProducer(
        Stream.runForEach(bytes, (chunk) => {
          total += chunk.length
          return writeChunk(writable, chunk)
        }),
        failed,
        () => writable.end(),
        (error) => writable.destroy(error)
      )
      const iterator = extract[Symbol.asyncIterator]()
      let previous: { resume(): unknown } | undefined
      const fromFailure = (error: unknown): Effect.Effect<never, E | MalformedTar> =>
        failed.cause !== undefined
          ? Effect.failCause(failed.cause)
          : Effect.fail(new MalformedTar({ reason: messageOf(error) }))
      const next: Effect.Effect<Entry | undefined, E | MalformedTar> = Effect.suspend(() => {
        // An entry nobody read is drained, or tar-stream would wait for it forever.
        previous?.resume()
        return Effect.tryPromise({ try: () => iterator.next(), catch: (e) => e })
      }).pipe(
        Effect.catch(fromFailure),
        Effect.flatMap((step): Effect.Effect<Entry | undefined, E | MalformedTar> => {
          if (failed.cause !== undefined) return Effect.failCause(failed.cause)
          if (step.done === true) {
            return total >= entriesEnd + 2 * blockSize
              ? Effect.succeed(undefined)
              : Effect.fail(new MalformedTar({ reason: "the tar ends without its end-of-archive blocks" }))
          }
          const raw = step.value.header as unknown as Decoded
          previous = step.value
          entriesEnd = (raw.byteOffset ?? 0) + roundUp(raw.size ?? 0)
          const header = headerOf(raw)
          if (typeof header === "string") return Effect.fail(new MalformedTar({ reason: header }))
          const source = step.value
          const entry: Entry = {
            header,
            body: Stream.fromAsyncIterable(
              source as AsyncIterable<Uint8Array>,
              (e) => new MalformedTar({ reason: `entry ${JSON.stringify(header.name)}: ${messageOf(e)}` })
            )
          }
          sources.set(entry, { source: source as unknown as Source, failed })
          return Effect.succeed(entry)
        })
      )
      yield* Effect.addFinalizer(() => Effect.sync(() => extract.destroy()))
      return Stream.fromPull(
        Effect.succeed(
          Effect.flatMap(next, (entry) => (entry === undefined ? Cause.done() : Effect.succeed([entry] as const)))
        )
      )
    })
  )

const typeBits: Record<EntryType, number> = {
  file: 0o100000,
  link: 0o100000,
  symlink: 0o120000,
  "character-device": 0o020000,
  "block-device": 0o060000,
  directory: 0o040000,
  fifo: 0o010000
}

/** The header tar-stream writes; the type bits keep a mode of 0 from being replaced by tar-stream's default. */
const packHeader = (h: Header): Partial<Tar.Header> & { name: string } => {
  const xattrs = Object.entries(h.xattrs)
  return {
    name: h.name,
    type: h.type,
    mode: typeBits[h.type] | (h.mode & 0o7777),
    uid: h.uid,
    gid: h.gid,
    size: h.type === "file" ? h.size : 0,
    mtime: h.mtime,
    ...(h.linkname === "" ? {} : { linkname: h.linkname }),
    devmajor: h.devmajor,
    devminor: h.devminor,
    ...(xattrs.length === 0 ? {} : { pax: Object.fromEntries(xattrs.map(([k, v]) => [xattrPrefix + k, v])) })
  }
}

const addEntry = <E>(pack: Tar.Pack, entry: Output<E>): Effect.Effect<void, E> =>
  Effect.suspend(() => {
    let sink: Writable | undefined
    const content = entry.content
    // Waiting for tar-stream's callback keeps the backpressure: it comes once the entry was read out of the pack.
    const written = new Promise<Error | null | undefined>((resolve) => {
      const done = (error?: Error | null) => resolve(error)
      sink = (content === undefined
        ? pack.entry(packHeader(entry.header), done)
        : pack.entry(packHeader(entry.header), content, done)) as unknown as Writable
    })
    const body =
      entry.header.type === "file" && content === undefined
        ? Effect.andThen(
            Stream.runForEach(entry.body ?? Stream.empty, (chunk) => writeChunk(sink!, chunk)),
            Effect.sync(() => sink!.end())
          )
        : Effect.void
    return Effect.andThen(
      body,
      Effect.flatMap(
        Effect.promise(() => written),
        (error) => (error ? Effect.die(error) : Effect.void)
      )
    )
  })

const chunkBytes = 64 * 1024

/**
 * Joins tar-stream's small pushes (512-byte headers, short files) into chunks of about 64 KiB; a push that big
 * already goes through as it is (after what was gathered before it), so file contents are never copied again.
 */
async function* coalesce(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  let parts: Array<Uint8Array> = []
  let size = 0
  for await (const chunk of source) {
    if (chunk.length >= chunkBytes) {
      if (size > 0) yield Buffer.concat(parts, size)
      parts = []
      size = 0
      yield chunk
      continue
    }
    parts.push(chunk)
    size += chunk.length
    if (size >= chunkBytes) {
      yield Buffer.concat(parts, size)
      parts = []
      size = 0
    }
  }
  if (size > 0) yield Buffer.concat(parts, size)
}

/**
 * The bytes of a tar holding `entries`, in order, closed by the end-of-archive blocks. Entries are pulled only as
 * fast as the bytes are read. A failure of `entries` (or of a body) fails the stream; a body that does not yield
 * exactly `header.size` bytes is a defect.
 *
 * @since 0.1.0
 */
export const write = <E>(entries: Stream.Stream<Output<E>, E>): Stream.Stream<Uint8Array, E> =>
  Stream.unwrap(
    Effect.gen(function* () {
      const pack = Tar.pack()
      const failed: { cause?: Cause.Cause<E> } = {}
      yield* forkProducer(
        Stream.runForEach(entries, (entry) => addEntry(pack, entry)),
        failed,
        () => pack.finalize(),
        (error) => pack.destroy(error)
      )
      yield* Effect.addFinalizer(() => Effect.sync(() => pack.destroy()))
      return Stream.fromAsyncIterable(coalesce(pack as AsyncIterable<Uint8Array>), (e) => e).pipe(
        Stream.catchCause(
          (cause): Stream.Stream<never, E> =>
            failed.cause !== undefined ? Stream.failCause(failed.cause) : Stream.die(Cause.squash(cause))
        )
      )
    })
  )
