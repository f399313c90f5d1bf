/**
 * SecretValue: the sizes the swarm manager accepts (1 byte to under 500 KiB), and the answer's base64 and DoNotReuse.
 */
import { SecretLabels, SecretValue } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"
import * as Result from "effect/Result"

const wanted = (labels: Record<string, string> = {}) =>
  Result.getOrThrow(SecretLabels.read({ SecretName: "tls_key", SecretLabels: labels }))

const messageOf = (bytes: number) => {
  const checked = SecretValue.check(wanted(), new Uint8Array(bytes))
  return Result.isFailure(checked) ? checked.failure.message : undefined
}

describe("SecretValue", () => {
  it("accepts 1 byte up to 511999 bytes, as the swarm manager does", () => {
    expect(SecretValue.managerLimit).toBe(512_000)
    expect(SecretValue.maxBytes).toBe(511_999)
    expect(messageOf(1)).toBeUndefined()
    expect(messageOf(511_999)).toBeUndefined()
  })

  it("refuses an empty value and one of 512000 bytes or more, saying why", () => {
    expect(messageOf(0)).toBe(
      'secret "tls_key": file "tls_key" is refused: it is empty, and the swarm manager refuses an empty value'
    )
    // A read stops at maxBytes + 1: that is all it takes to tell.
    expect(messageOf(512_000)).toBe(
      'secret "tls_key": file "tls_key" is refused: it holds 512000 bytes (500 KiB) or more, and the swarm manager refuses a value that large'
    )
  })

  it("answers base64 of the bytes, with DoNotReuse only when reuse=false", () => {
    const bytes = new Uint8Array([0, 255, 10, 65])
    expect(SecretValue.answer(wanted(), bytes)).toEqual({ Value: "AP8KQQ==" })
    expect(SecretValue.answer(wanted({ reuse: "false" }), bytes)).toEqual({ Value: "AP8KQQ==", DoNotReuse: true })
    // A view into a larger buffer answers its own bytes only.
    const view = new Uint8Array([1, 2, 3, 4]).subarray(1, 3)
    expect(SecretValue.answer(wanted(), view).Value).toBe(Buffer.from([2, 3]).toString("base64"))
  })
})
