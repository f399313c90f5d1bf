/**
 * A snapshot of a folder tree (paths, types, sizes, link targets) to prove that nothing outside a driver's root
 * was created, changed or removed.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"

/** Every entry under `dir` except those under `skip`, as "path type size target" lines. */
export const snapshot = (dir: string, skip: ReadonlyArray<string>): ReadonlyArray<string> => {
  const lines: Array<string> = []
  const walk = (at: string) => {
    for (const name of Fs.readdirSync(at)) {
      const path = Path.join(at, name)
      if (skip.some((s) => path === s || path.startsWith(`${s}/`))) continue
      const stat = Fs.lstatSync(path)
      const target = stat.isSymbolicLink() ? Fs.readlinkSync(path) : ""
      lines.push(`${Path.relative(dir, path)} ${stat.mode.toString(8)} ${stat.isDirectory() ? 0 : stat.size} ${target}`)
      if (stat.isDirectory()) walk(path)
    }
  }
  walk(dir)
  return lines.sort()
}

/** Entries in one snapshot and not the other, both ways. */
export const difference = (before: ReadonlyArray<string>, after: ReadonlyArray<string>): ReadonlyArray<string> => {
  const a = new Set(before)
  const b = new Set(after)
  return [
    ...before.filter((l) => !b.has(l)).map((l) => `- ${l}`),
    ...after.filter((l) => !a.has(l)).map((l) => `+ ${l}`)
  ]
}
