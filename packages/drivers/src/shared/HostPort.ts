/**
 * `HOST:PORT` as the CLI's `--tcp` and a driver's own listening flag (`metrics-proxy --listen`) take it.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"

/**
 * An address to listen on.
 *
 * @since 0.1.0
 */
export interface HostPort {
  readonly host: string
  readonly port: number
}

/**
 * Reads `HOST:PORT`, `[IPv6]:PORT`, or `:PORT` for 127.0.0.1. A bare port, an empty one or one over 65535 is
 * refused, with the reason: Node would take `9323` for a host, pick a random port for an empty one, and throw on one
 * it refuses.
 *
 * @since 0.1.0
 */
export const parse = (value: string): Result.Result<HostPort, string> => {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value)
  if (match === null) return Result.fail("expects HOST:PORT")
  const port = Number(match[3])
  if (port > 65535) return Result.fail("the port must be at most 65535")
  return Result.succeed({ host: match[1] ?? (match[2] || "127.0.0.1"), port })
}
