import { FileName } from "@docker-plugin-kit/helpers"
import { describe, expect, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const bytes = (...b: ReadonlyArray<number>) => Uint8Array.from(b)
const utf8 = (s: string) => new Uint8Array(Buffer.from(s, "utf8"))

describe("FileName", () => {
  it("keeps UTF-8 names as their text", () => {
    for (const name of ["plain", "café", "日本語", "emoji 😀", "𐂀 (U+10080: a pair whose low half is in DC80-DCFF)"]) {
      expect(FileName.decode(utf8(name))).toBe(name)
      expect(FileName.isText(name)).toBe(true)
      expect(FileName.encode(name)).toEqual(utf8(name))
      expect(FileName.fsPath(name)).toBe(name)
    }
  })

  it("carries each byte outside valid UTF-8 as U+DC80-U+DCFF, and gives the bytes back", () => {
    const cases: ReadonlyArray<readonly [Uint8Array, string]> = [
      [bytes(0x63, 0x61, 0x66, 0xe9), "caf\udce9"], // latin1 é
      [bytes(0xff), "\udcff"],
      [bytes(0xc0, 0xaf), "\udcc0\udcaf"], // an overlong "/": never a slash
      [bytes(0xed, 0xa0, 0x80), "\udced\udca0\udc80"], // an encoded surrogate
      [bytes(0xf4, 0x90, 0x80, 0x80), "\udcf4\udc90\udc80\udc80"], // above U+10FFFF
      [bytes(0xe6, 0x97), "\udce6\udc97"], // a sequence cut short
      [bytes(0xe6, 0x97, 0xa5, 0x80, 0x41), "日\udc80A"] // valid text around a stray byte
    ]
    for (const [raw, name] of cases) {
      expect(FileName.decode(raw)).toBe(name)
      expect(FileName.isText(name)).toBe(false)
      expect(FileName.encode(name)).toEqual(raw)
      expect(FileName.byteLength(name)).toBe(raw.length)
      expect(new Uint8Array(FileName.fsPath(name) as Buffer)).toEqual(raw)
    }
  })

  it("round-trips every single byte and every pair of bytes", () => {
    for (let a = 0; a < 256; a++) {
      for (let b = 0; b < 256; b += 17) {
        const raw = bytes(a, b)
        expect(FileName.encode(FileName.decode(raw))).toEqual(raw)
      }
    }
  })

  it("reads a folder's names and a symlink's target as their bytes", () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-filename-"))
    try {
      const latin1 = Buffer.from([0x63, 0x61, 0x66, 0xe9])
      Fs.writeFileSync(Buffer.concat([Buffer.from(`${dir}/`), latin1]), "")
      Fs.symlinkSync(latin1, Path.join(dir, "link"))
      expect(FileName.readdir(dir).sort()).toEqual(["caf\udce9", "link"])
      expect(FileName.readlink(Path.join(dir, "link"))).toBe("caf\udce9")
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
