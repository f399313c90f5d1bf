/**
 * Reading a JSON value the way the daemon's Go decoder fills its structs: object keys match field names
 * case-insensitively (with Go's folding of `ſ` to `s` and the Kelvin sign to `k`), the last matching key wins. An
 * authorization plugin that looked keys up exactly would let `{"hostconfig":{"privileged":true}}` through.
 */

const fold = (key: string): string =>
  key
    .replace(/\u017f/g, "s")
    .replace(/\u212a/g, "k")
    .toLowerCase()

/** Whether a value is a JSON object. */
export const isObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** The value of field `name` of a JSON object as Go would read it, or `undefined`. */
export const field = (value: unknown, name: string): unknown => {
  if (!isObject(value)) return undefined
  const wanted = fold(name)
  let found: unknown
  for (const key of Object.keys(value)) if (fold(key) === wanted) found = value[key]
  return found
}

/** A nested field, e.g. `path(body, "HostConfig", "Privileged")`. */
export const path = (value: unknown, ...names: ReadonlyArray<string>): unknown =>
  names.reduce((current, name) => field(current, name), value)

/** A string field, or `undefined` when absent or not a string. */
export const string = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined)

/** The strings of an array field (other elements skipped). */
export const strings = (value: unknown): ReadonlyArray<string> =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : []

/** The elements of an array field. */
export const array = (value: unknown): ReadonlyArray<unknown> => (Array.isArray(value) ? value : [])
