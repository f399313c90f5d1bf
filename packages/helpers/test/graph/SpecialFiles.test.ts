import { SpecialFiles } from "@docker-plugin-kit/helpers"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { tempDir } from "./support.ts"

describe("SpecialFiles.setXattr", () => {
  it.effect("arguments the system refuses to run a tool with fail with the path, not a defect", () =>
    Effect.gen(function* () {
      const path = Path.join(yield* tempDir, "f")
      Fs.writeFileSync(path, "")
      // A NUL byte cannot go on a command line: execFile throws instead of calling back.
      const error = yield* Effect.flip(SpecialFiles.setXattr(path, "user.a\0b", "v"))
      expect([error._tag, error.operation, error.path]).toEqual(["LayerIoError", "setxattr", path])
    })
  )

  it.effect("setXattrIfAllowed answers an attribute Linux does not permit (EPERM), and fails on any other error", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      Fs.symlinkSync("nowhere", Path.join(dir, "l"))
      // `user.*` attributes are for regular files and folders only.
      const left = yield* SpecialFiles.setXattrIfAllowed(Path.join(dir, "l"), "user.k", "v")
      expect(left?.reason).toMatch(/Operation not permitted$/)
      const missing = yield* Effect.flip(SpecialFiles.setXattrIfAllowed(Path.join(dir, "missing"), "user.k", "v"))
      expect(missing.reason).toMatch(/No such file or directory$/)
    })
  )
})
