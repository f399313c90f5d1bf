/**
 * Typed failures of the graph drivers. Each carries the message the daemon shows to the user.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * The named layer does not exist.
 *
 * @since 0.1.0
 */
export class LayerNotFound extends Schema.TaggedError<LayerNotFound>()("LayerNotFound", { layer: Schema.String }) {
  override get message() {
    return `no such layer: ${this.layer}`
  }
}

/**
 * A layer of that ID already exists.
 *
 * @since 0.1.0
 */
export class LayerExists extends Schema.TaggedError<LayerExists>()("LayerExists", { layer: Schema.String }) {
  override get message() {
    return `layer ${this.layer} already exists`
  }
}

/**
 * The layer is mounted (`Get` without its `Put`) and cannot be removed.
 *
 * @since 0.1.0
 */
export class LayerInUse extends Schema.TaggedError<LayerInUse>()("LayerInUse", {
  layer: Schema.String,
  mounts: Schema.Number
}) {
  override get message() {
    return `layer ${this.layer} is in use by ${this.mounts} Get(s) without their Put`
  }
}

/**
 * Other layers are built on this one.
 *
 * @since 0.1.0
 */
export class LayerHasChildren extends Schema.TaggedError<LayerHasChildren>()("LayerHasChildren", {
  layer: Schema.String,
  children: Schema.Array(Schema.String)
}) {
  override get message() {
    return `layer ${this.layer} is the parent of ${this.children.join(", ")}`
  }
}

/**
 * `Put` of a layer that no `Get` holds.
 *
 * @since 0.1.0
 */
export class LayerNotMounted extends Schema.TaggedError<LayerNotMounted>()("LayerNotMounted", {
  layer: Schema.String
}) {
  override get message() {
    return `layer ${this.layer} is not mounted (Put without Get)`
  }
}

/**
 * A layer ID that cannot name a folder.
 *
 * @since 0.1.0
 */
export class InvalidLayerId extends Schema.TaggedError<InvalidLayerId>()("InvalidLayerId", {
  layer: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `invalid layer ID ${JSON.stringify(this.layer)}: ${this.reason}`
  }
}

/**
 * A layer on `parent` would stack more lower folders than overlayfs mounts (the kernel's limit, 500): refused at
 * `Create`, since its `Get` could never mount.
 *
 * @since 0.1.0
 */
export class LayerTooDeep extends Schema.TaggedError<LayerTooDeep>()("LayerTooDeep", {
  layer: Schema.String,
  parent: Schema.String,
  lowers: Schema.Number,
  limit: Schema.Number
}) {
  override get message() {
    return `layer ${this.layer} on ${this.parent} would stack ${this.lowers} lower layers; overlayfs mounts at most ${this.limit}`
  }
}

/**
 * One of a layer's own paths under the root is not what the driver made (a symlink, a file, missing): refused, so
 * nothing is mounted, read or written through it outside the root.
 *
 * @since 0.1.0
 */
export class UnsafeLayerPath extends Schema.TaggedError<UnsafeLayerPath>()("UnsafeLayerPath", {
  layer: Schema.String,
  path: Schema.String,
  found: Schema.String
}) {
  override get message() {
    return `layer ${this.layer}: ${this.path} is ${this.found}, not the driver's own folder; refused`
  }
}

/**
 * The driver could not take its root: another live process, or another driver of this process, has claimed it
 * (`ROOT/owner.pid`, see `FolderOwner`). Two drivers on one root would each keep their own table of the layers and
 * their mounts, delete each other's layers in the making as a crash's leftovers, and unmount each other's overlays.
 *
 * @since 0.1.0
 */
export class GraphRootInUse extends Schema.TaggedError<GraphRootInUse>()("GraphRootInUse", {
  root: Schema.String,
  owner: Schema.Number,
  inThisProcess: Schema.Boolean
}) {
  override get message() {
    return this.inThisProcess
      ? `graph root ${this.root} is already used by another driver in this process; give each driver its own root (--root)`
      : `graph root ${this.root} is in use by process ${this.owner}; stop that plugin first, or give this one its own root (--root)`
  }
}

/**
 * The root itself is not a folder of the driver's own: a symlink (or anything else) at its path when the driver
 * starts. Followed, a planted link would have the layers written, and what looks like a crash's leftovers deleted,
 * wherever it points; a root reached through a linked folder above it (a data root moved and linked back) is fine.
 *
 * @since 0.1.0
 */
export class UnsafeGraphRoot extends Schema.TaggedError<UnsafeGraphRoot>()("UnsafeGraphRoot", {
  root: Schema.String,
  found: Schema.String
}) {
  override get message() {
    return `graph root ${this.root} is ${this.found}, not a folder; refused (give the folder itself as the root)`
  }
}

/**
 * A request the driver cannot serve as asked (a diff against another layer than the parent, a storage option such
 * as `--storage-opt size=…`, a call before `Init`).
 *
 * @since 0.1.0
 */
export class GraphUnsupported extends Schema.TaggedError<GraphUnsupported>()("GraphUnsupported", {
  reason: Schema.String
}) {
  override get message() {
    return this.reason
  }
}

/**
 * Every failure of the table's rules.
 *
 * @since 0.1.0
 */
export type GraphError =
  | LayerNotFound
  | LayerExists
  | LayerInUse
  | LayerHasChildren
  | LayerNotMounted
  | InvalidLayerId
  | LayerTooDeep
