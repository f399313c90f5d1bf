import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { FileName, TarStream } from "@docker-plugin-kit/helpers"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { binaryFolder, gnuTar, latin1Name, nonUtf8Tree, rawTar, tempDir } from "./support.ts"

const text = (s: string) => new TextEncoder().encode(s)
const header = (over: Partial<TarStream.Header> & { name: string }): TarStream.Header =>
  TarStream.header({ mtime: new Date(1_700_000_000_000), ...over })

const concat = (chunks: ReadonlyArray<Uint8Array>) => Buffer.concat(chunks.map((c) => Buffer.from(c)))
const collect = <E>(s: Stream.Stream<Uint8Array, E>) => Effect.map(Stream.runCollect(s), concat)

/** Reads every entry with its body as text. */
const readAll = <E>(bytes: Stream.Stream<Uint8Array, E>) =>
  Stream.runCollect(
    Stream.mapEffect(TarStream.entries(bytes), (e) =>
      Effect.map(collect(e.body), (body) => ({ header: e.header, body: body.toString() }))
    )
  )

describe("TarStream", () => {
  it.effect("writes entries and reads them back with modes, owners, links, devices and xattrs", () =>
    Effect.gen(function* () {
      const big = Buffer.alloc(200_000, 7)
      const tar = yield* collect(
        TarStream.write(
          Stream.make(
            { header: header({ name: "dir/", type: "directory", mode: 0o750, uid: 12, gid: 34 }) },
            {
              header: header({ name: "dir/a", size: 5, mode: 0, xattrs: { "user.k": text("v") } }),
              body: Stream.make(text("hello"))
            },
            {
              header: header({ name: "dir/big", size: big.length }),
              body: Stream.make(big.subarray(0, 1000), big.subarray(1000))
            },
            { header: header({ name: "dir/l", type: "symlink", linkname: "../x" }) },
            { header: header({ name: "dir/h", type: "link", linkname: "dir/a" }) },
            { header: header({ name: "dir/c", type: "character-device", devmajor: 1, devminor: 3 }) },
            { header: header({ name: `dir/${"n".repeat(150)}`, size: 1 }), body: Stream.make(text("!")) }
          )
        )
      )
      const entries = yield* readAll(Stream.make(tar.subarray(0, 777), tar.subarray(777)))
      expect(entries.map((e) => [e.header.name, e.header.type])).toEqual([
        ["dir/", "directory"],
        ["dir/a", "file"],
        ["dir/big", "file"],
        ["dir/l", "symlink"],
        ["dir/h", "link"],
        ["dir/c", "character-device"],
        [`dir/${"n".repeat(150)}`, "file"]
      ])
      expect(entries[0]?.header).toMatchObject({ mode: 0o750, uid: 12, gid: 34 })
      expect(entries[1]).toMatchObject({ body: "hello", header: { mode: 0, xattrs: { "user.k": text("v") } } })
      expect(entries[2]?.body.length).toBe(big.length)
      expect(entries[3]?.header.linkname).toBe("../x")
      expect(entries[4]?.header.linkname).toBe("dir/a")
      expect(entries[5]?.header).toMatchObject({ devmajor: 1, devminor: 3 })
      expect(entries[6]?.body).toBe("!")
    })
  )

  it.effect("keeps binary extended attributes byte for byte, as Go's archive/tar writes them", () =>
    Effect.gen(function* () {
      // A file capability (v2, effective, CAP_SETUID: the byte 0x80 is not UTF-8) and every byte value.
      const capability = Uint8Array.from([1, 0, 0, 2, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
      const every = Uint8Array.from({ length: 256 }, (_, i) => i)
      const xattrs = { "security.capability": capability, "user.bytes": every, "user.text": text("é=\n") }
      const tar = yield* collect(
        TarStream.write(
          Stream.make({ header: header({ name: "bin/ping", size: 1, xattrs }), body: Stream.make(text("!")) })
        )
      )
      // Read in chunks that cut the PAX header's data.
      const entries = yield* readAll(Stream.make(tar.subarray(0, 530), tar.subarray(530, 700), tar.subarray(700)))
      expect(entries).toHaveLength(1)
      expect(entries[0]?.header.xattrs).toEqual(xattrs)
      expect(entries[0]?.body).toBe("!")
    })
  )

  it.effect("reads names that are not UTF-8 byte for byte, from both GNU tar formats, and writes them back", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      nonUtf8Tree(dir)
      const long = `./${"long".repeat(30)}${latin1Name}`
      const expected = ["./", `./${binaryFolder}/`, `./${binaryFolder}/hard`, `./${binaryFolder}/link`]
        .concat([`./${binaryFolder}/plain`, `./${latin1Name}`, long])
        .sort()
      /** What GNU tar itself lists in `tar`, as names. */
      const listed = (tar: Uint8Array) =>
        ChildProcess.execFileSync("tar", ["--quoting-style=literal", "-tf", "-"], { input: tar })
          .toString("latin1")
          .split("\n")
          .filter((line) => line !== "")
          .map((line) => FileName.decode(Buffer.from(line, "latin1")))
          .sort()
      for (const format of ["gnu", "posix"] as const) {
        const entries = yield* readAll(Stream.make(gnuTar(dir, format)))
        expect(entries.map((e) => e.header.name).sort()).toEqual(expected)
        const byName = new Map(entries.map((e) => [e.header.name, e]))
        expect(byName.get(`./${binaryFolder}/link`)?.header.linkname).toBe(`../${latin1Name}`)
        // One of the two names of the hard-linked file is a link to the other.
        const links = entries.filter((e) => e.header.type === "link").map((e) => [e.header.name, e.header.linkname])
        expect(links.length === 1 && [links[0]![0], links[0]![1]].sort()).toEqual(
          [`./${binaryFolder}/hard`, `./${latin1Name}`].sort()
        )
        expect(byName.get(long)?.body).toBe("long name")

        const written = yield* collect(
          TarStream.write(
            Stream.fromIterable(
              entries.map((e) =>
                e.header.type === "file" ? { header: e.header, content: text(e.body) } : { header: e.header }
              )
            )
          )
        )
        expect(listed(written)).toEqual(expected)
        const again = yield* readAll(Stream.make(written))
        expect(again.map((e) => [e.header.name, e.header.linkname, e.body])).toEqual(
          entries.map((e) => [e.header.name, e.header.linkname, e.body])
        )
      }
    })
  )

  it.effect("keeps owner ids past the ustar fields (PAX uid/gid), readable by GNU tar", () =>
    Effect.gen(function* () {
      // 262 144 needs a 7th octal digit; 2 097 152 and 3 000 000 000 need PAX records (ids of AD-backed hosts).
      const owners = [
        [262_144, 1],
        [3_000_000_000, 2_097_152],
        [0, 4_000_000_000]
      ] as const
      const tar = yield* collect(
        TarStream.write(
          Stream.fromIterable(
            owners.map(([uid, gid], i) => ({
              header: header({ name: `f${i}`, size: 1, uid, gid }),
              content: text("x")
            }))
          )
        )
      )
      const read = yield* readAll(Stream.make(tar))
      expect(read.map((e) => [e.header.uid, e.header.gid])).toEqual(owners)
      const listing = ChildProcess.execFileSync("tar", ["--numeric-owner", "-tvf", "-"], { input: tar }).toString()
      expect(
        listing
          .split("\n")
          .filter(Boolean)
          .map((line) => line.split(/\s+/)[1])
      ).toEqual(owners.map(([uid, gid]) => `${uid}/${gid}`))
    })
  )

  /** The header read back from a one-file tar (owner 1234:1234, dated 1.7e9 s) with PAX records `pax`. */
  const withPax = (pax: Record<string, string>) =>
    Effect.flatMap(
      rawTar([{ header: { name: "f", uid: 1234, gid: 1234, mtime: new Date(1_700_000_000_000), pax }, body: "" }]),
      (tar) => Effect.map(readAll(Stream.make(tar)), (entries) => entries[0]!.header)
    )

  it.effect("reads numeric PAX records as Go's archive/tar does: decimal ids, seconds with a fraction", () =>
    Effect.gen(function* () {
      const read = yield* withPax({ uid: "3000000000", gid: "007", mtime: "1700000000.123456789" })
      expect([read.uid, read.gid, read.mtime.getTime()]).toEqual([3_000_000_000, 7, 1_700_000_000_123])
      expect((yield* withPax({ mtime: "-1.5" })).mtime.getTime()).toBe(-1500)
      expect((yield* withPax({ mtime: "86400." })).mtime.getTime()).toBe(86_400_000)
      // An empty record keeps the ustar field (Go does the same): never 0, which would make the file root's.
      const blank = yield* withPax({ uid: "", gid: "", mtime: "" })
      expect([blank.uid, blank.gid, blank.mtime.getTime()]).toEqual([1234, 1234, 1_700_000_000_000])
    })
  )

  it.effect("refuses a numeric PAX record Go's archive/tar refuses, naming the record and its value", () =>
    Effect.gen(function* () {
      const refused = [
        [{ uid: "1e3" }, 'PAX record uid="1e3" is not a decimal integer'],
        [{ gid: "0x10" }, 'PAX record gid="0x10" is not a decimal integer'],
        [{ uid: " 5" }, 'PAX record uid=" 5" is not a decimal integer'],
        [{ uid: "-1" }, 'PAX record uid="-1" is not a decimal integer'],
        [{ uid: "99999999999999999999" }, 'PAX record uid="99999999999999999999" is out of range'],
        [{ size: "1e3" }, 'PAX record size="1e3" is not a decimal integer'],
        [{ size: "0x10" }, 'PAX record size="0x10" is not a decimal integer'],
        [{ mtime: "1e9" }, 'PAX record mtime="1e9" is not decimal seconds'],
        [{ mtime: ".5" }, 'PAX record mtime=".5" is not decimal seconds'],
        [{ mtime: "Infinity" }, 'PAX record mtime="Infinity" is not decimal seconds'],
        [{ mtime: "1.5e3" }, 'PAX record mtime="1.5e3" is not decimal seconds'],
        [{ mtime: "99999999999999" }, 'PAX record mtime="99999999999999" is out of range']
      ] as const
      for (const [pax, says] of refused) {
        const error = yield* Effect.flip(withPax(pax))
        expect(error._tag).toBe("MalformedTar")
        expect(error.message).toBe(`malformed layer tar: entry "f": its ${says}`)
      }
    })
  )

  it.effect.skipIf(process.getuid?.() !== 0)("as root: reads large owner ids from both GNU tar formats", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = `${dir}/owned`
      Fs.writeFileSync(file, "x")
      Fs.chownSync(file, 3_000_000_000, 2_097_152)
      for (const format of ["gnu", "posix"] as const) {
        const entries = yield* readAll(Stream.make(gnuTar(dir, format)))
        const owned = entries.find((e) => e.header.name === "./owned")
        expect([owned?.header.uid, owned?.header.gid]).toEqual([3_000_000_000, 2_097_152])
      }
    })
  )

  it("header fills what is not given: a root-owned empty file (0644, a folder 0755) of 1970", () => {
    const f = TarStream.header({ name: "f" })
    expect([f.name, f.type, f.mode.toString(8), f.size, f.mtime.getTime(), f.linkname]).toEqual([
      "f",
      "file",
      "644",
      0,
      0,
      ""
    ])
    expect([f.uid, f.gid, f.devmajor, f.devminor, Object.keys(f.xattrs).length]).toEqual([0, 0, 0, 0, 0])
    expect(TarStream.header({ name: "d/", type: "directory" }).mode).toBe(0o755)
    expect(TarStream.header({ name: "d/", type: "directory", mode: 0o700 }).mode).toBe(0o700)
  })

  it.effect("skips the bodies of entries nobody read", () =>
    Effect.gen(function* () {
      const tar = yield* collect(
        TarStream.write(
          Stream.make(
            { header: header({ name: "a", size: 70_000 }), body: Stream.make(new Uint8Array(70_000)) },
            { header: header({ name: "b", size: 2 }), body: Stream.make(text("ok")) }
          )
        )
      )
      const names = yield* Stream.runCollect(Stream.map(TarStream.entries(Stream.make(tar)), (e) => e.header.name))
      expect(names).toEqual(["a", "b"])
    })
  )

  it.effect("a tar cut inside an entry, or without its end blocks, is MalformedTar", () =>
    Effect.gen(function* () {
      return yield* rawTar([{ header: { name: "f", size: 3000 }, body: new Uint8Array(3000) }])
    }).pipe(
      Effect.flatMap((tar) =>
        Effect.gen(function* () {
          const cut = yield* Effect.flip(readAll(Stream.make(tar.subarray(0, 2048))))
          expect(cut._tag).toBe("MalformedTar")
          const noEnd = yield* Effect.flip(readAll(Stream.make(tar.subarray(0, 512 + 3072))))
          expect(noEnd.message).toContain("end-of-archive")
          expect(yield* readAll(Stream.make(tar))).toHaveLength(1)
          const empty = yield* Effect.flip(readAll(Stream.empty))
          expect(empty._tag).toBe("MalformedTar")
          const garbage = yield* Effect.flip(readAll(Stream.make(new Uint8Array(512).fill(65))))
          expect(garbage._tag).toBe("MalformedTar")
        })
      )
    )
  )

  it.effect("names that do not fit a ustar header (long, without a slash, non-ASCII) and long link targets", () =>
    Effect.gen(function* () {
      const deep = `${"d/".repeat(70)}leaf`
      const flat = "x".repeat(120)
      const target = "t".repeat(150)
      const tar = yield* collect(
        TarStream.write(
          Stream.make(
            { header: header({ name: deep, size: 1 }), content: text("a") },
            { header: header({ name: flat }) },
            { header: header({ name: "é-ü", size: 1 }), content: text("b") },
            { header: header({ name: "link", type: "symlink", linkname: target }) }
          )
        )
      )
      const read = yield* readAll(Stream.make(tar))
      expect(read.map((e) => [e.header.name, e.header.linkname, e.body])).toEqual([
        [deep, "", "a"],
        [flat, "", ""],
        ["é-ü", "", "b"],
        ["link", target, ""]
      ])
    })
  )

  it.effect("forEachChunk hands a body over chunk by chunk; a throw stops it typed; a cut tar is MalformedTar", () =>
    Effect.gen(function* () {
      const big = Buffer.alloc(300_000)
      for (let i = 0; i < big.length; i++) big[i] = i % 251
      const tar = yield* collect(
        TarStream.write(
          Stream.make(
            {
              header: header({ name: "big", size: big.length }),
              body: Stream.make(big.subarray(0, 100_000), big.subarray(100_000))
            },
            { header: header({ name: "small", size: 2 }), content: text("ok") }
          )
        )
      )
      const bodies = yield* Stream.runCollect(
        Stream.mapEffect(TarStream.entries(Stream.make(tar)), (entry) =>
          Effect.gen(function* () {
            const chunks: Array<Uint8Array> = []
            yield* TarStream.forEachChunk(entry, (chunk) => void chunks.push(Buffer.from(chunk)), String)
            return concat(chunks)
          })
        )
      )
      expect(bodies.map((b) => b.length)).toEqual([big.length, 2])
      expect(bodies[0]!.equals(big)).toBe(true)
      expect(bodies[1]!.toString()).toBe("ok")

      const thrown = yield* Effect.flip(
        Stream.runForEach(TarStream.entries(Stream.make(tar)), (entry) =>
          TarStream.forEachChunk(
            entry,
            () => {
              throw new Error("disk full")
            },
            (e) => `write failed: ${(e as Error).message}`
          )
        )
      )
      expect(thrown).toBe("write failed: disk full")

      const cut = yield* Effect.flip(
        Stream.runForEach(TarStream.entries(Stream.make(tar.subarray(0, 100_000))), (entry) =>
          TarStream.forEachChunk(entry, () => {}, String)
        )
      )
      expect(cut).toMatchObject({ _tag: "MalformedTar" })
    })
  )

  it.effect("a failure of the input stream is passed through typed", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        readAll(Stream.concat(Stream.make(new Uint8Array(100)), Stream.fail("boom" as const)))
      )
      expect(error).toBe("boom")
    })
  )
  it.effect("writes an mtime before 1970 or past 2242 as a PAX record (as Go does), read back exactly", () =>
    Effect.gen(function* () {
      // The ustar field holds 11 octal digits of seconds from 1970: these were clamped to 1970 and 2242.
      const times = [new Date(-86_400_000), new Date(Date.UTC(2300, 0, 1)), new Date(1_700_000_000_000)]
      const tar = yield* collect(
        TarStream.write(Stream.fromIterable(times.map((mtime, i) => ({ header: header({ name: `f${i}`, mtime }) }))))
      )
      const read = yield* readAll(Stream.make(tar))
      expect(read.map((e) => e.header.mtime.toISOString())).toEqual(times.map((t) => t.toISOString()))
      // Only the times that do not fit take a PAX header (two blocks each).
      expect(tar.length).toBe(512 * (3 + 2 * 2) + 1024)
      const listing = ChildProcess.execFileSync("tar", ["--utc", "--full-time", "-tvf", "-"], { input: tar })
      expect(listing.toString()).toMatch(/1969-12-31 00:00:00 f0\n.*2300-01-01 00:00:00 f1\n/s)
    })
  )

  it.effect("writes device numbers past 262 143 with a 7th octal digit, as Go does", () =>
    Effect.gen(function* () {
      const devices = [
        [259, 300_000],
        [300_000, 1],
        [4095, 1_048_575]
      ] as const
      const tar = yield* collect(
        TarStream.write(
          Stream.fromIterable(
            devices.map(([devmajor, devminor], i) => ({
              header: header({ name: `c${i}`, type: "character-device", devmajor, devminor })
            }))
          )
        )
      )
      const read: Array<readonly [number, number]> = []
      yield* TarStream.forEachEntry(
        Stream.make(tar),
        (entry) => void read.push([entry.header.devmajor, entry.header.devminor]),
        (thrown) => Effect.die(thrown)
      )
      expect(read).toEqual(devices)
    })
  )
})
