import { describe, expect, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Rootfs from "../../src/managed/Rootfs.ts"

const isRoot = process.getuid?.() === 0

describe("Rootfs", () => {
  it("reads the libraries and the loader from ldd's output", () => {
    const output = [
      "\tlinux-vdso.so.1 (0x00007ffd)",
      "\tlibstdc++.so.6 => /lib/x86_64-linux-gnu/libstdc++.so.6 (0x00007f1)",
      "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f2)",
      "\t/lib64/ld-linux-x86-64.so.2 (0x00007f3)"
    ].join("\n")
    expect(Rootfs.parseLdd(output)).toEqual([
      "/lib/x86_64-linux-gnu/libstdc++.so.6",
      "/lib/x86_64-linux-gnu/libc.so.6",
      "/lib64/ld-linux-x86-64.so.2"
    ])
  })

  it.skipIf(!isRoot)("holds a Node that runs the bundle and its chunks with nothing from the host (chroot)", () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-rootfs-"))
    try {
      const bundle = Path.join(dir, "bundle.js")
      Fs.writeFileSync(
        bundle,
        'import * as Fs from "node:fs"\nconst { part } = await import("./bundle-chunks/part.js")\nconsole.log("ran", part, Fs.existsSync("/run/docker/plugins"))\n'
      )
      const chunks = Path.join(dir, "bundle-chunks")
      Fs.mkdirSync(chunks)
      Fs.writeFileSync(Path.join(chunks, "part.js"), 'export const part = "with its chunk"\n')
      const rootfs = Path.join(dir, "rootfs")
      Rootfs.write(rootfs, { bundle, chunks, binaries: ["/bin/sh"] })
      const ran = ChildProcess.execFileSync("chroot", [rootfs, Rootfs.nodePath, Rootfs.bundlePath], {
        encoding: "utf8"
      })
      expect(ran.trim()).toBe("ran with its chunk true")
      // A host tool a driver asked for runs inside too.
      expect(
        ChildProcess.execFileSync("chroot", [rootfs, "/bin/sh", "-c", "echo tool"], { encoding: "utf8" }).trim()
      ).toBe("tool")
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
