/**
 * What Node's `fs` cannot do and layers need: device nodes and FIFOs (`mknod(1)`), and extended attributes
 * (`setfattr(1)`, `getfattr(1)` from the `attr` package). They are rare in layers (whiteouts of an overlay upper
 * folder, `security.capability` of a few binaries), so one process per call is affordable; reading the
 * attributes of a whole tree is a single `getfattr -R`.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as ChildProcess from "node:child_process"
import { LayerIoError } from "./LayerTarError.ts"

const run = (file: string, args: ReadonlyArray<string>, operation: string, path: string) =>
  Effect.callback<string, LayerIoError>((resume) => {
    const child = ChildProcess.execFile(
      file,
      [...args],
      { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error === null) return resume(Effect.succeed(stdout))
        const reason =
          (error as NodeJS.ErrnoException).code === "ENOENT" && stderr === ""
            ? `${file} is not installed`
            : stderr.trim() || error.message
        resume(Effect.fail(new LayerIoError({ operation, path, reason })))
      }
    )
    return Effect.sync(() => child.kill("SIGKILL"))
  })

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
  Effect.asVoid(
    run(
      "mknod",
      type === "fifo" ? [path, "p"] : [path, type === "character-device" ? "c" : "b", String(major), String(minor)],
      "mknod",
      path
    )
  )

/**
 * Sets one extended attribute on `path` itself (a symlink is not followed): `value` as bytes, or text as UTF-8.
 *
 * @since 0.1.0
 */
export const setXattr = (path: string, name: string, value: Uint8Array | string): Effect.Effect<void, LayerIoError> =>
  Effect.asVoid(
    run(
      "setfattr",
      ["-h", "-n", name, "-v", `0s${Buffer.from(value).toString("base64")}`, "--", path],
      "setxattr",
      path
    )
  )

/** Undoes getfattr's escaping of file names (`\ooo` octal bytes, `\\`). */
const unescapeName = (name: string): string =>
  Buffer.from(
    name.replace(/\\([0-7]{3}|\\)/g, (_, code: string) =>
      code === "\\" ? "\\" : String.fromCharCode(Number.parseInt(code, 8))
    ),
    "latin1"
  ).toString("utf8")

/**
 * The extended attributes of every file under `root` that has some, by path relative to `root` (`""` for `root`),
 * values as bytes. Symlinks are not followed.
 *
 * @since 0.1.0
 */
export const readXattrsTree = (
  root: string
): Effect.Effect<ReadonlyMap<string, Readonly<Record<string, Uint8Array>>>, LayerIoError> =>
  Effect.map(
    run(
      "getfattr",
      ["--absolute-names", "-R", "-P", "-h", "-d", "-m", "-", "-e", "base64", "--", root],
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
              raw.startsWith("0s") ? Buffer.from(raw.slice(2), "base64") : Buffer.from(raw.replace(/^"|"$/g, ""))
            )
          }
        }
      }
      return result
    }
  )
