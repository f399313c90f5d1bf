/**
 * Layer tars for the stress scenarios, made by the system's `tar` from files written to a scratch folder: an
 * archiver independent of the toolkit's own tar writer, which is part of what is under test.
 */
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

/**
 * An uncompressed tar of `files` (path to content; a path ending in `/` is a folder), as the daemon streams a layer.
 * It is made in a fresh folder under `scratch`, removed afterwards.
 */
export const tarOf = (scratch: string, files: Record<string, string | Buffer>): Buffer => {
  const src = Fs.mkdtempSync(Path.join(scratch, "tar-"))
  try {
    for (const [name, content] of Object.entries(files)) {
      const path = Path.join(src, name)
      if (name.endsWith("/")) Fs.mkdirSync(path, { recursive: true })
      else {
        Fs.mkdirSync(Path.dirname(path), { recursive: true })
        Fs.writeFileSync(path, content)
      }
    }
    return ChildProcess.execFileSync("tar", ["-cf", "-", "-C", src, "."], { maxBuffer: 64 * 2 ** 20 })
  } finally {
    Fs.rmSync(src, { recursive: true, force: true })
  }
}
