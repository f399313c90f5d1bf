// Tars built with tar-stream's own pack, so the tests can plant whatever a hostile layer could hold.
import { FileName } from "@docker-plugin-kit/helpers"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Tar from "tar-stream"

/** One raw entry: any header tar-stream's pack writes, with a text or byte body for files. */
export interface RawEntry {
  readonly header: Partial<Tar.Header> & { name: string; pax?: Record<string, string> }
  readonly body?: string | Uint8Array
}

/** The bytes of a tar holding `entries` as given (no checks), closed by the end-of-archive blocks. */
export const rawTar = (entries: ReadonlyArray<RawEntry>): Effect.Effect<Buffer> =>
  Effect.promise(async () => {
    const pack = Tar.pack()
    const chunks: Array<Buffer> = []
    const done = (async () => {
      for await (const c of pack) chunks.push(c as Buffer)
    })()
    for (const { header, body } of entries) {
      await new Promise<void>((resolve, reject) => {
        const callback = (e?: Error | null) => (e ? reject(e) : resolve())
        if (body === undefined) pack.entry(header as Tar.Header, callback)
        else pack.entry(header as Tar.Header, typeof body === "string" ? Buffer.from(body) : body, callback)
      })
    }
    pack.finalize()
    await done
    return Buffer.concat(chunks)
  })

/** A fresh temporary folder, removed when the test's scope closes. */
export const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-layer-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** Whether this process may chown and make devices. */
export const isRoot = process.getuid?.() === 0

/**
 * Every path under `root` with what a layer must preserve: type, mode, owner, size, content, link target. Names
 * and link targets are read as bytes (shown with `FileName`'s escapes), so a name that is not UTF-8 is told apart.
 */
export const snapshot = (root: string): Array<string> => {
  const out: Array<string> = []
  const walk = (rel: string) => {
    const names = Fs.readdirSync(FileName.fsPath(Path.join(root, rel)), { encoding: "buffer" }).map(FileName.decode)
    for (const name of names.sort()) {
      const path = rel === "" ? name : `${rel}/${name}`
      const abs = FileName.fsPath(Path.join(root, path))
      const s = Fs.lstatSync(abs)
      const what = s.isDirectory()
        ? "dir"
        : s.isSymbolicLink()
          ? `link->${FileName.decode(Fs.readlinkSync(abs, { encoding: "buffer" }))}`
          : s.isFile()
            ? `file:${Fs.readFileSync(abs, "utf8").slice(0, 40)}:${s.size}`
            : `special:${s.rdev}`
      out.push(`${path} ${what} ${(s.mode & 0o7777).toString(8)} ${s.uid}:${s.gid}`)
      if (s.isDirectory()) walk(path)
    }
  }
  walk("")
  return out
}

/** Latin1 "café" and a folder named "d" and the byte 0xFF: names that are not UTF-8, as `FileName` carries them. */
export const latin1Name = "caf\udce9"
export const binaryFolder = "d\udcff"

/**
 * Makes under `dir` a tree whose names are not UTF-8: a file `caf\xe9`, a folder `d\xff` holding a file, a symlink
 * to `../caf\xe9` and a hard link to it, and a file whose 120-byte name does not fit a ustar header.
 */
export const nonUtf8Tree = (dir: string) => {
  const at = (rel: string) => FileName.fsPath(Path.join(dir, rel))
  Fs.writeFileSync(at(latin1Name), "latin1 name")
  Fs.mkdirSync(at(binaryFolder))
  Fs.writeFileSync(at(`${binaryFolder}/plain`), "inside")
  Fs.symlinkSync(FileName.fsPath(`../${latin1Name}`), at(`${binaryFolder}/link`))
  Fs.linkSync(at(latin1Name), at(`${binaryFolder}/hard`))
  Fs.writeFileSync(at(`${"long".repeat(30)}${latin1Name}`), "long name")
}

/** The tar GNU tar makes of `dir` in `format` (`gnu`: names in header fields and long-name entries; `posix`: PAX). */
export const gnuTar = (dir: string, format: "gnu" | "posix"): Buffer =>
  ChildProcess.execFileSync("tar", [`--format=${format}`, "-C", dir, "-cf", "-", "."], { maxBuffer: 1 << 26 })

/** A parent folder and a layer folder that starts as an exact copy of it. */
export const parentAndCopy = Effect.map(tempDir, (base) => {
  const parent = Path.join(base, "parent")
  const layer = Path.join(base, "layer")
  Fs.mkdirSync(Path.join(parent, "etc/conf.d"), { recursive: true })
  Fs.mkdirSync(Path.join(parent, "var/cache"), { recursive: true })
  Fs.mkdirSync(Path.join(parent, "same"), { recursive: true })
  Fs.writeFileSync(Path.join(parent, "etc/hosts"), "old hosts")
  Fs.writeFileSync(Path.join(parent, "etc/conf.d/a"), "a")
  Fs.writeFileSync(Path.join(parent, "var/cache/big"), "b".repeat(1000))
  Fs.writeFileSync(Path.join(parent, "same/file"), "unchanged")
  Fs.symlinkSync("hosts", Path.join(parent, "etc/alias"))
  ChildProcess.execFileSync("cp", ["-a", `${parent}/.`, layer])
  return { base, parent, layer }
})
