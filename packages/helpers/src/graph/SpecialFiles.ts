/**
 * What Node's `fs` cannot do and layers need: device nodes and FIFOs (`mknod(1)`), and extended attributes
 * (`setfattr(1)`, `getfattr(1)` from the `attr` package). They are rare in layers (whiteouts of an overlay upper
 * folder, `security.capability` of a few binaries), so one process per call is affordable; reading the
 * attributes of a whole tree is a single `getfattr -R`.
 *
 * A tool's arguments are text, and a path may not be (see `FileName`): such a path is handed over through this
 * process's descriptor for its folder (`/proc/PID/fd/N/NAME`), and a last component that is not text goes by a
 * temporary name for the call, renamed in its own folder before and after.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as FileName from "./FileName.ts"
import { ioError, LayerIoError } from "./LayerTarError.ts"

/**
 * Runs a tool; its standard output comes back as latin1 text (one character per byte: names keep their bytes).
 * `english`: runs it with `LC_ALL=C`, so that its messages (`strerror`'s text) can be told apart.
 */
const run = (file: string, args: ReadonlyArray<string>, operation: string, path: string, english = false) =>
  Effect.callback<string, LayerIoError>((resume) => {
    let child: ChildProcess.ChildProcess
    try {
      child = ChildProcess.execFile(
        file,
        [...args],
        {
          encoding: "buffer",
          maxBuffer: 256 * 1024 * 1024,
          ...(english ? { env: { ...process.env, LC_ALL: "C" } } : {})
        },
        (error, stdout, stderr) => {
          if (error === null) return resume(Effect.succeed(stdout.toString("latin1")))
          const said = stderr.toString().trim()
          const reason =
            (error as NodeJS.ErrnoException).code === "ENOENT" && said === ""
              ? `${file} is not installed`
              : said || error.message
          resume(Effect.fail(new LayerIoError({ operation, path, reason })))
        }
      )
    } catch (e) {
      // Arguments the system refuses (E2BIG for one over 128 KiB, a NUL byte) are thrown here, not called back with.
      return resume(Effect.fail(ioError(operation, path)(e)))
    }
    return Effect.sync(() => child.kill("SIGKILL"))
  })

/**
 * Runs `use` with a text path for `path` (see the module's note). `exists`: whether `path` is there already (it is
 * renamed away and back), or is what `use` makes (it is made under the temporary name, then renamed).
 */
const withTextPath = <A>(
  path: string,
  exists: boolean,
  operation: string,
  use: (textPath: string) => Effect.Effect<A, LayerIoError>
): Effect.Effect<A, LayerIoError> => {
  if (FileName.isText(path)) return use(path)
  const dir = Path.dirname(path)
  const base = Path.basename(path)
  const io = <B>(f: () => B) => Effect.try({ try: f, catch: ioError(operation, path) })
  return Effect.acquireUseRelease(
    io(() => {
      if (FileName.isText(dir)) return { folder: dir, fd: undefined }
      const fd = Fs.openSync(FileName.fsPath(dir), Fs.constants.O_RDONLY | Fs.constants.O_DIRECTORY)
      return { folder: `/proc/${process.pid}/fd/${fd}`, fd }
    }),
    ({ folder }) => {
      if (FileName.isText(base)) return use(`${folder}/${base}`)
      const alias = `.dpk-${Crypto.randomBytes(6).toString("hex")}`
      const real = FileName.fsPath(path)
      const aliased = FileName.fsPath(Path.join(dir, alias))
      const rename = (from: string | Buffer, to: string | Buffer) => io(() => Fs.renameSync(from, to))
      return exists
        ? Effect.acquireUseRelease(
            rename(real, aliased),
            () => use(`${folder}/${alias}`),
            () => Effect.ignore(rename(aliased, real))
          )
        : Effect.tap(use(`${folder}/${alias}`), () =>
            // What was made under the temporary name does not stay there when it cannot take its own.
            Effect.tapError(rename(aliased, real), () => Effect.ignore(io(() => Fs.rmSync(aliased, { force: true }))))
          )
    },
    ({ fd }) => Effect.sync(() => fd !== undefined && Fs.closeSync(fd))
  )
}

/**
 * The kinds of special file `mknod` makes.
 *
 * @since 0.1.0
 */
export type NodeType = "character-device" | "block-device" | "fifo"

/**
 * Makes a device node or FIFO at `path` (which must not exist); permissions are set by the caller.
 *
 * @since 0.1.0
 */
export const mknod = (path: string, type: NodeType, major = 0, minor = 0): Effect.Effect<void, LayerIoError> =>
  withTextPath(path, false, "mknod", (at) =>
    Effect.asVoid(
      run(
        "mknod",
        type === "fifo" ? [at, "p"] : [at, type === "character-device" ? "c" : "b", String(major), String(minor)],
        "mknod",
        path
      )
    )
  )

