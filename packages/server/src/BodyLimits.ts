/**
 * The two limits a plugin server puts on request bodies: the size of a JSON body, and how long any body (JSON or a
 * streamed layer upload) may go without receiving a byte.
 *
 * - JSON bodies: at most `HttpIncomingMessage.MaxBodySize` when it is set, else `defaultMaxJsonBody` (16 MiB; the
 *   daemon's largest JSON calls, AuthZ requests carrying bodies of up to 1 MiB in base64, stay far below it). A
 *   longer body is answered `413` with `{"Err": "/Api.Method: the request body is larger than …"}`. Streamed bodies
 *   (`GraphDriver.ApplyDiff`) have no size limit.
 * - Stalls: a body that receives nothing for `IdleTimeout` (30 s) while the server waits for it is answered `408`
 *   with `{"Err": "/Api.Method: the request body stalled: …"}` and its connection is closed. A slow upload that keeps
 *   sending is never cut off, nor one the driver is slow to consume. There is still no limit on a whole request.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"

/**
 * The size limit of a JSON request body when `HttpIncomingMessage.MaxBodySize` is not set: 16 MiB.
 *
 * @since 0.1.0
 */
export const defaultMaxJsonBody = 16 * 1024 * 1024

/**
 * How long a request body may receive nothing before the server gives up on it (default 30 s; 0 or an infinite
 * duration turns the check off). Read when a listener is built; `PluginServer.Options.bodyIdleTimeout` sets it.
 *
 * @since 0.1.0
 */
export const IdleTimeout = Context.Reference<Duration.Duration>("@docker-plugin-kit/server/BodyLimits/IdleTimeout", {
  defaultValue: () => Duration.seconds(30)
})

const units: ReadonlyArray<readonly [number, string]> = [
  [1024 * 1024 * 1024, "GiB"],
  [1024 * 1024, "MiB"],
  [1024, "KiB"]
]

/**
 * A byte count as people write limits: `16 MiB`, `40 bytes`.
 *
 * @since 0.1.0
 */
export const formatBytes = (bytes: number): string => {
  for (const [size, unit] of units) if (bytes >= size && bytes % size === 0) return `${bytes / size} ${unit}`
  return bytes === 1 ? "1 byte" : `${bytes} bytes`
}

/**
 * The `Err` of a JSON body over the limit.
 *
 * @since 0.1.0
 */
export const tooLargeMessage = (path: string, maxBytes: number): string =>
  `${path}: the request body is larger than the limit of ${formatBytes(maxBytes)} (set with HttpIncomingMessage.MaxBodySize or the server's maxBodySize option)`
