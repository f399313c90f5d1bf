import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import { TarStream } from "@docker-plugin-kit/helpers"
import { rawTar } from "./support.ts"

const text = (s: string) => new TextEncoder().encode(s)
const header = (over: Partial<TarStream.Header> & { name: string }): TarStream.Header =>
  TarStream.header({ mtime: new Date(1_700_000_000_000), ...over })
const collect = <E>(s: Stream.Stream<Uint8Array, E>) =>
  Effect.map(Stream.runCollect(s), (chunks) => Buffer.concat(chunks.map((c) => Buffer.from(c))))

const big = Buffer.alloc(300_000)
for (let i = 0; i < big.length; i++) big[i] = i % 251

/** A tar of a folder, a large file, a file whose body nobody reads, a symlink and a small file. */
const sample = collect(
  TarStream.write(
    Stream.make(
      { header: header({ name: "d/", type: "directory" }) },
      { header: header({ name: "d/big", size: big.length }), body: Stream.make(big.subarray(0, 7), big.subarray(7)) },
      { header: header({ name: "d/skipped", size: 70_000 }), body: Stream.make(new Uint8Array(70_000)) },
      { header: header({ name: "d/link", type: "symlink", linkname: "big" }) },
      { header: header({ name: "d/small", size: 2 }), content: text("ok") }
    )
  )
)

/** A sink gathering one body, and what happened to it. */
const gather = (log: Array<string>, name: string, rest?: Effect.Effect<void>): TarStream.BodySink<never> => {
  const chunks: Array<Buffer> = []
  return {
    _tag: "BodySink",
    chunk: (chunk) => void chunks.push(Buffer.from(chunk)),
    end: () => {
      const body = Buffer.concat(chunks)
      log.push(`${name}: ${body.length} bytes${body.equals(big) ? " (big)" : ` ${body.toString()}`}`)
      return rest
    },
    release: () => void log.push(`${name}: released`)
  }
}

const die = (thrown: unknown) => Effect.die(thrown)

/** A handler that holds the read at entry `name` with an Effect that never ends, noting when it is interrupted. */
const holdAt =
  (name: string, started: { readonly resolve: () => void }, log: Array<string>) =>
  (entry: TarStream.Entry): TarStream.EntryStep<never> =>
    entry.header.name === name
      ? Effect.andThen(
          Effect.sync(() => started.resolve()),
          Effect.onInterrupt(Effect.never, () => Effect.sync(() => void log.push(`${name}: interrupted`)))
        )
      : undefined

/** A promise and the function that resolves it. */
const deferred = () => {
  let resolve = () => {}
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
}

/** A ustar header block built by hand (checksum included), for tars tar-stream's writer would not make. */
const block = (
  name: string,
  fields: { readonly type?: string; readonly size?: number; readonly linkname?: string; readonly gnu?: boolean } = {}
) => {
  const b = Buffer.alloc(512)
  const octal = (offset: number, width: number, n: number) =>
    b.write(`${n.toString(8).padStart(width - 1, "0")}\u0000`, offset, "latin1")
  b.write(name, 0, "latin1")
  octal(100, 8, 0o644)
  octal(108, 8, 0)
  octal(116, 8, 0)
  octal(124, 12, fields.size ?? 0)
  octal(136, 12, 1_700_000_000)
  b.write(fields.type ?? "0", 156, "latin1")
  if (fields.linkname !== undefined) b.write(fields.linkname, 157, "latin1")
  b.write(fields.gnu === true ? "ustar  \u0000" : "ustar\u000000", 257, "latin1")
  b.fill(0x20, 148, 156)
  let sum = 0
  for (const byte of b) sum += byte
  b.write(`${sum.toString(8).padStart(6, "0")}\u0000 `, 148, "latin1")
  return b
}
/** `data` padded to whole blocks. */
const padded = (data: string | Uint8Array) => {
  const bytes = Buffer.from(data)
  return Buffer.concat([bytes, Buffer.alloc((512 - (bytes.length % 512)) % 512)])
}
/** An entry: its header and its data (`size` is the data's unless given). */
const raw = (name: string, data = "", fields: Parameters<typeof block>[1] = {}) =>
  Buffer.concat([block(name, { size: Buffer.byteLength(data), ...fields }), padded(data)])
