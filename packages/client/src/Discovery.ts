/**
 * Finding v1 plugins the way the daemon does (`pkg/plugins/discovery*.go`, moby v20.10.24): the lookup order for
 * one name, the enumeration used by `docker volume ls` and friends, and the wait for a socket that is not there yet.
 * Every folder can be overridden, so tests and rootless setups never touch `/run/docker/plugins`.
 *
 * @since 0.1.0
 */
import { SpecFile } from "@docker-plugin-kit/protocol"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { BadSpecFile, type DiscoveryError, PluginNotFound } from "./ClientError.ts"
import { readSmallFile } from "./internal/readSmallFile.ts"
import * as Retry from "./Retry.ts"

/**
 * Where plugins are looked for.
 *
 * @since 0.1.0
 */
export interface Folders {
  /** Sockets: `NAME.sock` and `NAME/NAME.sock`. */
  readonly socketDir: string
  /** Spec files, in order: `NAME.spec`, `NAME/NAME.spec`, `NAME.json`, `NAME/NAME.json` in each. */
  readonly specDirs: ReadonlyArray<string>
}

/**
 * The daemon's folders (not affected by `--exec-root`; rootless daemons use other spec folders).
 *
 * @since 0.1.0
 */
export const daemonFolders: Folders = {
  socketDir: "/run/docker/plugins",
  specDirs: ["/etc/docker/plugins", "/usr/lib/docker/plugins"]
}

/**
 * The daemon's folders with some replaced.
 *
 * @since 0.1.0
 */
export const folders = (overrides: Partial<Folders> = {}): Folders => ({ ...daemonFolders, ...overrides })

/**
 * What kind of file announced the plugin.
 *
 * @since 0.1.0
 */
export type Kind = "socket" | "spec" | "json"

/**
 * A plugin found on disk.
 *
 * @since 0.1.0
 */
export interface Located {
  readonly name: string
  readonly kind: Kind
  /** The socket or spec file that won. */
  readonly path: string
  readonly spec: SpecFile.Spec
}

/**
 * Every path the daemon tries for `name`, in order.
 *
 * @since 0.1.0
 */
export const candidates = (
  name: string,
  where: Folders
): ReadonlyArray<{ readonly path: string; readonly kind: Kind }> => {
  // The name is joined into the path as is, as the daemon does (so `a/b` looks for `a/b.sock`).
  const pair = (dir: string, ext: string) => [Path.join(dir, name + ext), Path.join(dir, name, name + ext)]
  return [
    ...pair(where.socketDir, ".sock").map((path) => ({ path, kind: "socket" as const })),
    ...where.specDirs.flatMap((dir) => [
      ...pair(dir, ".spec").map((path) => ({ path, kind: "spec" as const })),
      ...pair(dir, ".json").map((path) => ({ path, kind: "json" as const }))
    ])
  ]
}

const statOf = (path: string): Fs.Stats | undefined => {
  try {
    return Fs.statSync(path)
  } catch {
    return undefined
  }
}

const readSpec = (name: string, path: string, kind: "spec" | "json"): Result.Result<Located, BadSpecFile> => {
  let content: string
  try {
    // Not readFileSync: a FIFO named NAME.spec would hang the lookup for good, a huge file fill the memory.
    content = readSmallFile(path).toString("utf8")
  } catch (e) {
    return Result.fail(new BadSpecFile({ path, reason: `cannot read it: ${(e as Error).message}` }))
  }
  // The daemon reads a .json file with a streaming decoder: the first JSON value counts, the rest is ignored.
  const spec = kind === "spec" ? SpecFile.parseSpec(content) : SpecFile.parseJson(content)
  return Result.match(spec, {
    onFailure: (reason) => Result.fail(new BadSpecFile({ path, reason })),
    onSuccess: (s) => Result.succeed({ name, kind, path, spec: s })
  })
}

/**
 * A socket as the daemon reaches it: through the URL `unix://PATH`, read by Go's `url.Parse`. A path that URL
 * reads as another one (`#` and `?` cut it short, `%41` is `A`), cannot be read (`%zz`, a control character) or is
 * longer than a socket address can be fails, naming the socket, rather than working here and not in the daemon.
 */
const socketSpec = (name: string, path: string): Result.Result<Located, BadSpecFile> => {
  const url = `unix://${path}`
  // The daemon's socket folder is absolute; a relative override is read as the absolute path it stands for.
  const absolute = Path.resolve(path)
  return Result.match(SpecFile.parseUrl(`unix://${absolute}`), {
    onFailure: (reason) => Result.fail(new BadSpecFile({ path, reason })),
    onSuccess: (address) =>
      address._tag === "Unix" && address.path === absolute
        ? Result.succeed<Located>({
            name,
            kind: "socket",
            path,
            spec: { url, address: { _tag: "Unix", path }, tls: { insecureSkipVerify: true } }
          })
        : Result.fail(
            new BadSpecFile({
              path,
              reason: `the daemon dials ${url} as the socket ${address._tag === "Unix" ? address.path : SpecFile.formatAddress(address)}, not this one: rename it`
            })
          )
  })
}

