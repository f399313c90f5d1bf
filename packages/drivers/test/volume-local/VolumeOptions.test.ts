import { VolumeOptions } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"
import { Result } from "effect"

const ok = (options: Record<string, string> | null) => {
  const r = VolumeOptions.decode(options)
  if (Result.isFailure(r)) throw new Error(r.failure.message)
  return r.success
}
const err = (options: Record<string, string>) => {
  const r = VolumeOptions.decode(options)
  if (Result.isSuccess(r)) throw new Error(`expected a failure for ${JSON.stringify(options)}`)
  return r.failure.message
}

describe("VolumeOptions", () => {
  it("null and {} mean no options", () => {
    expect(ok(null)).toEqual({ labels: {} })
    expect(ok({})).toEqual({ labels: {} })
  })

  it("decodes uid, gid, octal mode, size and labels", () => {
    expect(
      ok({ uid: "1000", gid: "50", mode: "0750", size: "1.5GiB", "label.team": "infra", "label.a.b": "" })
    ).toEqual({
      uid: 1000,
      gid: 50,
      mode: 0o750,
      size: { text: "1.5GiB", bytes: 1.5 * 2 ** 30 },
      labels: { team: "infra", "a.b": "" }
    })
    expect(ok({ mode: "1777" }).mode).toBe(0o1777)
    expect(ok({ mode: "755" }).mode).toBe(0o755)
  })

  it("parses sizes with binary units", () => {
    expect(VolumeOptions.parseSize("1024")).toBe(1024)
    expect(VolumeOptions.parseSize("512M")).toBe(512 * 2 ** 20)
    expect(VolumeOptions.parseSize("10g")).toBe(10 * 2 ** 30)
    expect(VolumeOptions.parseSize("2KB")).toBe(2048)
    expect(VolumeOptions.parseSize("lots")).toBeUndefined()
    expect(VolumeOptions.parseSize("-1G")).toBeUndefined()
    expect(VolumeOptions.parseSize("1.5GiB")).toBe(1.5 * 2 ** 30)
    expect(VolumeOptions.parseSize("0.5k")).toBe(512)
    expect(VolumeOptions.parseSize("007")).toBe(7)
    expect(VolumeOptions.parseSize("7P")).toBe(7 * 2 ** 50)
  })

  it("refuses sizes that are not a whole, safe number of bytes of at least 1, naming the value", () => {
    expect(VolumeOptions.parseSize("0")).toBeUndefined()
    expect(VolumeOptions.parseSize("0.4")).toBeUndefined()
    expect(VolumeOptions.parseSize("0.1K")).toBeUndefined()
    expect(err({ size: "0" })).toBe('invalid options: option "size": "0" must be at least 1 byte')
    expect(err({ size: "0.0G" })).toBe('invalid options: option "size": "0.0G" must be at least 1 byte')
    expect(err({ size: "0.4" })).toBe('invalid options: option "size": "0.4" is not a whole number of bytes')
    expect(err({ size: "1.5" })).toBe('invalid options: option "size": "1.5" is not a whole number of bytes')
    // Rounds to 1024 as a double, but is not a whole number of bytes.
    expect(err({ size: "1.0000000000000000001K" })).toBe(
      'invalid options: option "size": "1.0000000000000000001K" is not a whole number of bytes'
    )
    const nines = "9".repeat(400)
    // A long value is cut in the message.
    expect(err({ size: nines })).toBe(`invalid options: option "size": "${"9".repeat(40)}…" is too large`)
    expect(err({ size: "99999999P" })).toBe('invalid options: option "size": "99999999P" is too large')
    expect(err({ size: "9007199254740992" })).toBe('invalid options: option "size": "9007199254740992" is too large')
    expect(ok({ size: "9007199254740991" }).size).toEqual({ text: "9007199254740991", bytes: Number.MAX_SAFE_INTEGER })
  })

  it("refuses an unknown key, naming it and the known ones", () => {
    expect(err({ colour: "blue" })).toBe(
      'invalid options: unknown option "colour" (known: uid, gid, mode, size, label.<name>)'
    )
  })

  it("takes keys named after an object's built-in properties as any other key", () => {
    // As the daemon's JSON decoding yields them: own properties, not a prototype.
    const options = JSON.parse('{"label.__proto__":"p","label.constructor":"c"}')
    expect(Object.entries(ok(options).labels)).toEqual([
      ["__proto__", "p"],
      ["constructor", "c"]
    ])
    expect(err(JSON.parse('{"__proto__":"x"}'))).toBe(
      'invalid options: unknown option "__proto__" (known: uid, gid, mode, size, label.<name>)'
    )
  })

  it("refuses bad values with the reason", () => {
    expect(err({ mode: "999" })).toBe('invalid options: option "mode": expected octal permission bits such as 0755')
    expect(err({ mode: "rwxr-x---" })).toBe(
      'invalid options: option "mode": expected octal permission bits such as 0755'
    )
    expect(err({ uid: "-1" })).toBe('invalid options: option "uid": expected a decimal id such as 1000')
    expect(err({ gid: "4294967295" })).toBe('invalid options: option "gid": expected an id of at most 4294967294')
    expect(err({ size: "big" })).toBe('invalid options: option "size": expected a size such as 512M, 10G or 1073741824')
    expect(err({ "label.": "x" })).toBe('invalid options: option "label.": a label needs a name (label.NAME=VALUE)')
  })

  it("reports every problem at once", () => {
    expect(err({ mode: "9", nope: "1", uid: "x" })).toBe(
      'invalid options: unknown option "nope" (known: uid, gid, mode, size, label.<name>); ' +
        'option "uid": expected a decimal id such as 1000; option "mode": expected octal permission bits such as 0755'
    )
  })
})
