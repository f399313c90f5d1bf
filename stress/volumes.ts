/**
 * Volume calls as the daemon makes them, for the scenarios that need a volume plugin's state: what it lists,
 * what one volume reports.
 */
import { attempt, call } from "./wire.ts"

/** A 64-hex mount ID like the daemon's. */
export const mountId = (): string =>
  Array.from({ length: 64 }, () => "0123456789abcdef"[Math.floor(Math.random() * 16)]).join("")

/** The volume names the plugin lists, sorted. */
export const names = async (socket: string): Promise<Array<string>> => {
  const { json } = await call(socket, "/VolumeDriver.List", {})
  return ((json?.Volumes ?? []) as Array<{ Name: string }>).map((v) => v.Name).sort()
}

/** A call that must succeed; its error text otherwise (no answer included). */
export const ok = async (
  socket: string,
  method: string,
  body: unknown,
  send: typeof call = call
): Promise<string | undefined> => {
  const result = await attempt(socket, `/VolumeDriver.${method}`, body, send)
  return result.ok ? undefined : result.text
}

/** `Status.mounts` of a volume, as the driver reports it. */
export const mountCount = async (socket: string, name: string): Promise<number | undefined> => {
  const { json } = await call(socket, "/VolumeDriver.Get", { Name: name })
  return json?.Volume?.Status?.mounts
}