/** A PAX header (`x`, or `g` for a global one) holding `records`, or data given as is. */
const pax = (records: Readonly<Record<string, string>> | string, type = "x") => {
  const data =
    typeof records === "string"
      ? records
      : Object.entries(records)
          .map(([key, value]) => {
            const body = ` ${key}=${value}\n`
            let length = body.length + String(body.length).length
            if (String(length).length > String(body.length).length) length++
            return `${length}${body}`
          })
          .join("")
  return raw("PaxHeader", data, { type })
}
/** The end-of-archive blocks. */
const END = Buffer.alloc(1024)

/** What forEachEntry hands over from `tar`: each file with its body, other entries with their type. */
const applied = <E>(tar: Stream.Stream<Uint8Array, E>) =>
  Effect.gen(function* () {
    const log: Array<string> = []
    yield* TarStream.forEachEntry(
      tar,
      (entry): TarStream.EntryStep<never> => {
        const { name, type } = entry.header
        if (type !== "file") return void log.push(`${name} ${type}`)
        const chunks: Array<Buffer> = []
        return {
          _tag: "BodySink",
          chunk: (chunk) => void chunks.push(Buffer.from(chunk)),
          end: () => void log.push(`${name}=${Buffer.concat(chunks).toString()}`),
          release: () => {}
        }
      },
      die
    )
    return log
  })
/** The failure of reading `tar` with forEachEntry, with what was handed over before it. */
const refused = (tar: Uint8Array) => Effect.flip(applied(Stream.make(tar)))