/** The largest value Linux keeps for an extended attribute (`XATTR_SIZE_MAX`). */
const maxXattrBytes = 64 * 1024

/**
 * Sets one extended attribute on `path` itself (a symlink is not followed): `value` as bytes, or text as UTF-8. A
 * value over 64 KiB, which Linux refuses (E2BIG), fails without running anything.
 *
 * @since 0.1.0
 */
export const setXattr = (path: string, name: string, value: Uint8Array | string): Effect.Effect<void, LayerIoError> => {
  const bytes = Buffer.from(value)
  if (bytes.length > maxXattrBytes) {
    const reason = `the value of ${name} is ${bytes.length} bytes, more than the ${maxXattrBytes} Linux allows`
    return Effect.fail(new LayerIoError({ operation: "setxattr", path, reason }))
  }
  // `-v 0s` (an empty base64 value) sets nothing and succeeds: an empty value is set by leaving `-v` out.
  const set = bytes.length === 0 ? [] : ["-v", `0s${bytes.toString("base64")}`]
  return withTextPath(path, true, "setxattr", (at) =>
    Effect.asVoid(run("setfattr", ["-h", "-n", name, ...set, "--", at], "setxattr", path, true))
  )
}

/** How setfattr (under `LC_ALL=C`) ends its message for ENOTSUP and EPERM. */
const notSupportedOrPermitted = /: (Operation not supported|Operation not permitted)$/

/**
 * `setXattr` as Docker's `createTarFile` sets a layer entry's attributes (Docker 20.10's `pkg/archive`): an attribute
 * the file system does not support or permit (ENOTSUP, EPERM: a `user.*` attribute on a symlink, a `trusted.*` one
 * without CAP_SYS_ADMIN) is left unset and its failure answered, for the caller to log; any other failure fails.
 *
 * @since 0.1.0
 */
export const setXattrIfAllowed = (
  path: string,
  name: string,
  value: Uint8Array | string
): Effect.Effect<LayerIoError | undefined, LayerIoError> =>
  Effect.catchIf(
    Effect.as(setXattr(path, name, value), undefined),
    (error: LayerIoError) => notSupportedOrPermitted.test(error.reason),
    Effect.succeed
  )

/** Undoes getfattr's escaping of file names (`\ooo` octal bytes, `\\`) in latin1 text: the name's bytes. */
const unescapeName = (name: string): string =>
  FileName.decode(
    Buffer.from(
      name.replace(/\\([0-7]{3}|\\)/g, (_, code: string) =>
        code === "\\" ? "\\" : String.fromCharCode(Number.parseInt(code, 8))
      ),
      "latin1"
    )
  )

/**
 * The extended attributes of every file under `root` that has some, by path relative to `root` (`""` for `root`),
 * values as bytes. Symlinks are not followed. `match`: a regular expression (getfattr's `-m`) the names read must
 * match; all of them by default.
 *
 * @since 0.1.0
 */
export const readXattrsTree = (
  root: string,
  match = "-"
): Effect.Effect<ReadonlyMap<string, Readonly<Record<string, Uint8Array>>>, LayerIoError> =>
  readXattrsOf(root, [root], true, match)

/**
 * The extended attributes of `paths` (text paths under `root`, or `root` itself), and of everything below them when
 * `recursive`, as `readXattrsTree` gives them: by path relative to `root`. One `getfattr` run for all of them.
 *
 * @since 0.1.0
 */
export const readXattrsOf = (
  root: string,
  paths: ReadonlyArray<string>,
  recursive: boolean,
  match = "-"
): Effect.Effect<ReadonlyMap<string, Readonly<Record<string, Uint8Array>>>, LayerIoError> =>
  Effect.map(
    run(
      "getfattr",
      ["--absolute-names", ...(recursive ? ["-R"] : []), "-P", "-h", "-d", "-m", match, "-e", "base64", "--", ...paths],
      "getfattr",
      root
    ),
    (out) => {
      const result = new Map<string, Record<string, Uint8Array>>()
      let current: Record<string, Uint8Array> | undefined
      for (const line of out.split("\n")) {
        if (line.startsWith("# file: ")) {
          const path = unescapeName(line.slice("# file: ".length))
          const rel = path === root ? "" : path.slice(root.length + 1)
          current = {}
          result.set(rel, current)
        } else if (current !== undefined && line !== "") {
          const eq = line.indexOf("=")
          if (eq < 0) current[line] = new Uint8Array(0)
          else {
            const raw = line.slice(eq + 1)
            current[line.slice(0, eq)] = Uint8Array.from(
              raw.startsWith("0s")
                ? Buffer.from(raw.slice(2), "base64")
                : Buffer.from(raw.replace(/^"|"$/g, ""), "latin1")
            )
          }
        }
      }
      return result
    }
  )
