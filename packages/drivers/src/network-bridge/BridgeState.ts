/**
 * The persisted state of `network-bridge`: one JSON file per network (its settings and endpoints) under
 * `STATE/networks/`, crash-safe state files (see `StateFiles`) written through the filesystem port `volume-local`
 * uses, so a crash at any moment leaves the previous or the next state of a network, never a mix.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Crypto from "node:crypto"
import * as StateFiles from "../shared/StateFiles.ts"
import { VolumeFs, type VolumeFsError } from "../volume-local/VolumeFs.ts"
import { NetworkRecord } from "./BridgeTable.ts"

/**
 * The content of a state file (format version 1).
 *
 * @since 0.1.0
 */
export const StateFile = Schema.Struct({ version: Schema.Literal(1), network: NetworkRecord })

/**
 * The file name of a network: its ID when that is the daemon's usual hex, a hash of it otherwise (an ID is never
 * trusted as a path).
 *
 * @since 0.1.0
 */
export const keyOf = (networkId: string): string =>
  /^[0-9a-f]{1,64}$/.test(networkId)
    ? networkId
    : `sha256-${Crypto.createHash("sha256").update(networkId).digest("hex")}`

const files = StateFiles.make({ schema: StateFile, keyOf: (state) => keyOf(state.network.id), noun: "network" })

/**
 * Where the state lives: `STATE/networks/KEY`, temporary files in `STATE/tmp`.
 *
 * @since 0.1.0
 */
export const layout = (stateDir: string): StateFiles.Layout => StateFiles.layout(stateDir, "networks")

/**
 * The state file of a network.
 *
 * @since 0.1.0
 */
export const fileOf = (l: StateFiles.Layout, networkId: string): string => files.fileOf(l, keyOf(networkId))

/**
 * Reads a network back; it must be the network its file name says.
 *
 * @since 0.1.0
 */
export const decode = (file: string, text: string): Result.Result<NetworkRecord, StateFiles.StateFileCorrupt> =>
  Result.map(files.decode(file, text), (state) => state.network)

/**
 * Writes a network's state file atomically.
 *
 * @since 0.1.0
 */
export const save = (l: StateFiles.Layout, network: NetworkRecord): Effect.Effect<void, VolumeFsError, VolumeFs> =>
  VolumeFs.use((fs) => files.save(fs, l, { version: 1, network }))

/**
 * Deletes a network's state file durably.
 *
 * @since 0.1.0
 */
export const erase = (l: StateFiles.Layout, networkId: string): Effect.Effect<void, VolumeFsError, VolumeFs> =>
  VolumeFs.use((fs) => files.erase(fs, l, keyOf(networkId)))

/**
 * Prepares the state folder and reads every network (leftover temporary files are deleted).
 *
 * @since 0.1.0
 */
export const load = (
  l: StateFiles.Layout
): Effect.Effect<ReadonlyArray<NetworkRecord>, VolumeFsError | StateFiles.StateFileCorrupt, VolumeFs> =>
  VolumeFs.use((fs) => Effect.map(files.load(fs, l), (states) => states.map((s) => s.network)))
