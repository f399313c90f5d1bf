/**
 * `secret-folder`: a SecretProvider serving swarm secrets (`docker secret create --driver secret-folder NAME`) from
 * the files of a folder, the interface every secret tool can fill: a Vault agent's templates, a Kubernetes-style
 * secret volume, sops, or an operator by hand.
 *
 * A call reads the request's labels (`SecretLabels`: which file, for which services, reused or not), refuses a
 * service the secret is not for before touching the disk, then reads the file (`SecretFiles`: no symlink, only a
 * regular file of one name, bounded) and checks its size against what the manager accepts (`SecretValue`). Nothing is cached:
 * the file is read at every call, so the next fetch serves a rewritten file.
 *
 * @since 0.1.0
 */
import { SecretProvider } from "@docker-plugin-kit/protocol"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Path from "node:path"
import { type SecretError, SecretFileRefused, SecretNotFound } from "./SecretErrors.ts"
import { type Lookup, SecretFiles, type SecretFilesError } from "./SecretFiles.ts"
import * as SecretFilesMemory from "./SecretFilesMemory.ts"
import * as SecretFilesNode from "./SecretFilesNode.ts"
import { defaultRoot } from "./SecretFolderDefaults.ts"
import * as SecretLabels from "./SecretLabels.ts"
import * as SecretValue from "./SecretValue.ts"

/** The defaults, also reachable from here. */
export { defaultRoot }

/**
 * Settings of the driver.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Folder the secrets are read from (default `/var/lib/docker-plugin-kit/secrets`), created (0700) when missing. */
  readonly root?: string
}

/**
 * Every failure a call can report.
 *
 * @since 0.1.0
 */
export type CallError = SecretError | SecretFilesError

/**
 * What a lookup's finding means for the secret: its bytes, or why it is not served.
 *
 * @since 0.1.0
 */
export const bytesOf = (
  wanted: SecretLabels.Wanted,
  lookup: Lookup
): Effect.Effect<Uint8Array, SecretNotFound | SecretFileRefused> => {
  const { secret } = wanted
  const key = wanted.key.text
  switch (lookup._tag) {
    case "Found":
      return Effect.fromResult(SecretValue.check(wanted, lookup.bytes))
    case "Missing":
      return Effect.fail(new SecretNotFound({ secret, key, missing: lookup.at }))
    case "Symlink":
      return Effect.fail(
        new SecretFileRefused({
          secret,
          key,
          reason: `${JSON.stringify(lookup.at)} is a symlink, and no symlink under the secrets folder is followed (it could point anywhere)`
        })
      )
    case "HardLinked":
      return Effect.fail(
        new SecretFileRefused({
          secret,
          key,
          reason: `${JSON.stringify(lookup.at)} has ${lookup.links} hard links, and a file of several names is not served (any file of the same file system can be linked into the folder)`
        })
      )
    case "WrongKind":
      return Effect.fail(
        new SecretFileRefused({
          secret,
          key,
          reason: `${JSON.stringify(lookup.at)} is ${lookup.kind}, not ${lookup.wanted === "file" ? "a regular file" : "a folder"}`
        })
      )
  }
}

/**
 * Builds the driver.
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}) =>
  Effect.gen(function* () {
    const files = yield* SecretFiles
    const root = Path.resolve(options.root ?? defaultRoot)
    yield* files.makeDirectory(root)
    const getSecret = (request: SecretProvider.GetSecretRequest) =>
      Effect.gen(function* () {
        const read = yield* Effect.fromResult(SecretLabels.read(request))
        const wanted = yield* Effect.fromResult(SecretLabels.checkAccess(read, request.ServiceName))
        const bytes = yield* Effect.flatMap(files.read(root, wanted.key.segments, SecretValue.maxBytes), (lookup) =>
          bytesOf(wanted, lookup)
        )
        return SecretValue.answer(wanted, bytes)
      }).pipe(
        // The manager says why a secret is left out only in its debug log, and the task fails with `secret ID not
        // found`: the plugin's log is where an operator learns the reason.
        Effect.tapError((error: CallError) =>
          Effect.logWarning(`GetSecret for task ${request.TaskName ?? request.TaskID ?? "(unnamed)"}: ${error.message}`)
        )
      )
    return SecretProvider.make({ getSecret })
  })

/**
 * The driver as a Layer over any `SecretFiles`.
 *
 * @since 0.1.0
 */
export const layer = (
  options: Options = {}
): Layer.Layer<SecretProvider.SecretProvider, SecretFilesError, SecretFiles> =>
  Layer.effect(SecretProvider.SecretProvider, make(options))

/**
 * The driver on the real disk.
 *
 * @since 0.1.0
 */
export const layerNode = (options: Options = {}): Layer.Layer<SecretProvider.SecretProvider, SecretFilesError> =>
  layer(options).pipe(Layer.provide(SecretFilesNode.layer))

/**
 * The driver over fresh memory files, or over `files` (a test keeps them to fill them).
 *
 * @since 0.1.0
 */
export const layerMemory = (
  options: Options = {},
  files: SecretFilesMemory.MemoryFiles = SecretFilesMemory.make()
): Layer.Layer<SecretProvider.SecretProvider, SecretFilesError> =>
  layer(options).pipe(Layer.provide(SecretFilesMemory.layerOf(files)))
