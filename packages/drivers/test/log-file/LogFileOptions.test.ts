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
    expect(ok(null)).toEqual({ maxSize: undefined, maxFile: 1 })
    expect(ok({})).toEqual({ maxSize: undefined, maxFile: 1 })
  })

  it("sizes are binary multiples like json-file's", () => {
    expect(ok({ "max-size": "10m" }).maxSize).toBe(10 * 1024 * 1024)
    expect(ok({ "max-size": "512k" }).maxSize).toBe(512 * 1024)
    expect(ok({ "max-size": "1G" }).maxSize).toBe(1024 ** 3)
    expect(ok({ "max-size": "1.5k" }).maxSize).toBe(1536)
    expect(ok({ "max-size": "100" }).maxSize).toBe(100)
    expect(ok({ "max-size": "-1" }).maxSize).toBeUndefined()
    expect(ok({ "max-size": "2k", "max-file": "3" })).toEqual({ maxSize: 2048, maxFile: 3 })
  })

  it("generic options the daemon forwards are accepted", () => {
    expect(ok({ mode: "non-blocking", "max-buffer-size": "4m", tag: "{{.Name}}", "cache-disabled": "true" })).toEqual({
      maxSize: undefined,
      maxFile: 1
    })
  })

  it("bad values fail with a message naming the option and the value", () => {
    expect(err({ "max-size": "ten" })).toBe("log-opt max-size=ten: expected a size such as 10m, 512k or 1g")
    expect(err({ "max-size": "0" })).toBe("log-opt max-size=0: must be at least 1 byte")
    expect(err({ "max-size": "1k", "max-file": "0" })).toBe("log-opt max-file=0: must be a whole number of at least 1")
    expect(err({ "max-size": "1k", "max-file": "2.5" })).toMatch(/^log-opt max-file=2.5: /)
    expect(err({ "max-file": "3" })).toBe("log-opt max-file=3: needs max-size (files are only rotated by size)")
    expect(err({ "max-sise": "1k" })).toBe(
      "log-opt max-sise=1k: unknown option for log-file (it knows max-size and max-file)"
    )
  })
})
