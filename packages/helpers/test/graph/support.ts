// Tars built with tar-stream's own pack, so the tests can plant whatever a hostile layer could hold.
import { Effect } from "effect"
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
