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

/**
 * A Docker `StrSlice` field (`HostConfig.CapAdd`, `Cmd`): a list of strings, or a single string, which the daemon
 * takes as a list of one (`"CapAdd":"SYS_ADMIN"` adds `SYS_ADMIN`).
 */
export const strSlice = (value: unknown): ReadonlyArray<string> =>
  typeof value === "string" ? [value] : strings(value)

/** The elements of an array field. */
export const array = (value: unknown): ReadonlyArray<unknown> => (Array.isArray(value) ? value : [])

/** The spellings of one key in one object so far, and whether one of its values was an object. */
interface Seen {
  readonly spellings: Set<string>
  object: boolean
}

/**
 * The first key of a JSON text (already known to be valid) that one object gives twice in a way Go's decoder reads
 * otherwise than `JSON.parse`, or `undefined`. Go reads the keys that fold alike, in order, into one field: a later
 * object is merged into an earlier one (`{"HostConfig":{"Privileged":true},"HostConfig":{}}` is privileged), a later
 * `null` is ignored where the field cannot be nil (`{"Privileged":true,"privileged":null}` is privileged), and the
 * same spelling given again after another (`"Privileged":true,"privileged":false,"Privileged":true`) wins, while
 * `JSON.parse` keeps one value per spelling, in the order spellings first appeared. So a key is flagged when its
 * spelling repeats, when a repeat is `null`, or when a repeat and an earlier value are both objects. Keys that differ
 * only in case are distinct in a Go map (labels, volume paths): those with objects for values (`Volumes`) are flagged
 * too; clients that encode Go values never give either.
 */
export const repeatedKey = (text: string): string | undefined => {
  // The keys of each open object, by folded name; `undefined` for an open array.
  const open: Array<Map<string, Seen> | undefined> = []
  let expectKey = false
  // A key read, whose value is next.
  let pending: { readonly key: string; readonly seen: Seen | undefined; readonly keys: Map<string, Seen> } | undefined
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c === " " || c === "\t" || c === "\n" || c === "\r" || c === ":") continue
    if (pending !== undefined) {
      const { key, keys, seen } = pending
      pending = undefined
      if (seen === undefined) keys.set(fold(key), { spellings: new Set([key]), object: c === "{" })
      else if (seen.spellings.has(key) || c === "n" || (c === "{" && seen.object)) return key
      else {
        seen.spellings.add(key)
        seen.object ||= c === "{"
      }
    }
    if (c === '"') {
      let end = i + 1
      while (text[end] !== '"') end += text[end] === "\\" ? 2 : 1
      const keys = open[open.length - 1]
      if (expectKey && keys !== undefined) {
        const key: string = JSON.parse(text.slice(i, end + 1))
        pending = { key, keys, seen: keys.get(fold(key)) }
      }
      expectKey = false
      i = end
    } else if (c === "{" || c === "[") {
      open.push(c === "{" ? new Map() : undefined)
      expectKey = c === "{"
    } else if (c === "}" || c === "]") {
      open.pop()
      expectKey = false
    } else if (c === ",") {
      expectKey = open[open.length - 1] !== undefined
    }
  }
  return undefined
}