describe("TarStream.forEachEntry", () => {
  it.effect("hands over every entry in order: sinks take bodies, Effects run before the next, unread bodies skip", () =>
    Effect.gen(function* () {
      const tar = yield* sample
      const log: Array<string> = []
      yield* TarStream.forEachEntry(
        // Cut across headers and bodies.
        Stream.make(tar.subarray(0, 600), tar.subarray(600, 1100), tar.subarray(1100)),
        (entry): TarStream.EntryStep<never> => {
          const { name, type } = entry.header
          log.push(`${name} ${type}`)
          if (name === "d/big")
            return gather(
              log,
              name,
              Effect.sync(() => void log.push("after big"))
            )
          if (name === "d/small") return gather(log, name)
          if (name === "d/link") return Effect.sync(() => void log.push(`link to ${entry.header.linkname}`))
          return undefined
        },
        die
      )
      expect(log).toEqual([
        "d/ directory",
        "d/big file",
        "d/big: 300000 bytes (big)",
        "after big",
        "d/skipped file",
        "d/link symlink",
        "link to big",
        "d/small file",
        "d/small: 2 bytes ok"
      ])
    })
  )

  it.effect("what the handler or a sink throws is the failure onThrow makes of it; the sink is released", () =>
    Effect.gen(function* () {
      const tar = yield* sample
      const refused = yield* Effect.flip(
        TarStream.forEachEntry(
          Stream.make(tar),
          (entry) => {
            if (entry.header.name === "d/link") throw new Error("no links here")
            return undefined
          },
          (thrown) => Effect.fail(`refused: ${(thrown as Error).message}`)
        )
      )
      expect(refused).toBe("refused: no links here")

      const log: Array<string> = []
      const full = yield* Effect.flip(
        TarStream.forEachEntry(
          Stream.make(tar),
          (entry): TarStream.EntryStep<never> =>
            entry.header.name === "d/big"
              ? {
                  ...gather(log, "d/big"),
                  chunk: () => {
                    throw new Error("disk full")
                  }
                }
              : undefined,
          (thrown) => Effect.fail(`write failed: ${(thrown as Error).message}`)
        )
      )
      expect(full).toBe("write failed: disk full")
      expect(log).toEqual(["d/big: released"])
    })
  )

  it.effect("a failing Effect of an entry stops the read with its failure", () =>
    Effect.gen(function* () {
      const tar = yield* sample
      const seen: Array<string> = []
      const failed = yield* Effect.flip(
        TarStream.forEachEntry(
          Stream.make(tar),
          (entry) => {
            seen.push(entry.header.name)
            return entry.header.name === "d/skipped" ? Effect.fail("mknod failed" as const) : undefined
          },
          die
        )
      )
      expect(failed).toBe("mknod failed")
      expect(seen).toEqual(["d/", "d/big", "d/skipped"])
    })
  )

  it.effect("a tar cut inside a body is MalformedTar naming the entry, and the sink is released", () =>
    Effect.gen(function* () {
      const tar = yield* sample
      const log: Array<string> = []
      const cut = yield* Effect.flip(
        TarStream.forEachEntry(
          Stream.make(tar.subarray(0, 100_000)),
          (entry) => (entry.header.type === "file" ? gather(log, entry.header.name) : undefined),
          die
        )
      )
      expect(cut._tag).toBe("MalformedTar")
      expect(cut.message).toContain('"d/big"')
      expect(log).toEqual(["d/big: released"])
    })
  )

  it.effect("a tar without its end blocks, an empty one and garbage are MalformedTar", () =>
    Effect.gen(function* () {
      const tar = yield* rawTar([{ header: { name: "f", size: 3000 }, body: new Uint8Array(3000) }])
      const read = (bytes: Stream.Stream<Uint8Array>) => TarStream.forEachEntry(bytes, () => undefined, die)
      expect((yield* Effect.flip(read(Stream.make(tar.subarray(0, 512 + 3072))))).message).toContain("end-of-archive")
      expect((yield* Effect.flip(read(Stream.empty)))._tag).toBe("MalformedTar")
      expect((yield* Effect.flip(read(Stream.make(new Uint8Array(512).fill(65)))))._tag).toBe("MalformedTar")
      yield* read(Stream.make(tar))
    })
  )

  it.effect("a failure of the input stream is passed through typed", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        TarStream.forEachEntry(
          Stream.concat(Stream.make(new Uint8Array(100)), Stream.fail("boom" as const)),
          () => undefined,
          die
        )
      )
      expect(error).toBe("boom")
    })
  )

  it.live("an input that fails while an entry's Effect runs: the failure, and that Effect interrupted", () =>
    Effect.gen(function* () {
      const tar = yield* sample
      const log: Array<string> = []
      const started = deferred()
      // In blocks: what follows the last entry's header stays under the tar's buffer mark while that entry's Effect
      // holds the read, so the input can go on to its failure.
      const blocks = Array.from({ length: tar.length / 512 }, (_, i) => tar.subarray(i * 512, (i + 1) * 512))
      const failing = Stream.concat(
        Stream.fromIterable(blocks),
        Stream.fromEffect(
          Effect.andThen(
            Effect.promise(() => started.promise),
            Effect.fail("boom" as const)
          )
        )
      )
      const error = yield* Effect.flip(TarStream.forEachEntry(failing, holdAt("d/small", started, log), die))
      expect(error).toBe("boom")
      yield* Effect.sleep("10 millis")
      expect(log).toEqual(["d/small: interrupted"])
    })
  )

  it.live("interrupted while an entry's Effect runs: that Effect is interrupted, and a held sink released", () =>
    Effect.gen(function* () {
      const tar = yield* sample
      const log: Array<string> = []
      const started = deferred()
      const fiber = yield* Effect.forkChild(
        TarStream.forEachEntry(Stream.make(tar), holdAt("d/link", started, log), die)
      )
      yield* Effect.promise(() => started.promise)
      yield* Fiber.interrupt(fiber)
      expect(log).toEqual(["d/link: interrupted"])

      // A body that never ends: the sink holding it is released.
      const head = tar.subarray(0, 512 * 2 + 1000)
      const held = yield* Effect.forkChild(
        TarStream.forEachEntry(
          Stream.concat(Stream.make(head), Stream.never),
          (entry) => (entry.header.name === "d/big" ? gather(log, "d/big") : undefined),
          die
        )
      )
      yield* Effect.sleep("50 millis")
      yield* Fiber.interrupt(held)
      expect(log).toEqual(["d/link: interrupted", "d/big: released"])
    })
  )
  it.effect("stops at the first end-of-archive blocks: what follows is read to its end, never parsed", () =>
    Effect.gen(function* () {
      // Go's archive/tar, GNU tar and Python stop there: an entry hidden after them must not be applied.
      const hidden = Buffer.concat([raw("a", "x"), END, raw("hidden", "y"), END])
      expect(yield* applied(Stream.make(hidden))).toEqual(["a=x"])
      const names = yield* Stream.runCollect(
        Stream.map(TarStream.entries(Stream.make(hidden)), (entry) => entry.header.name)
      )
      expect(names).toEqual(["a"])
      // Bytes after them that are no tar at all (the daemon accepts them): read to the end, in chunks, and dropped.
      let pulled = 0
      const junk = Stream.tap(
        Stream.make(Buffer.concat([raw("a", "x"), END, Buffer.from("not a header")]), Buffer.alloc(5000, 0x41)),
        () => Effect.sync(() => void pulled++)
      )
      expect(yield* applied(junk)).toEqual(["a=x"])
      expect(pulled).toBe(2)
      // Cut anywhere, the end blocks are still found where a header is expected.
      const whole = Buffer.concat([raw("a", "x"), END, raw("hidden", "y"), END])
      for (const at of [512, 1024, 1300, 1536, 2000]) {
        expect(yield* applied(Stream.make(whole.subarray(0, at), whole.subarray(at)))).toEqual(["a=x"])
      }
    })
  )

  it.effect("a lone zero block, or one blank but for its checksum, where a header is expected is MalformedTar", () =>
    Effect.gen(function* () {
      // Go refuses a zero block followed by a header; tar-stream skipped it.
      const lone = yield* refused(Buffer.concat([raw("a", "x"), Buffer.alloc(512), raw("b", "y"), END]))
      expect(lone.message).toContain("a lone zero block stands where a header is expected")
      // tar-stream reads such a block as no header; Go reads an entry named "" (its checksum is right).
      const blank = Buffer.alloc(512)
      blank.write("0000400\u0000", 148, "latin1")
      const checksum = yield* refused(Buffer.concat([raw("a", "x"), blank, raw("b", "y"), END]))
      expect(checksum.message).toContain("a header block is empty but for its checksum")
    })
  )

  it.effect("a PAX global header applies to no entry (Go's archive/tar hands it over apart; the daemon skips it)", () =>
    Effect.gen(function* () {
      const tar = Buffer.concat([
        pax({ path: "globalname", mtime: "5" }, "g"),
        pax({ uid: "7" }),
        raw("a", "x"),
        raw("b", "y"),
        END
      ])
      const headers: Array<TarStream.Header> = []
      yield* TarStream.forEachEntry(Stream.make(tar), (entry) => void headers.push(entry.header), die)
      expect(headers.map((h) => [h.name, h.uid, h.mtime.getTime()])).toEqual([
        ["a", 7, 1_700_000_000_000],
        ["b", 0, 1_700_000_000_000]
      ])
      // The headers before a global one go with it, as in Go.
      const dropped = Buffer.concat([pax({ path: "renamed" }), pax({ comment: "x" }, "g"), raw("a", "x"), END])
      expect(yield* applied(Stream.make(dropped))).toEqual(["a=x"])
      // One Go cannot read is refused, as Go does.
      const bad = yield* refused(Buffer.concat([pax("99 path=zzz\n", "g"), raw("a", "x"), END]))
      expect(bad.message).toContain("the PAX global header is malformed")
      const badNumber = yield* refused(Buffer.concat([pax({ uid: "1e3" }, "g"), raw("a", "x"), END]))
      expect(badNumber.message).toContain('the PAX global header is malformed (its PAX record uid="1e3"')
    })
  )

  it.effect("links, devices, folders and fifos have no body whatever their size field says, as in Go", () =>
    Effect.gen(function* () {
      // A folder with a size as the last entry: no false "ends without its end-of-archive blocks".
      const folder = Buffer.concat([raw("a", "x"), block("d/", { type: "5", size: 100 }), END])
      expect(yield* applied(Stream.make(folder))).toEqual(["a=x", "d/ directory"])
      // tar-stream read the next header as a symlink's body: Go reads it as the next entry.
      const symlink = Buffer.concat([block("s", { type: "2", size: 512, linkname: "t" }), raw("hidden", "y"), END])
      expect(yield* applied(Stream.make(symlink))).toEqual(["s symlink", "hidden=y"])
    })
  )

  it.effect("a tar without end blocks after a whole entry says so; one cut inside a body names the entry", () =>
    Effect.gen(function* () {
      const noEnd = yield* refused(raw("a", "x"))
      expect(noEnd.message).toBe("malformed layer tar: the tar ends without its end-of-archive blocks")
      const read = yield* Effect.flip(
        Stream.runForEach(TarStream.entries(Stream.make(raw("a", "x"))), (entry) =>
          TarStream.forEachChunk(entry, () => {}, String)
        )
      )
      expect(read).toMatchObject({ message: "malformed layer tar: the tar ends without its end-of-archive blocks" })
      const cut = yield* refused(raw("a", "x".repeat(1000)).subarray(0, 800))
      expect(cut.message).toContain('entry "a"')
      expect(cut.message).not.toContain("end-of-archive")
    })
  )

  it.effect("a malformed PAX header fails the read, naming the entry as its own header does", () =>
    Effect.gen(function* () {
      // The length 99 runs past the header's 12 bytes: Go refuses it; tar-stream read the name "zzz\n".
      const error = yield* refused(Buffer.concat([pax("99 path=zzz\n"), raw("plain"), END]))
      expect(error._tag).toBe("MalformedTar")
      expect(error.message).toContain('entry "plain": its PAX header is malformed')
      const entries = yield* Effect.flip(
        Stream.runDrain(TarStream.entries(Stream.make(Buffer.concat([pax("99 path=zzz\n"), raw("plain"), END]))))
      )
      expect(entries.message).toContain('entry "plain": its PAX header is malformed')
    })
  )

  it.effect("refuses GNU sparse files (PAX formats 0.0, 0.1 and 1.0, and the old type S), naming them", () =>
    Effect.gen(function* () {
      const map = "1\n0\n5\n"
      const formats = [
        // 1.0: the map starts the data, the header's name is made up.
        Buffer.concat([
          pax({ "GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": "f", "GNU.sparse.realsize": "5" }),
          raw("GNUSparseFile.123/f", `${padded(map).toString("latin1")}hello`),
          END
        ]),
        // 0.1: the map in one record.
        Buffer.concat([
          pax({ "GNU.sparse.size": "5", "GNU.sparse.numblocks": "1", "GNU.sparse.map": "0,5" }),
          raw("f", "hello"),
          END
        ]),
        // 0.0: the map in repeated records.
        Buffer.concat([
          pax({ "GNU.sparse.size": "5", "GNU.sparse.numblocks": "1", "GNU.sparse.offset": "0" }),
          raw("f", "hello"),
          END
        ])
      ]
      for (const tar of formats) {
        const error = yield* refused(tar)
        expect(error.message).toBe(
          'malformed layer tar: entry "f" is a GNU sparse file (PAX records GNU.sparse.*): sparse entries are not supported'
        )
      }
      const old = yield* refused(Buffer.concat([raw("f", "hello", { type: "S", gnu: true }), END]))
      expect(old.message).toBe('malformed layer tar: entry "f" has an unsupported type "S" (GNU sparse)')
    })
  )
  it.effect("a GNU long name or link target wins over the PAX path or linkpath, as in Go", () =>
    Effect.gen(function* () {
      const tar = Buffer.concat([
        raw("././@LongLink", "long-name", { type: "L", gnu: true }),
        raw("././@LongLink", "long-target", { type: "K", gnu: true }),
        pax({ path: "pax-name", linkpath: "pax-target" }),
        block("short", { type: "2", linkname: "t" }),
        END
      ])
      const headers: Array<TarStream.Header> = []
      yield* TarStream.forEachEntry(Stream.make(tar), (entry) => void headers.push(entry.header), die)
      expect(headers.map((h) => [h.name, h.linkname])).toEqual([["long-name", "long-target"]])
    })
  )
})