/**
 * Finds `name` once: the first socket (symlinks followed) or existing spec file wins. A spec file that exists but
 * is unusable stops the search with `BadSpecFile`, as in the daemon.
 *
 * @since 0.1.0
 */
export const locate = (name: string, where: Folders = daemonFolders): Effect.Effect<Located, DiscoveryError> =>
  Effect.suspend((): Effect.Effect<Located, DiscoveryError> => {
    const all = candidates(name, where)
    if (name === "" || name.includes("\0")) {
      return Effect.fail(new PluginNotFound({ plugin: name, searched: [] }))
    }
    for (const { path, kind } of all) {
      const stat = statOf(path)
      if (stat === undefined) continue
      if (kind === "socket") {
        if (!stat.isSocket()) continue
        return Effect.fromResult(socketSpec(name, path))
      }
      return Effect.fromResult(readSpec(name, path, kind))
    }
    return Effect.fail(new PluginNotFound({ plugin: name, searched: all.map((c) => c.path) }))
  })

/**
 * Finds `name`, waiting for it like the daemon does when something looks a plugin up by name: any discovery error
 * is retried with the daemon's backoff (about 15 s in all), then the last one is returned.
 *
 * @since 0.1.0
 */
export const locateWithRetry = (
  name: string,
  where: Folders = daemonFolders,
  policy: Retry.Policy = Retry.daemon
): Effect.Effect<Located, DiscoveryError> =>
  Effect.mapError(
    Retry.retry(locate(name, where), policy, () => true),
    (e) => e.error
  )

/** Go's `filepath.Ext`: from the last dot of the base name, dot included. */
const extOf = (name: string): string => {
  const dot = name.lastIndexOf(".")
  return dot < 0 ? "" : name.slice(dot)
}

const trimExt = (name: string): string => name.slice(0, name.length - extOf(name).length)

const readDir = (dir: string): ReadonlyArray<Fs.Dirent> => {
  try {
    // Go's ReadDir returns entries sorted by name and does not follow symlinks.
    return Fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  } catch {
    return []
  }
}

/**
 * Every plugin name the daemon's enumeration (`GetAll`, behind `docker volume ls`) finds: sockets directly in the
 * socket folder and `D/D.sock`, then `.spec`/`.json` files (or `D/D.<ext>`) in the spec folders. Duplicates are
 * dropped, first occurrence kept.
 *
 * @since 0.1.0
 */
export const scan = (where: Folders = daemonFolders): Effect.Effect<ReadonlyArray<string>> =>
  Effect.sync(() => {
    const names: Array<string> = []
    for (const entry of readDir(where.socketDir)) {
      if (entry.isDirectory()) {
        if (statOf(Path.join(where.socketDir, entry.name, `${entry.name}.sock`))?.isSocket()) names.push(entry.name)
      } else if (entry.isSocket()) {
        names.push(trimExt(entry.name))
      }
    }
    for (const dir of where.specDirs) {
      for (const entry of readDir(dir)) {
        let file = entry.name
        if (entry.isDirectory()) {
          const inner = readDir(Path.join(dir, entry.name)).find((e) => trimExt(e.name) === entry.name)
          if (inner !== undefined) file = inner.name
        }
        const ext = extOf(file)
        if (ext === ".spec" || ext === ".json") names.push(trimExt(file))
      }
    }
    return [...new Set(names)]
  })

/**
 * One enumerated plugin: its name, and where it is or why it cannot be used.
 *
 * @since 0.1.0
 */
export interface Found {
  readonly name: string
  readonly result: Result.Result<Located, DiscoveryError>
}

/**
 * Enumerates and locates every plugin without waiting (as `GetAll` does: no discovery retries).
 *
 * @since 0.1.0
 */
export const all = (where: Folders = daemonFolders): Effect.Effect<ReadonlyArray<Found>> =>
  Effect.flatMap(scan(where), (names) =>
    Effect.forEach(names, (name) =>
      Effect.map(Effect.result(locate(name, where)), (result): Found => ({ name, result }))
    )
  )

/**
 * The transport an address uses: `unix`, `tcp` (plain HTTP) or `https`.
 *
 * @since 0.1.0
 */
export const transportOf = (address: SpecFile.Address): "unix" | "tcp" | "https" =>
  address._tag === "Unix" ? "unix" : address.https ? "https" : "tcp"
