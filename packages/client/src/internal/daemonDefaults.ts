/**
 * Where the daemon reads an answer more leniently than its schema: optional capability calls whose failure of any
 * kind means "use the default", and the volume scope, which it lower-cases and defaults to `local`.
 */

/**
 * Capability calls the daemon reads any failure of (404, 500, a refused connection, an unreadable body) as "no
 * capabilities": volume (`local`), IPAM (registered without capabilities) and log drivers (no `ReadLogs`).
 */
const anyFailureMeansDefault: ReadonlySet<string> = new Set([
  "/VolumeDriver.Capabilities",
  "/IpamDriver.GetCapabilities",
  "/LogDriver.Capabilities"
])

/** Whether any failure of the call at `path` falls back to the endpoint's default answer. */
export const failureMeansDefault = (path: string): boolean => anyFailureMeansDefault.has(path)

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** The volume scope as the daemon reads it: lower-cased; empty, missing or unknown is `local`. */
const volumeScope = (body: unknown): unknown => {
  if (!isRecord(body)) return body
  const capabilities = isRecord(body.Capabilities) ? body.Capabilities : {}
  const scope = typeof capabilities.Scope === "string" ? capabilities.Scope.toLowerCase() : ""
  return { ...body, Capabilities: { ...capabilities, Scope: scope === "global" ? "global" : "local" } }
}

/**
 * A normalised answer body adjusted to what the daemon makes of it before the schema checks it. Only the volume
 * scope needs it: the network scopes are compared exactly (anything but `local`/`global` fails registration).
 */
export const adjust = (path: string, body: unknown): unknown =>
  path === "/VolumeDriver.Capabilities" ? volumeScope(body) : body
