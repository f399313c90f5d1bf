// Tars built with tar-stream's own pack, so the tests can plant whatever a hostile layer could hold.
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

/** Every path under `root` with what a layer must preserve: type, mode, owner, size, content, link target. */
export const snapshot = (root: string): Array<string> => {
  const out: Array<string> = []
  const walk = (rel: string) => {
    for (const name of Fs.readdirSync(Path.join(root, rel)).sort()) {
      const path = rel === "" ? name : `${rel}/${name}`
      const abs = Path.join(root, path)
      const s = Fs.lstatSync(abs)
      const what = s.isDirectory()
        ? "dir"
        : s.isSymbolicLink()
          ? `link->${Fs.readlinkSync(abs)}`
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
