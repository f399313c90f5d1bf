/**
 * The host work of the graph drivers, as a service: overlay mounts, unmounts, the mounts found under a folder,
 * full copies (for `graph-vfs`, where overlayfs cannot mount), and the claim of the root. `MountsNode` does it with
 * mount(8), umount(8), cp(1) and an owner file; `MountsMemory` keeps a mount table and the claims in memory, so the
 * driver's rules run without root.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { GraphRootInUse } from "./GraphErrors.ts"

/**
 * A mount, unmount or copy (or the file work of the root's claim) failed; the message names the operation, the path and the tool's own words.
 *
 * @since 0.1.0
 */
export class MountError extends Schema.TaggedError<MountError>()("MountError", {
  operation: Schema.String,
  path: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.operation} ${this.path}: ${this.reason}`
  }
}

/**
 * An overlay mount: `lowers` top first; paths may be relative to `cwd` (keeps the option string short for long
 * chains of layers; the kernel limits it to one page).
 *
 * @since 0.1.0
 */
export interface OverlaySpec {
  readonly cwd: string
  readonly lowers: ReadonlyArray<string>
  readonly upper: string
  readonly work: string
  readonly target: string
}

/**
 * The operations.
 *
 * @since 0.1.0
 */
export interface Service {
  /** Mounts an overlay filesystem. */
  readonly mountOverlay: (spec: OverlaySpec) => Effect.Effect<void, MountError>
  /** Unmounts what is mounted at `target`. */
  readonly unmount: (target: string) => Effect.Effect<void, MountError>
  /** Mount points strictly under `folder`. */
  readonly mountedUnder: (folder: string) => Effect.Effect<ReadonlyArray<string>, MountError>
  /** Copies the content of `from` into the existing folder `to`, keeping owners, modes, times, links. */
  readonly copy: (from: string, to: string) => Effect.Effect<void, MountError>
  /**
   * Claims the root (an existing folder, by its real path) for this process until the scope closes: refused while
   * another live process, or another driver of this process, has it (see `FolderOwner`).
   */
  readonly claimRoot: (root: string) => Effect.Effect<void, MountError | GraphRootInUse, Scope.Scope>
}

/**
 * The service key.
 *
 * @since 0.1.0
 */
export class Mounts extends Context.Service<Mounts, Service>()("@docker-plugin-kit/drivers/Mounts") {}
