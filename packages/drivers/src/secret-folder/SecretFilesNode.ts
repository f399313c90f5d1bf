/**
 * `SecretFiles` on the real disk.
 *
 * No symlink below the root is followed, and that holds even while someone swaps folders for symlinks during a
 * lookup: each part of the key is opened relative to the folder opened just before it (`openat`, reached from Node
 * through `/proc/self/fd/N/NAME`: the kernel resolves the magic link `N` to the open folder itself, not to a path
 * that could have changed), with `O_NOFOLLOW`, so a symlink there fails the open instead of being followed. The
 * alternative, `O_NOFOLLOW` on the file plus an `lstat` of each parent, leaves a window between the check and the
 * open in which a parent replaced by a symlink is followed. Each part is `lstat`-ed first, only to name what is in
 * the way (and so that a device is never opened); the open and an `fstat` of the handle decide. A file of more than
 * one hard link is refused: it could be any file of the same file system, linked in by whoever writes the folder.
 *
 * The file is opened with `O_NONBLOCK`: a FIFO swapped in after the `lstat` then opens at once (and is refused by
 * the `fstat`) instead of waiting for a writer in a thread of libuv's small pool for good. It is read at each call
 * (a rewritten file is served at once) and never beyond the limit plus one byte, whatever its size says.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Fs from "node:fs"
import * as BoundedRead from "../shared/BoundedRead.ts"
import * as FileKind from "../shared/FileKind.ts"
import { type Lookup, SecretFiles, SecretFilesError } from "./SecretFiles.ts"

const { O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK, O_RDONLY } = Fs.constants
const folderFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW
const fileFlags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK

const codeOf = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code

const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error))

/** `name` in the folder open as `folder`, as a path the kernel resolves from that open folder (`openat`). */
const inside = (folder: Fs.promises.FileHandle, name: string) => `/proc/self/fd/${folder.fd}/${name}`

/**
 * What `stats` of the entry at `at` means for a lookup wanting a `wanted`; `undefined` when it is one (a file: of one
 * name only, since a hard link may be any file of the same file system).
 */
const refusal = (stats: Fs.Stats, at: string, wanted: "folder" | "file"): Lookup | undefined =>
  stats.isSymbolicLink()
    ? { _tag: "Symlink", at }
    : (wanted === "file" ? stats.isFile() : stats.isDirectory())
      ? wanted === "file" && stats.nlink > 1
        ? { _tag: "HardLinked", at, links: stats.nlink }
        : undefined
      : { _tag: "WrongKind", at, kind: FileKind.of(stats), wanted }

/** What is at `path` (not followed), as a refusal, or `undefined` when it is what is wanted. */
const classify = async (path: string, at: string, wanted: "folder" | "file"): Promise<Lookup | undefined> => {
  try {
    return refusal(await Fs.promises.lstat(path), at, wanted)
  } catch (error) {
    if (codeOf(error) === "ENOENT") return { _tag: "Missing", at }
    throw error
  }
}

const lookup = async (root: string, segments: ReadonlyArray<string>, limit: number): Promise<Lookup> => {
  if (segments.length === 0) throw new Error("a key has at least one segment")
  const opened: Array<Fs.promises.FileHandle> = []
  try {
    // The root is opened following symlinks: where it is, through links or not, is the operator's choice.
    let folder = await Fs.promises.open(root, O_RDONLY | O_DIRECTORY)
    opened.push(folder)
    for (const [index, name] of segments.entries()) {
      const at = segments.slice(0, index + 1).join("/")
      const wanted = index === segments.length - 1 ? "file" : "folder"
      const path = inside(folder, name)
      const refused = await classify(path, at, wanted)
      if (refused !== undefined) return refused
      let handle: Fs.promises.FileHandle
      try {
        handle = await Fs.promises.open(path, wanted === "file" ? fileFlags : folderFlags)
      } catch (error) {
        // Replaced between the lstat and the open (ELOOP: a symlink now; ENOTDIR: no folder now): say what is there.
        const now = ["ENOENT", "ELOOP", "ENOTDIR"].includes(codeOf(error) ?? "")
          ? await classify(path, at, wanted)
          : undefined
        if (now !== undefined) return now
        throw error
      }
      opened.push(handle)
      const stats = await handle.stat()
      const swapped = refusal(stats, at, wanted)
      if (swapped !== undefined) return swapped
      // Over the limit, its first `limit + 1` bytes: the caller tells the size from them.
      if (wanted === "file") {
        return { _tag: "Found", bytes: BoundedRead.bytesOf(await BoundedRead.read(handle, limit, stats.size)) }
      }
      folder = handle
    }
    throw new Error("unreachable: the last segment returns")
  } finally {
    // Read-only handles: a failed close loses nothing.
    await Promise.all(opened.map((handle) => handle.close().catch(() => {})))
  }
}

/**
 * The real-disk Layer. Fails to build where `/proc/self/fd` cannot be read (the lookups go through it).
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<SecretFiles, SecretFilesError> = Layer.effect(
  SecretFiles,
  Effect.as(
    Effect.tryPromise({
      try: () => Fs.promises.access("/proc/self/fd", Fs.constants.R_OK),
      catch: (error) =>
        new SecretFilesError({
          operation: "read",
          path: "/proc/self/fd",
          reason: `${reasonOf(error)}; secret-folder opens each folder of a key through it, so as to follow no symlink`
        })
    }),
    SecretFiles.of({
      makeDirectory: (path) =>
        Effect.tryPromise({
          try: () => Fs.promises.mkdir(path, { recursive: true, mode: 0o700 }),
          catch: (error) => new SecretFilesError({ operation: "mkdir", path, reason: reasonOf(error) })
        }).pipe(Effect.asVoid),
      read: (root, segments, limit) =>
        Effect.tryPromise({
          try: () => lookup(root, segments, limit),
          catch: (error) =>
            new SecretFilesError({ operation: "read", path: [root, ...segments].join("/"), reason: reasonOf(error) })
        })
    })
  )
)
