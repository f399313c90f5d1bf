/**
 * Per-attempt timeouts the daemon applies (`volume/drivers/proxy.go`); every other call of a v1 plugin has none, so
 * a hung plugin blocks the daemon indefinitely.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"

/**
 * The daemon's timeout of a call, by path; `undefined` means none.
 *
 * @since 0.1.0
 */
export const daemon = (path: string): Duration.Duration | undefined => {
  switch (path) {
    case "/VolumeDriver.Create":
    case "/VolumeDriver.Mount":
      return Duration.minutes(2)
    case "/VolumeDriver.Remove":
    case "/VolumeDriver.Path":
    case "/VolumeDriver.Unmount":
    case "/VolumeDriver.List":
    case "/VolumeDriver.Get":
    case "/VolumeDriver.Capabilities":
      return Duration.minutes(1)
    default:
      return undefined
  }
}

/**
 * How a client picks the timeout of each call.
 *
 * @since 0.1.0
 */
export type Timeouts = (path: string) => Duration.Duration | undefined

/**
 * The same timeout for every call.
 *
 * @since 0.1.0
 */
export const fixed =
  (timeout: Duration.Input): Timeouts =>
  () =>
    Duration.fromInputUnsafe(timeout)
