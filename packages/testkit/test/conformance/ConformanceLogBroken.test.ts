/**
 * The LogDriver suite against log-file broken one way at a time (its ReadLogs answer rewritten), to show that each
 * defect fails a check, and that the driver itself passes.
 */
import { LogFile } from "@docker-plugin-kit/drivers"
import { LogEntry, LogFraming } from "@docker-plugin-kit/helpers"
import { LogDriver } from "@docker-plugin-kit/protocol"
import { Conformance, ConformanceLog, ConformanceSuites } from "@docker-plugin-kit/testkit"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Stream } from "effect"

/** log-file (memory files) with some methods replaced. */
const broken = (patch: (driver: LogDriver.Driver) => Partial<LogDriver.Driver>) =>
  Layer.effect(
    LogDriver.LogDriver,
    Effect.gen(function* () {
      const driver = yield* LogDriver.LogDriver
      return { ...driver, ...patch(driver) }
    })
  ).pipe(Layer.provide(LogFile.layerMemory({ dir: "/logs" })))

/** log-file with each ReadLogs answer's entries rewritten by `f`. */
const rewritten = (f: (entry: LogEntry.LogEntry) => LogEntry.LogEntry) =>
  broken((d) => ({
    readLogs: (request) =>
      Effect.map(d.readLogs!(request), (bytes) =>
        LogFraming.encodeStream(Stream.map(LogFraming.decodeStream()(bytes), f))
      )
  }))

const notPassed = (layer: Layer.Layer<LogDriver.LogDriver, unknown>) =>
  Effect.gen(function* () {
    const report = yield* Conformance.run(ConformanceLog.suite, yield* ConformanceSuites.inProcess(layer))
    return Object.fromEntries(report.outcomes.filter((o) => o.status !== "pass").map((o) => [o.check, o.reason]))
  })

describe("ConformanceLog against broken log-file", () => {
  it.live("log-file passes every check", () =>
    Effect.gen(function* () {
      expect(yield* notPassed(broken(() => ({})))).toEqual({})
    })
  )

  it.live("a ReadLogs that reads Tail 0 as all lines", () =>
    Effect.gen(function* () {
      const report = yield* notPassed(
        broken((d) => ({
          readLogs: (r) =>
            d.readLogs!({ ...r, Config: { ...r.Config, Tail: r.Config.Tail === 0 ? -1 : r.Config.Tail } })
        }))
      )
      expect(report).toEqual({ "ReadLogs applies Tail": '--tail 0 answered ["one\\n","two\\n"], expected nothing' })
    })
  )

  it.live("a ReadLogs that stamps entries with the time it reads them", () =>
    Effect.gen(function* () {
      const now = BigInt(Date.UTC(2024, 5, 1)) * 1_000_000n
      const report = yield* notPassed(
        rewritten((e) => LogEntry.make({ source: e.source, timeNano: now, line: e.line }))
      )
      expect(report["ReadLogs answers each line with the time it was logged"]).toBe(
        'lines logged at 2020-01-01T00:00:01.000Z and 2020-01-01T00:00:05.000Z were answered with the times ["2024-06-01T00:00:00.000Z","2024-06-01T00:00:00.000Z"]'
      )
      // Only the Until warning also notices, by chance (every entry is then newer than Until).
      expect(Object.keys(report)).toEqual([
        "ReadLogs answers each line with the time it was logged",
        "ReadLogs applies Until before Tail (docker logs --until T --tail 1)"
      ])
    })
  )

  it.live("a ReadLogs that ends each chunk of a long line with a newline", () =>
    Effect.gen(function* () {
      const newline = (e: LogEntry.LogEntry) =>
        e.line.at(-1) === 10
          ? e
          : LogEntry.make({ source: e.source, timeNano: e.timeNano, line: new Uint8Array([...e.line, 10]) })
      expect(yield* notPassed(rewritten(newline))).toEqual({
        "ReadLogs gives back a line longer than 16 KiB as one line":
          'a 40 KiB line and a short one came back as 4 entries, 40969 characters with 4 newlines; docker logs would print 4 lines, expected the 40 KiB line then "short"'
      })
    })
  )
})
