/**
 * LogFilesNode on the real disk: a symlink planted where a log file would be is never followed.
 */
import { LogFiles, LogFilesNode } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-logfiles-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

const files = LogFiles.LogFiles.pipe(Effect.provide(LogFilesNode.layer))

describe("LogFilesNode", () => {
  it.effect("appends to a new file, and refuses a symlink in its place without writing through it", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const fs = yield* files
      const plain = Path.join(dir, "plain.log")
      const append = yield* fs.openAppend(plain)
      yield* append.write(new TextEncoder().encode("line\n"))
      expect(Fs.readFileSync(plain, "utf8")).toBe("line\n")
      const outside = Path.join(dir, "outside")
      Fs.writeFileSync(outside, "must stay\n")
      const planted = Path.join(dir, "planted.log")
      Fs.symlinkSync(outside, planted)
      const error = yield* Effect.flip(fs.openAppend(planted))
      expect(error.message).toContain(planted)
      expect(error.message).toContain("symlink")
      const read = yield* Effect.flip(fs.open(planted))
      expect(read.message).toContain("symlink")
      expect(Fs.readFileSync(outside, "utf8")).toBe("must stay\n")
    }).pipe(Effect.scoped)
  )
})
