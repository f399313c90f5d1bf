import { LogFileOptions } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"
import { Result } from "effect"

const ok = (config: Record<string, string> | null) => Result.getOrThrow(LogFileOptions.decode(config))
const err = (config: Record<string, string>) => {
  const r = LogFileOptions.decode(config)
  if (Result.isSuccess(r)) throw new Error(`expected a failure for ${JSON.stringify(config)}`)
  return r.failure.message
}

describe("LogFileOptions", () => {
  it("no options: one file, never rotated", () => {
    expect(ok(null)).toEqual({ maxSize: undefined, maxFile: 1, compress: false })
    expect(ok({})).toEqual({ maxSize: undefined, maxFile: 1, compress: false })
  })

  it("sizes are decimal multiples, as json-file parses them (go-units' FromHumanSize: 10m is 10 000 000 bytes)", () => {
    // json-file reads max-size with units.FromHumanSize, whose multiples are powers of 1000: a daemon.json moved
    // from json-file to log-file must rotate at the same sizes, not 4.9% (10m) to 12.6% (1p) later.
    expect(ok({ "max-size": "10m" }).maxSize).toBe(10_000_000)
    expect(ok({ "max-size": "512k" }).maxSize).toBe(512_000)
    expect(ok({ "max-size": "1G" }).maxSize).toBe(1000 ** 3)
    expect(ok({ "max-size": "1.5k" }).maxSize).toBe(1500)
    expect(ok({ "max-size": "100" }).maxSize).toBe(100)
    expect(ok({ "max-size": "-1" }).maxSize).toBeUndefined()
    expect(ok({ "max-size": "2k", "max-file": "3" })).toEqual({ maxSize: 2000, maxFile: 3, compress: false })
  })

  it("sizes take the units go-units takes, as json-file parses them (an i changes nothing: still decimal)", () => {
    const mb = 1000 * 1000
    for (const text of ["5m", "5mb", "5mib", "5MiB", "5MB", "5 m", "5 MiB", "5.0m"]) {
      expect(LogFileOptions.parseSize(text)).toEqual(Result.succeed(5 * mb))
    }
    expect(LogFileOptions.parseSize("2kib")).toEqual(Result.succeed(2000))
    expect(LogFileOptions.parseSize("1t")).toEqual(Result.succeed(1000 ** 4))
    expect(LogFileOptions.parseSize("1Pb")).toEqual(Result.succeed(1000 ** 5))
    expect(LogFileOptions.parseSize("100b")).toEqual(Result.succeed(100))
    expect(LogFileOptions.parseSize("100B")).toEqual(Result.succeed(100))
    expect(LogFileOptions.parseSize(".5k")).toEqual(Result.succeed(500))
  })

  it("base 1024 reads an amount of memory (--buffer-size), so its default 16m is the buffer's 16 MiB", () => {
    expect(LogFileOptions.parseSize("16m", 1024)).toEqual(Result.succeed(16 * 1024 * 1024))
    expect(LogFileOptions.parseSize("1.5k", 1024)).toEqual(Result.succeed(1536))
    expect(LogFileOptions.parseSize("100", 1024)).toEqual(Result.succeed(100))
  })

  it("sizes refuse a unit go-units refuses, naming the value", () => {
    for (const text of ["10i", "1bb", "1bib", "1ib", "5mi", "5mbb", "5kibb", "1x", " 1", "1  k", "1.2.3k", "k"]) {
      expect(err({ "max-size": text })).toBe(`log-opt max-size=${text}: expected a size such as 10m, 512k or 1g`)
    }
    expect(err({ "max-size": "10p" })).toBe("log-opt max-size=10p: too large")
  })

  it("max-file is bounded: a huge count is refused at start, not found out by running out of memory", () => {
    expect(ok({ "max-size": "1k", "max-file": "1000" }).maxFile).toBe(1000)
    for (const count of ["1001", "100000000", "99999999999999999999", "9".repeat(400)]) {
      expect(err({ "max-size": "1k", "max-file": count })).toBe(`log-opt max-file=${count}: must be at most 1000`)
    }
  })

  it("generic options the daemon forwards are accepted", () => {
    expect(ok({ mode: "non-blocking", "max-buffer-size": "4m", tag: "{{.Name}}", "cache-disabled": "true" })).toEqual({
      maxSize: undefined,
      maxFile: 1,
      compress: false
    })
  })

  it("bad values fail with a message naming the option and the value", () => {
    expect(err({ "max-size": "ten" })).toBe("log-opt max-size=ten: expected a size such as 10m, 512k or 1g")
    expect(err({ "max-size": "0" })).toBe("log-opt max-size=0: must be at least 1 byte")
    expect(err({ "max-size": "1k", "max-file": "0" })).toBe("log-opt max-file=0: must be a whole number of at least 1")
    expect(err({ "max-size": "1k", "max-file": "2.5" })).toMatch(/^log-opt max-file=2.5: /)
    expect(err({ "max-file": "3" })).toBe("log-opt max-file=3: needs max-size (files are only rotated by size)")
    expect(err({ "max-sise": "1k" })).toBe(
      "log-opt max-sise=1k: unknown option for log-file (it knows max-size, max-file and compress)"
    )
  })

  it("compress takes Go's boolean spellings, as json-file reads it", () => {
    const rotating = { "max-size": "1m", "max-file": "3" }
    for (const yes of ["true", "1", "t", "T", "TRUE", "True"])
      expect(ok({ ...rotating, compress: yes }).compress).toBe(true)
    for (const no of ["false", "0", "f", "F", "FALSE", "False", ""]) {
      expect(ok({ ...rotating, compress: no }).compress).toBe(false)
    }
    // Without rotation there is nothing to compress: refused, as json-file refuses it, rather than ignored.
    expect(ok({ compress: "false" }).compress).toBe(false)
  })

  it("compress fails on a value that is not a boolean, or without rotated files to compress", () => {
    expect(err({ "max-size": "1m", "max-file": "3", compress: "yes" })).toBe(
      "log-opt compress=yes: must be true or false"
    )
    const needs = "needs max-size and a max-file of at least 2 (only rotated files are compressed)"
    expect(err({ compress: "true" })).toBe(`log-opt compress=true: ${needs}`)
    expect(err({ "max-size": "1m", compress: "true" })).toBe(`log-opt compress=true: ${needs}`)
    expect(err({ "max-size": "1m", "max-file": "1", compress: "true" })).toBe(`log-opt compress=true: ${needs}`)
    expect(err({ "max-size": "-1", "max-file": "3", compress: "1" })).toMatch(/^log-opt max-file=3: needs max-size/)
  })
})
