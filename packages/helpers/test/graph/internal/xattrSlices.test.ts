import { SpecialFiles } from "@docker-plugin-kit/helpers"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as XattrSlices from "../../../src/graph/internal/xattrSlices.ts"
import { LayerIoError } from "../../../src/graph/LayerTarError.ts"
import { tempDir } from "../support.ts"

/** A listing from a map of folder → names; a folder is any path the map lists. */
const listing = (tree: Record<string, ReadonlyArray<string>>) =>
  [(rel: string) => tree[rel] ?? [], (rel: string) => tree[rel] !== undefined] as const

const names = (n: number, prefix = "n") => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(3, "0")}`)

/** Whether this folder's file system keeps `user.` attributes (ext4 and tmpfs do; some others do not). */
const userXattrs = (() => {
  const dir = Fs.mkdtempSync(Path.join(Fs.realpathSync(process.env.TMPDIR ?? "/tmp"), "dpk-xattr-probe-"))
  try {
    ChildProcess.execFileSync("setfattr", ["-n", "user.probe", "-v", "1", dir], { stdio: "ignore" })
    return true
  } catch {
    return false
  } finally {
    Fs.rmSync(dir, { recursive: true, force: true })
  }
})()

describe("xattrSlices.plan", () => {
  it("goes down a chain of lone folders, reads them alone first, then the names below in doubling groups", () => {
    const { slices, sliceOf } = XattrSlices.plan(
      ...listing({ "": ["usr"], usr: ["share"], "usr/share": names(10), "usr/share/n001": ["deep"] })
    )
    expect(slices).toEqual([
      { paths: ["", "usr", "usr/share"], recursive: false },
      { paths: ["usr/share/n000"], recursive: true },
      { paths: ["usr/share/n001", "usr/share/n002"], recursive: true },
      {
        paths: names(10)
          .slice(3, 7)
          .map((n) => `usr/share/${n}`),
        recursive: true
      },
      {
        paths: names(10)
          .slice(7)
          .map((n) => `usr/share/${n}`),
        recursive: true
      }
    ])
    expect(sliceOf("")).toBe(0)
    expect(sliceOf("usr/share")).toBe(0)
    expect(sliceOf("usr/share/n000")).toBe(1)
    expect(sliceOf("usr/share/n001/deep/er")).toBe(2)
    expect(sliceOf("usr/share/n009")).toBe(4)
    // Not seen when planned (made since, or outside the split): known only once every slice is.
    expect(sliceOf("usr/share/new")).toBe(-1)
    expect(sliceOf("usr/other")).toBe(-1)
    expect(sliceOf("usr/sharer")).toBe(-1)
  })

  it("stops at a lone file, and at its depth limit", () => {
    expect(XattrSlices.plan(...listing({ "": [] })).slices).toEqual([{ paths: [""], recursive: false }])
    const file = XattrSlices.plan(...listing({ "": ["only"] }))
    expect(file.slices).toEqual([
      { paths: [""], recursive: false },
      { paths: ["only"], recursive: true }
    ])
    const deep = XattrSlices.plan(...listing({ "": ["a"], a: ["b"], "a/b": ["c"], "a/b/c": ["d"], "a/b/c/d": ["e"] }))
    expect(deep.slices[0]).toEqual({ paths: ["", "a", "a/b", "a/b/c", "a/b/c/d"], recursive: false })
    expect(deep.slices[1]).toEqual({ paths: ["a/b/c/d/e"], recursive: true })
  })

  it("reads a folder whole when one of its names is not text (it cannot be an argument)", () => {
    const { slices, sliceOf } = XattrSlices.plan(...listing({ "": ["a", "caf\udce9", "z"] }))
    expect(slices).toEqual([{ paths: [""], recursive: true }])
    expect(sliceOf("z/anything")).toBe(0)
  })

  it("keeps each run's arguments (the root's path, then each name) under its byte limit, however many names a group would take", () => {
    const long = names(12_000, "x".repeat(200))
    const root = `/${"r".repeat(99)}`
    const { slices, sliceOf } = XattrSlices.plan(...listing({ "": long }), root.length)
    const runs = slices.slice(1)
    expect(runs.flatMap((s) => s.paths)).toEqual(long)
    expect(runs.length).toBeGreaterThan(3)
    for (const run of runs) {
      expect(run.paths.reduce((n, p) => n + Buffer.byteLength(`${root}/${p}`) + 1, 0)).toBeLessThan(100_000)
    }
    expect(sliceOf(long[11_999]!)).toBe(slices.length - 1)
  })
})

describe.skipIf(!userXattrs)("xattrSlices.read", () => {
  const tree = (root: string) => {
    for (const dir of ["a", "b/inner", "c", "d", "e"]) Fs.mkdirSync(Path.join(root, dir), { recursive: true })
    const files = ["a/f", "b/inner/g", "c/h", "e/i"]
    for (const file of files) Fs.writeFileSync(Path.join(root, file), file)
    const set = (rel: string, value: string) =>
      ChildProcess.execFileSync("setfattr", ["-n", "user.test", "-v", value, Path.join(root, rel)])
    set("", "root")
    set("a/f", "in a")
    set("b/inner", "a folder")
    set("c/h", "beside a gone folder")
    set("e/i", "in the last slice")
  }
  const fsListing = (root: string) =>
    [
      (rel: string) => Fs.readdirSync(Path.join(root, rel)).sort(),
      (rel: string) => Fs.lstatSync(Path.join(root, rel)).isDirectory()
    ] as const

  it.effect("a path is pending until its slice is read, then has what one getfattr of the tree finds", () =>
    Effect.gen(function* () {
      const root = yield* tempDir
      tree(root)
      const reader = yield* XattrSlices.read(root, ...fsListing(root))
      const paths = ["", "a", "a/f", "b", "b/inner", "b/inner/g", "c/h", "d", "e", "e/i"]
      // The runs are child processes: nothing can be known before this fiber yields.
      expect(reader.pending("a/f")).toBeDefined()
      for (const rel of paths) {
        const wait = reader.pending(rel)
        if (wait !== undefined) yield* wait
        expect(reader.pending(rel)).toBeUndefined()
      }
      const whole = yield* SpecialFiles.readXattrsTree(root)
      expect(whole.size).toBe(5)
      for (const rel of paths) expect(reader.get(rel)).toEqual(whole.get(rel))
    }).pipe(Effect.scoped)
  )

  it.effect("closing the scope stops the runs still going, two at a time", () =>
    Effect.gen(function* () {
      const root = yield* tempDir
      tree(root)
      let started = 0
      let stopped = 0
      const endless: XattrSlices.ReadOf = () =>
        Effect.suspend(() => {
          started++
          return Effect.never
        }).pipe(Effect.onInterrupt(() => Effect.sync(() => stopped++)))
      yield* Effect.scoped(
        Effect.gen(function* () {
          const reader = yield* XattrSlices.read(root, ...fsListing(root), endless)
          expect(reader.pending("a/f")).toBeDefined()
          yield* Effect.yieldNow
        })
      )
      expect(started).toBe(2)
      expect(stopped).toBe(2)
    })
  )

  it.effect("a folder of many long names is read in runs whose command lines the kernel takes", () =>
    Effect.gen(function* () {
      const root = yield* tempDir
      const long = names(1200, "y".repeat(200))
      for (const name of long) Fs.writeFileSync(Path.join(root, name), "")
      const last = long.at(-1)!
      ChildProcess.execFileSync("setfattr", ["-n", "user.test", "-v", "last", Path.join(root, last)])
      const reader = yield* XattrSlices.read(root, ...fsListing(root))
      yield* reader.pending(last) ?? Effect.void
      expect(new TextDecoder().decode(reader.get(last)?.["user.test"])).toBe("last")
      expect(XattrSlices.plan(...fsListing(root)).slices.at(-1)!.paths.length).toBeGreaterThan(200)
    }).pipe(Effect.scoped)
  )

  it.effect("a path gone since the slices were planned is left out, and the rest of its slice is read", () =>
    Effect.gen(function* () {
      const root = yield* tempDir
      tree(root)
      const [names, isFolder] = fsListing(root)
      // Slices: the root, [a], [b, c], [d, e]; "b" is listed but gone by the time its slice runs.
      Fs.rmSync(Path.join(root, "b"), { recursive: true })
      const reader = yield* XattrSlices.read(
        root,
        (rel) => (rel === "" ? ["a", "b", "c", "d", "e"] : names(rel)),
        (rel) => rel === "b" || isFolder(rel)
      )
      yield* reader.pending("b/inner") ?? Effect.void
      expect(reader.get("b/inner")).toBeUndefined()
      expect(new TextDecoder().decode(reader.get("c/h")?.["user.test"])).toBe("beside a gone folder")
    }).pipe(Effect.scoped)
  )

  it.effect("a slice whose read fails fails its paths' waits with the reason; the other slices are read", () =>
    Effect.gen(function* () {
      const root = yield* tempDir
      tree(root)
      const failing: XattrSlices.ReadOf = (base, paths, recursive) =>
        paths.some((path) => path.endsWith("/c"))
          ? Effect.fail(new LayerIoError({ operation: "getfattr", path: base, reason: "a stand-in failure" }))
          : SpecialFiles.readXattrsOf(base, paths, recursive)
      const reader = yield* XattrSlices.read(root, ...fsListing(root), failing)
      const error = yield* Effect.flip(reader.pending("c/h") ?? Effect.void)
      expect(error._tag).toBe("LayerIoError")
      expect(error.reason).toBe("a stand-in failure")
      // The same slice: the same failure; a later one: read.
      expect((yield* Effect.flip(reader.pending("b/inner") ?? Effect.void)).reason).toBe("a stand-in failure")
      yield* reader.pending("e/i") ?? Effect.void
      expect(new TextDecoder().decode(reader.get("e/i")?.["user.test"])).toBe("in the last slice")
    }).pipe(Effect.scoped)
  )
})
