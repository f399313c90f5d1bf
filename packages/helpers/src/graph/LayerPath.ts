/**
 * Names inside a layer tar, checked before anything touches the disk: the pure rules that keep every entry inside
 * the target folder, and Docker's whiteout conventions (AUFS form: `.wh.NAME`, `.wh..wh..opq`).
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Path from "node:path"
import * as FileName from "./FileName.ts"

/**
 * Longest path accepted, in bytes (Linux `PATH_MAX` less the terminating NUL).
 *
 * @since 0.1.0
 */
export const maxPathBytes = 4095

/**
 * Longest path component accepted, in bytes (Linux `NAME_MAX`).
 *
 * @since 0.1.0
 */
export const maxNameBytes = 255

/**
 * Prefix of a whiteout entry: `dir/.wh.NAME` deletes `dir/NAME` of the lower layers.
 *
 * @since 0.1.0
 */
export const whiteoutPrefix = ".wh."

/**
 * Prefix of AUFS metadata entries (`.wh..wh.plnk`, ...), never materialised.
 *
 * @since 0.1.0
 */
export const whiteoutMetaPrefix = ".wh..wh."

/**
 * The folder, at the top of a layer exported by an AUFS-backed daemon, that holds the real files of hard links
 * (AUFS' "pseudo-links"): hard links elsewhere in the tar name them. Never materialised (see `inAufsLinkDir`).
 *
 * @since 0.1.0
 */
export const aufsLinkDir = `${whiteoutMetaPrefix}plnk`

/**
 * Whether a normalised path is inside the AUFS hard-link folder at the top of the layer (`.wh..wh.plnk/NAME`),
 * where a hard link's target is a file kept from that folder, not a path of the layer.
 *
 * @since 0.1.0
 */
export const inAufsLinkDir = (path: string): boolean => path.startsWith(`${aufsLinkDir}/`)

/**
 * The entry that makes its folder opaque: nothing of the lower layers shows through.
 *
 * @since 0.1.0
 */
export const opaqueMarker = ".wh..wh..opq"

const byteLength = FileName.byteLength

// A UTF-16 code unit is at most 3 bytes (an escaped byte, see FileName, is 1): a short name needs no count.
const longerThan = (text: string, max: number): boolean => text.length * 3 > max && byteLength(text) > max

/**
 * Normalises a tar entry name to a path relative to the target folder, `""` being the folder itself (`./`).
 * Fails with the reason for a name that is absolute, climbs with `..`, holds a NUL, or is too long.
 *
 * @since 0.1.0
 */
export const normalize = (name: string): Result.Result<string, string> => {
  if (name.includes("\0")) return Result.fail("the name holds a NUL byte")
  if (name.startsWith("/")) return Result.fail("absolute names are not allowed")
  if (longerThan(name, maxPathBytes)) return Result.fail(`the name is longer than ${maxPathBytes} bytes`)
  const parts: Array<string> = []
  for (const part of name.split("/")) {
    if (part === "" || part === ".") continue
    if (part === "..") return Result.fail("the name climbs out with ..")
    if (longerThan(part, maxNameBytes)) return Result.fail(`a component is longer than ${maxNameBytes} bytes`)
    parts.push(part)
  }
  return Result.succeed(parts.join("/"))
}

/**
 * The folder part of a normalised path (`""` for an entry at the top).
 *
 * @since 0.1.0
 */
export const dirname = (path: string): string => {
  const i = path.lastIndexOf("/")
  return i < 0 ? "" : path.slice(0, i)
}

/**
 * The last component of a normalised path.
 *
 * @since 0.1.0
 */
export const basename = (path: string): string => path.slice(path.lastIndexOf("/") + 1)

/**
 * Joins a folder and a name of normalised paths.
 *
 * @since 0.1.0
 */
export const join = (dir: string, name: string): string => (dir === "" ? name : `${dir}/${name}`)

/**
 * Joins folder `root` on disk with normalised paths (no empty, `.` or `..` component: `normalize` gives them, and so
 * do names read from a folder): the root is resolved once, and each path needs only a `/`, not `Path.join`, whose
 * normalising walk over every character was the largest allocation of a layer's walk.
 *
 * @since 0.1.0
 */
export const under = (root: string): ((path: string) => string) => {
  const base = Path.resolve(root)
  const prefix = base.endsWith("/") ? base : `${base}/`
  return (path) => (path === "" ? base : prefix + path)
}

/**
 * What a normalised entry name means to a layer.
 *
 * @since 0.1.0
 */
export type Meaning =
  | { readonly _tag: "Plain" }
  | { readonly _tag: "Whiteout"; readonly dir: string; readonly target: string }
  | { readonly _tag: "Opaque"; readonly dir: string }
  | { readonly _tag: "AufsMeta" }

/**
 * Classifies a normalised name; fails for a whiteout that would delete its own folder or a parent
 * (`.wh..`, `.wh...`, `.wh.`).
 *
 * @since 0.1.0
 */
export const meaning = (path: string): Result.Result<Meaning, string> => {
  const base = basename(path)
  const dir = dirname(path)
  // Everything under an AUFS metadata folder (`.wh..wh.plnk/...`) is metadata too.
  // (A component starts with the prefix when the folder does or when it follows a `/`; no split per entry.)
  if (dir.startsWith(whiteoutMetaPrefix) || dir.includes(`/${whiteoutMetaPrefix}`)) {
    return Result.succeed({ _tag: "AufsMeta" })
  }
  if (!base.startsWith(whiteoutPrefix)) return Result.succeed({ _tag: "Plain" })
  if (base === opaqueMarker) return Result.succeed({ _tag: "Opaque", dir })
  if (base.startsWith(whiteoutMetaPrefix)) return Result.succeed({ _tag: "AufsMeta" })
  const target = base.slice(whiteoutPrefix.length)
  if (target === "" || target === "." || target === "..") {
    return Result.fail("the whiteout names its own folder or a parent")
  }
  return Result.succeed({ _tag: "Whiteout", dir, target })
}

/**
 * The whiteout entry name that deletes `path`.
 *
 * @since 0.1.0
 */
export const whiteoutOf = (path: string): string => join(dirname(path), whiteoutPrefix + basename(path))
