/**
 * Rotation (max-size, max-file, compress) racing docker logs -f and docker logs on the real disk: nothing lost or
 * repeated by a follower, and every read a run of consecutive lines.
 */
import { LogFile } from "@docker-plugin-kit/drivers"
import { LogEntry } from "@docker-plugin-kit/helpers"
import { InProcess, LogSequences, SocketHarness } from "@docker-plugin-kit/testkit"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Stream } from "effect"
import * as Path from "node:path"

const texts = (entries: ReadonlyArray<LogEntry.LogEntry>) => entries.map(LogEntry.lineText)

describe("log-file rotation races", () => {
  it.live("on disk: docker logs -f across compressed rotations misses and repeats nothing", () =>
    Effect.gen(function* () {
      const base = yield* SocketHarness.tempFolder
      const plugin = yield* InProcess.make(LogFile.layerNode({ dir: Path.join(base, "logs") }))
      const daemon = yield* LogSequences.make(plugin.client, { fifoDir: base })
      const Config = { "max-size": "2k", "max-file": "4", compress: "true" }
      const logging = yield* daemon.run(LogSequences.info({ Config }))
      const lines = Array.from({ length: 600 }, (_, i) => `line ${String(i).padStart(4, "0")}`)
      yield* logging.print("stdout", lines.slice(0, 50))
      yield* Effect.sleep("50 millis")
      const collected = yield* Effect.forkChild(Stream.runCollect(yield* daemon.follow(logging)))
      const reads: Array<ReadonlyArray<string>> = []
      for (let i = 50; i < lines.length; i += 10) {
        yield* logging.print("stdout", lines.slice(i, i + 10))
        if (i % 50 === 0) reads.push(texts((yield* daemon.logs(logging)).entries))
      }
      yield* Effect.sleep("50 millis")
      yield* logging.stop
      const followed = texts(yield* Fiber.join(collected).pipe(Effect.timeout("10 seconds")))
      const all = lines.map((l) => `${l}\n`)
      // What the follower got first was the files' content (the oldest rotated away): then every line, once.
      const first = all.indexOf(followed[0]!)
      expect(first).toBeGreaterThanOrEqual(0)
      expect(followed).toEqual(all.slice(first))
      for (const read of reads) {
        const at = all.indexOf(read[0]!)
        expect(at).toBeGreaterThanOrEqual(0)
        expect(read).toEqual(all.slice(at, at + read.length))
      }
    })
  )
})
