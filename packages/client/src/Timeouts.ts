/**
 * How long a client waits for each call. The daemon's own timeouts are part of each endpoint's declaration
 * (`Endpoint.daemonTimeout`: the volume proxy's 1 and 2 minutes; none for every other call of a v1 plugin, so a
 * hung plugin blocks the daemon indefinitely).
 *
 * @since 0.1.0
 */
import type { Endpoint } from "@docker-plugin-kit/protocol"
import * as Duration from "effect/Duration"

/**
 * How a client picks the timeout of each call: from the endpoint's declaration, or `undefined` for a raw call by
 * path; a result of `undefined` means none.
 *
 * @since 0.1.0
 */
export type Timeouts = (endpoint: Endpoint.Any | undefined) => Duration.Duration | undefined

/**
 * The daemon's timeout of a call, as its endpoint declares it; none for raw calls by path.
 *
 * @since 0.1.0
 */
export const daemon: Timeouts = (endpoint) => endpoint?.daemonTimeout

/**
 * The same timeout for every call.
 *
 * @since 0.1.0
 */
export const fixed =
  (timeout: Duration.Input): Timeouts =>
  () =>
    Duration.fromInputUnsafe(timeout)
