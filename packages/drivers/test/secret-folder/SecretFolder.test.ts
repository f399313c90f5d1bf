/**
 * The secret-folder driver over memory files: which file a secret reads, who gets it, what is refused and how the
 * refusal reads, and that the file is read again at every call.
 */
import { SecretFilesMemory, SecretFolder } from "@docker-plugin-kit/drivers"
import { SecretProvider } from "@docker-plugin-kit/protocol"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"

const root = "/secrets"

/** The driver over `files` (filled by `fill`), and the answer or the error message of one call. */
const setup = (fill: (files: SecretFilesMemory.MemoryFiles) => void = () => {}) =>
  Effect.gen(function* () {
    const files = SecretFilesMemory.make()
    fill(files)
    const driver = yield* SecretProvider.SecretProvider.pipe(Effect.provide(SecretFolder.layerMemory({ root }, files)))
    const get = (request: SecretProvider.GetSecretRequest) => driver.getSecret(request)
    const error = (request: SecretProvider.GetSecretRequest) => Effect.map(Effect.flip(get(request)), (e) => e.message)
    return { files, get, error }
  })

const text = (value: string | undefined) => Buffer.from(value ?? "", "base64").toString("utf8")

describe("SecretFolder over memory files", () => {
  it.effect("creates the root, and serves the file of the secret's name, or of its key label", () =>
    Effect.gen(function* () {
      const { files, get } = yield* setup((f) => {
        f.writeFile(`${root}/app_token`, "by-name")
        f.writeFile(`${root}/db/prod/password`, "by-key")
      })
      expect(text((yield* get({ SecretName: "app_token", ServiceName: "web" })).Value)).toBe("by-name")
      const answer = yield* get({ SecretName: "app_db_pw", SecretLabels: { key: "db/prod/password" } })
      expect(answer).toEqual({ Value: Buffer.from("by-key").toString("base64") })
      expect(files.reads()).toBe(2)
      // Created at start: the driver over an empty memory holds its root.
      const empty = yield* setup()
      expect(yield* empty.error({ SecretName: "x" })).toBe('secret "x": no file "x" under the secrets folder')
    })
  )

  it.effect("reads the file at every call: a rewritten file is served at once", () =>
    Effect.gen(function* () {
      const { files, get } = yield* setup((f) => f.writeFile(`${root}/rotating`, "v1"))
      const request = { SecretName: "rotating", SecretLabels: { reuse: "false" } }
      expect(yield* get(request)).toEqual({ Value: Buffer.from("v1").toString("base64"), DoNotReuse: true })
      files.writeFile(`${root}/rotating`, "v2")
      expect(text((yield* get(request)).Value)).toBe("v2")
      expect(files.reads()).toBe(2)
    })
  )

  it.effect("refuses a service its label services does not name, before reading the file", () =>
    Effect.gen(function* () {
      const { files, get, error } = yield* setup((f) => f.writeFile(`${root}/db/password`, "pw"))
      const labels = { key: "db/password", services: "api,worker" }
      expect(yield* error({ SecretName: "db_pw", ServiceName: "web", SecretLabels: labels })).toBe(
        'secret "db_pw" is not given to service "web": its label services allows api, worker'
      )
      expect(files.reads()).toBe(0)
      expect(text((yield* get({ SecretName: "db_pw", ServiceName: "worker", SecretLabels: labels })).Value)).toBe("pw")
    })
  )

  it.effect("refuses symlinks, anything but a regular file, and a folder path through a file", () =>
    Effect.gen(function* () {
      const { files, error } = yield* setup((f) => {
        f.set(`${root}/planted`, { type: "symlink", target: "/etc/shadow" })
        f.set(`${root}/linked`, { type: "symlink", target: "/etc" })
        f.set(`${root}/pipe`, { type: "fifo" })
        f.set(`${root}/zero`, { type: "device" })
        f.set(`${root}/folder`, { type: "folder" })
        f.writeFile(`${root}/plain`, "x")
        f.set(`${root}/twin`, { type: "file", bytes: new TextEncoder().encode("x"), links: 2 })
      })
      const refused = (key: string) => error({ SecretName: "s", SecretLabels: { key } })
      expect(yield* refused("planted")).toBe(
        'secret "s": file "planted" is refused: "planted" is a symlink, and no symlink under the secrets folder is followed (it could point anywhere)'
      )
      expect(yield* refused("linked/shadow")).toBe(
        'secret "s": file "linked/shadow" is refused: "linked" is a symlink, and no symlink under the secrets folder is followed (it could point anywhere)'
      )
      expect(yield* refused("pipe")).toBe('secret "s": file "pipe" is refused: "pipe" is a FIFO, not a regular file')
      expect(yield* refused("zero")).toBe(
        'secret "s": file "zero" is refused: "zero" is a character device, not a regular file'
      )
      expect(yield* refused("folder")).toBe(
        'secret "s": file "folder" is refused: "folder" is a folder, not a regular file'
      )
      expect(yield* refused("plain/x")).toBe(
        'secret "s": file "plain/x" is refused: "plain" is a regular file, not a folder'
      )
      expect(yield* refused("twin")).toBe(
        'secret "s": file "twin" is refused: "twin" has 2 hard links, and a file of several names is not served (any file of the same file system can be linked into the folder)'
      )
      expect(files.reads()).toBe(0)
    })
  )

  it.effect("names a missing file, and the missing folder on its way", () =>
    Effect.gen(function* () {
      const { error } = yield* setup((f) => f.writeFile(`${root}/db/other`, "x"))
      expect(yield* error({ SecretName: "s", SecretLabels: { key: "db/password" } })).toBe(
        'secret "s": no file "db/password" under the secrets folder'
      )
      expect(yield* error({ SecretName: "s", SecretLabels: { key: "vault/db/password" } })).toBe(
        'secret "s": no file "vault/db/password" under the secrets folder ("vault" does not exist)'
      )
    })
  )

  it.effect("refuses an empty file and one of 500 KiB or more, which the swarm manager would refuse", () =>
    Effect.gen(function* () {
      const { get, error } = yield* setup((f) => {
        f.writeFile(`${root}/empty`, "")
        f.writeFile(`${root}/largest`, new Uint8Array(511_999).fill(120))
        f.writeFile(`${root}/large`, new Uint8Array(512_000).fill(120))
      })
      expect(yield* error({ SecretName: "empty" })).toBe(
        'secret "empty": file "empty" is refused: it is empty, and the swarm manager refuses an empty value'
      )
      expect(Buffer.from((yield* get({ SecretName: "largest" })).Value ?? "", "base64")).toHaveLength(511_999)
      expect(yield* error({ SecretName: "large" })).toBe(
        'secret "large": file "large" is refused: it holds 512000 bytes (500 KiB) or more, and the swarm manager refuses a value that large'
      )
    })
  )

  it.effect("fails with typed errors, by kind", () =>
    Effect.gen(function* () {
      const { get } = yield* setup((f) => f.writeFile(`${root}/s`, "x"))
      const tagOf = (request: SecretProvider.GetSecretRequest) => Effect.map(Effect.flip(get(request)), (e) => e._tag)
      expect(yield* tagOf({ SecretName: "../s" })).toBe("InvalidSecretKey")
      expect(yield* tagOf({ SecretName: "s", SecretLabels: { reuse: "maybe" } })).toBe("InvalidSecretLabel")
      expect(yield* tagOf({ SecretName: "s", ServiceName: "a", SecretLabels: { services: "b" } })).toBe(
        "SecretAccessDenied"
      )
      expect(yield* tagOf({ SecretName: "missing" })).toBe("SecretNotFound")
      expect(yield* tagOf({ SecretName: "s", SecretLabels: { key: "s/x" } })).toBe("SecretFileRefused")
    })
  )
})
