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

  it("sizes are binary multiples like json-file's", () => {
    expect(ok({ "max-size": "10m" }).maxSize).toBe(10 * 1024 * 1024)
    expect(ok({ "max-size": "512k" }).maxSize).toBe(512 * 1024)
    expect(ok({ "max-size": "1G" }).maxSize).toBe(1024 ** 3)
    expect(ok({ "max-size": "1.5k" }).maxSize).toBe(1536)
    expect(ok({ "max-size": "100" }).maxSize).toBe(100)
    expect(ok({ "max-size": "-1" }).maxSize).toBeUndefined()
    expect(ok({ "max-size": "2k", "max-file": "3" })).toEqual({ maxSize: 2048, maxFile: 3, compress: false })
  })

  it("sizes take the units go-units' RAMInBytes takes, as json-file parses them", () => {
    const mib = 1024 * 1024
    for (const text of ["5m", "5mb", "5mib", "5MiB", "5MB", "5 m", "5 MiB", "5.0m"]) {
      expect(LogFileOptions.parseSize(text)).toEqual(Result.succeed(5 * mib))
    }
    expect(LogFileOptions.parseSize("2kib")).toEqual(Result.succeed(2048))
    expect(LogFileOptions.parseSize("1t")).toEqual(Result.succeed(1024 ** 4))
    expect(LogFileOptions.parseSize("1Pb")).toEqual(Result.succeed(1024 ** 5))
    expect(LogFileOptions.parseSize("100b")).toEqual(Result.succeed(100))
    expect(LogFileOptions.parseSize("100B")).toEqual(Result.succeed(100))
    expect(LogFileOptions.parseSize(".5k")).toEqual(Result.succeed(512))
  })

  it("sizes refuse a unit go-units refuses, naming the value", () => {
    for (const text of ["10i", "1bb", "1bib", "1ib", "5mi", "5mbb", "5kibb", "1x", " 1", "1  k", "1.2.3k", "k"]) {
      expect(err({ "max-size": text })).toBe(`log-opt max-size=${text}: expected a size such as 10m, 512k or 1g`)
    }
    expect(err({ "max-size": "8p" })).toBe("log-opt max-size=8p: too large")
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
