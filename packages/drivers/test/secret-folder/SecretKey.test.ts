/**
 * SecretKey: which keys name a file under the root, and how the others are refused (field and value named).
 */
import { SecretKey } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"
import * as Result from "effect/Result"

const reasonOf = (text: string) => {
  const parsed = SecretKey.parse("s", "label key", text)
  return Result.isFailure(parsed) ? parsed.failure.reason : undefined
}

describe("SecretKey.parse", () => {
  it("takes a name, and a path with sub-folders, as its segments", () => {
    expect(SecretKey.parse("s", "SecretName", "app_db_pw")).toEqual(
      Result.succeed({ text: "app_db_pw", segments: ["app_db_pw"] })
    )
    expect(SecretKey.parse("s", "label key", "db/prod/password")).toEqual(
      Result.succeed({ text: "db/prod/password", segments: ["db", "prod", "password"] })
    )
    // Dots inside a name, spaces, backslashes and non-ASCII are names like any other on Linux.
    for (const text of ["..hidden", "a..b", ".env", "a b", "a\\b", "mot-de-passe-é"]) {
      expect(Result.isSuccess(SecretKey.parse("s", "label key", text)), text).toBe(true)
    }
  })

  it("refuses every way out of the root, and keys that would name another file than written", () => {
    expect(reasonOf("")).toBe("it is empty")
    expect(reasonOf("/etc/passwd")).toBe("it is absolute; a key is a path relative to the secrets folder")
    expect(reasonOf("../etc/passwd")).toBe('it has a ".." segment; a key stays under the secrets folder')
    expect(reasonOf("db/../../x")).toBe('it has a ".." segment; a key stays under the secrets folder')
    expect(reasonOf("..")).toBe('it has a ".." segment; a key stays under the secrets folder')
    expect(reasonOf("./db")).toBe('it has a "." segment; a key stays under the secrets folder')
    expect(reasonOf("db//password")).toBe("it has an empty segment (`//` or a trailing `/`)")
    expect(reasonOf("db/")).toBe("it has an empty segment (`//` or a trailing `/`)")
    expect(reasonOf("db\0/x")).toBe("it contains a NUL byte")
    expect(reasonOf("a".repeat(256))).toBe("a segment is longer than 255 bytes")
    expect(reasonOf("é".repeat(128))).toBe("a segment is longer than 255 bytes")
    expect(reasonOf(Array(6).fill("a".repeat(200)).join("/"))).toBe("it is longer than 1024 bytes")
    expect(reasonOf("a".repeat(255))).toBeUndefined()
  })

  it("names the secret, the field and the value in its message", () => {
    const parsed = SecretKey.parse("app_db_pw", "label key", "../x")
    expect(Result.isFailure(parsed) && parsed.failure.message).toBe(
      'secret "app_db_pw": invalid label key "../x": it has a ".." segment; a key stays under the secrets folder'
    )
    expect(Result.isFailure(parsed) && parsed.failure._tag).toBe("InvalidSecretKey")
  })
})
