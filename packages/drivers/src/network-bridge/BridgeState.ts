/**
 * The persisted state of `network-bridge`: one JSON file per network (its settings and endpoints) under
 * `STATE/networks/`, each replaced atomically (temporary file, fsync, rename, fsync of the folder) through the same
 * filesystem port `volume-local` uses, so a crash at any moment leaves the previous or the next state of a network,
 * never a mix.
 *
 * @since 0.1.0
 */
import * as Crypto from "node:crypto"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Path from "node:path"
import { VolumeFs, type VolumeFsError } from "../volume-local/VolumeFs.ts"
import { NetworkRecord } from "./BridgeTable.ts"

/**
 * A state file could not be read back. Start-up stops rather than guess: the file names the network at stake.
 *
 * @since 0.1.0
 */
export class BridgeStateCorrupt extends Schema.TaggedError<BridgeStateCorrupt>()("BridgeStateCorrupt", {
  file: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `state file ${this.file} is unreadable (${this.reason}); fix or remove it, then restart`
  }
}

/**
 * The content of a state file (format version 1).
 *
 * @since 0.1.0
 */
export const StateFile = Schema.Struct({ version: Schema.Literal(1), network: NetworkRecord })

/**
 * Where the state lives.
 *
 * @since 0.1.0
 */
export interface Layout {
  readonly networksDir: string
  /** Temporary files of atomic writes; same filesystem as `networksDir` so the rename is atomic. */
  readonly tmpDir: string
}

/**
 * The layout under a state folder.
 *
 * @since 0.1.0
 */
export const layout = (stateDir: string): Layout => ({
  networksDir: Path.join(stateDir, "networks"),
  tmpDir: Path.join(stateDir, "tmp")
})

/**
 * The state file of a network: its ID when that is the daemon's usual hex, a hash of it otherwise (an ID is never
 * trusted as a path).
 *
 * @since 0.1.0
 */
export const fileOf = (l: Layout, networkId: string): string =>
  Path.join(
    l.networksDir,
    /^[0-9a-f]{1,64}$/.test(networkId)
      ? networkId
      : `sha256-${Crypto.createHash("sha256").update(networkId).digest("hex")}`
  )

const decodeFile = Schema.decodeUnknownResult(StateFile)

/**
 * Reads a network back; it must be the network its file name says.
 *
 * @since 0.1.0
 */
export const decode = (l: Layout, file: string, text: string): Result.Result<NetworkRecord, BridgeStateCorrupt> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return Result.fail(new BridgeStateCorrupt({ file, reason: (e as Error).message }))
  }
  return Result.flatMap(
    Result.mapError(
      decodeFile(json),
      (e) => new BridgeStateCorrupt({ file, reason: e.message.replace(/\n\s*/g, " ") })
    ),
    ({ network }) =>
      fileOf(l, network.id) === file
        ? Result.succeed(network)
        : Result.fail(new BridgeStateCorrupt({ file, reason: `it describes network "${network.id}"` }))
  )
}

/**
 * Writes a network's state file atomically.
 *
 * @since 0.1.0
 */
export const save = (l: Layout, network: NetworkRecord): Effect.Effect<void, VolumeFsError, VolumeFs> =>
  VolumeFs.use((fs) =>
    fs.writeFileAtomic(fileOf(l, network.id), `${JSON.stringify({ version: 1, network }, null, 2)}\n`, l.tmpDir)
  )

/**
 * Deletes a network's state file durably.
 *
 * @since 0.1.0
 */
export const erase = (l: Layout, networkId: string): Effect.Effect<void, VolumeFsError, VolumeFs> =>
  VolumeFs.use((fs) => fs.removeFile(fileOf(l, networkId)))

/**
 * Prepares the state folder and reads every network. Leftover temporary files (a write interrupted before its
 * rename, so the previous state file is intact) are deleted.
 *
 * @since 0.1.0
 */
export const load = (
  l: Layout
): Effect.Effect<ReadonlyArray<NetworkRecord>, VolumeFsError | BridgeStateCorrupt, VolumeFs> =>
  Effect.gen(function* () {
    const fs = yield* VolumeFs
    yield* fs.removeTree(l.tmpDir)
    yield* fs.makeDirectory(l.tmpDir, { mode: 0o700 })
    yield* fs.makeDirectory(l.networksDir, { mode: 0o700 })
    const records: Array<NetworkRecord> = []
    for (const name of [...(yield* fs.readDirectory(l.networksDir))].sort()) {
      const file = Path.join(l.networksDir, name)
      records.push(yield* Effect.fromResult(decode(l, file, yield* fs.readFile(file))))
    }
    return records
  })
