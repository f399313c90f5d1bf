/**
 * Everything that can go wrong on the daemon's side of the conversation, as tagged errors. Each one has the
 * `message` the daemon would show, so a client error can flow straight back out of a proxy driver as `Err`.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"

/**
 * No socket or spec file for the name in any discovery folder.
 *
 * @since 0.1.0
 */
export class PluginNotFound extends Schema.TaggedError<PluginNotFound>()("PluginNotFound", {
  plugin: Schema.String,
  /** Every path that was tried, in the daemon's order. */
  searched: Schema.Array(Schema.String)
}) {
  override get message() {
    // Quoted as JSON, so that a control character in a name cannot garble the terminal it is printed on.
    const plugin = JSON.stringify(this.plugin)
    // Nothing searched: a name that no path can be made of.
    if (this.searched.length === 0) {
      const why = this.plugin === "" ? "cannot be empty" : "cannot contain a NUL byte"
      return `plugin ${plugin} not found: a plugin name ${why}`
    }
    return `plugin ${plugin} not found: no socket or spec file at ${this.searched.join(", ")}`
  }
}

/**
 * A spec file exists but cannot be used; names the file and what is wrong with it.
 *
 * @since 0.1.0
 */
export class BadSpecFile extends Schema.TaggedError<BadSpecFile>()("BadSpecFile", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `bad plugin spec file ${this.path}: ${this.reason}`
  }
}

/**
 * The plugin's manifest does not list the subsystem that was asked for.
 *
 * @since 0.1.0
 */
export class NotImplemented extends Schema.TaggedError<NotImplemented>()("NotImplemented", {
  plugin: Schema.String,
  subsystem: Schema.String,
  implements: Schema.Array(Schema.String)
}) {
  override get message() {
    const has = this.implements.length === 0 ? "nothing" : this.implements.join(", ")
    return `plugin ${this.plugin} does not implement ${this.subsystem} (it implements ${has})`
  }
}

/**
 * The HTTP round trip never produced a response, even after the daemon's retries. `reason` is the last error.
 *
 * @since 0.1.0
 */
export class PluginUnreachable extends Schema.TaggedError<PluginUnreachable>()("PluginUnreachable", {
  method: Schema.String,
  address: Schema.String,
  reason: Schema.String,
  attempts: Schema.Number,
  elapsedMs: Schema.Number
}) {
  override get message() {
    const tries = this.attempts === 1 ? "1 attempt" : `${this.attempts} attempts over ${formatSeconds(this.elapsedMs)}`
    return `${this.method}: cannot reach the plugin at ${this.address}: ${this.reason} (${tries})`
  }
}

/**
 * The plugin did not answer within the call's timeout.
 *
 * @since 0.1.0
 */
export class CallTimeout extends Schema.TaggedError<CallTimeout>()("CallTimeout", {
  method: Schema.String,
  address: Schema.String,
  timeoutMs: Schema.Number
}) {
  override get message() {
    return `${this.method}: the plugin at ${this.address} did not answer within ${formatSeconds(this.timeoutMs)}`
  }
}

/**
 * The plugin answered 200 with a non-empty `Err` (IPAM: `Error`). `message` is the text itself, so a proxy driver can
 * pass it on as its own `Err`; what the daemon shows (`remote: …` for network and IPAM calls) is
 * `DaemonText.message`.
 *
 * @since 0.1.0
 */
export class RemoteError extends Schema.TaggedError<RemoteError>()("RemoteError", {
  method: Schema.String,
  err: Schema.String
}) {
  override get message() {
    return this.err
  }
}

/**
 * The plugin answered with a status other than 200. The daemon shows `Method: <Err, or the raw body>`, `Method` as
 * it calls it (`DaemonText.method`: `VolumeDriver.Get`, `/SecretProvider.GetSecret`, with the query of
 * `GraphDriver.ApplyDiff`).
 *
 * @since 0.1.0
 */
export class StatusError extends Schema.TaggedError<StatusError>()("StatusError", {
  /** The daemon's method string (`DaemonText.method`). */
  method: Schema.String,
  status: Schema.Number,
  /** `Err` of the body when it has one, else the raw body text. */
  detail: Schema.String
}) {
  override get message() {
    return `${this.method}: ${this.detail}`
  }
}

/**
 * A 200 answer whose body could not be read as the endpoint's response (empty body, bad JSON, wrong shape).
 *
 * @since 0.1.0
 */
export class BadResponse extends Schema.TaggedError<BadResponse>()("BadResponse", {
  method: Schema.String,
  reason: Schema.String,
  body: Schema.String
}) {
  override get message() {
    return `${this.method}: ${this.reason}`
  }
}

/**
 * Failures of one call.
 *
 * @since 0.1.0
 */
export type CallError = PluginUnreachable | CallTimeout | RemoteError | StatusError | BadResponse

/**
 * Failures of finding a plugin by name.
 *
 * @since 0.1.0
 */
export type DiscoveryError = PluginNotFound | BadSpecFile

const formatSeconds = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)}s`
