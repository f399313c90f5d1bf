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
})
