/**
 * The error texts the daemon builds from a plugin's answers, as its users see them (`Error response from daemon: …`,
 * task errors, daemon logs), so tests and tools can show or compare the same text.
 *
 * Where they come from (moby 20.10.24 and 28.x, `pkg/plugins` and the per-API adapters):
 *
 * - A non-200 answer: `pkg/plugins` writes `<method>: <Err of the body, or the raw body>`, `<method>` being the
 *   string the adapter called with: `VolumeDriver.Create` (no slash) for most APIs, but `/SecretProvider.GetSecret`
 *   and, from Engine 28, `/MetricsCollector.StartMetrics` (with their slash), and
 *   `GraphDriver.ApplyDiff?id=<id>&parent=<parent>` (with its query, unescaped).
 * - A 200 answer with a non-empty error field: the network and IPAM adapters write `remote: <Err>`; the secret
 *   adapter passes the text to Go's `fmt.Errorf` as a format string (a `%` in it comes out as Go prints a verb
 *   without its operand); the others show the text bare.
 * - Outer wrappers some callers add are left to them: authorization (`plugin NAME failed with error: …`), metrics
 *   before Engine 28 (`could not start metrics plugin: …`), volume operations (`create NAME: …`).
 *
 * @since 0.1.0
 */
import type { CallError } from "./ClientError.ts"

/** Endpoints the daemon calls with their leading slash (swarmkit's secret driver; Engine 28's metrics adapter). */
const slashed: ReadonlySet<string> = new Set([
  "/SecretProvider.GetSecret",
  "/MetricsCollector.StartMetrics",
  "/MetricsCollector.StopMetrics"
])

/**
 * The method string the daemon calls `path` with, and prefixes its errors with: `VolumeDriver.Get`,
 * `/SecretProvider.GetSecret`, `GraphDriver.ApplyDiff?id=ID&parent=PARENT` (the query as the daemon formats it,
 * unescaped).
 *
 * @since 0.1.0
 */
export const method = (path: string): string => {
  const mark = path.indexOf("?")
  const bare = mark < 0 ? path : path.slice(0, mark)
  const name = slashed.has(bare) ? bare : bare.replace(/^\//, "")
  if (mark < 0) return name
  const query = [...new URLSearchParams(path.slice(mark + 1))].map(([k, v]) => `${k}=${v}`).join("&")
  return `${name}?${query}`
}

const flags = "#0+- "

/** Go's `parsenum`: the end of a run of digits from `i`. */
const digitsEnd = (format: string, i: number): number => {
  while (i < format.length && format[i]! >= "0" && format[i]! <= "9") i++
  return i
}

/**
 * What Go's `fmt.Errorf(text)` makes of a text given as its format with no operands: `%%` is `%`, every other verb
 * prints as `%!v(MISSING)` (`%!v(BADINDEX)` with an explicit index), a `*` width or precision as `%!(BADWIDTH)` or
 * `%!(BADPREC)`, and a trailing `%` as `%!(NOVERB)`.
 *
 * @since 0.1.0
 */
export const goErrorf = (format: string): string => {
  let out = ""
  let i = 0
  const end = format.length
  // Go's argNumber with no operands: `[n]` consumes up to its `]` (or only the `[`) and spoils the operand.
  const argNumber = (): { readonly after: boolean; readonly good: boolean } => {
    if (format[i] !== "[") return { after: false, good: true }
    const close = end - i < 3 ? -1 : format.indexOf("]", i + 1)
    if (close < 0) {
      i += 1
      return { after: false, good: false }
    }
    const ok = close > i + 1 && digitsEnd(format, i + 1) === close
    i = close + 1
    return { after: ok, good: false }
  }
  while (i < end) {
    const percent = format.indexOf("%", i)
    if (percent < 0) {
      out += format.slice(i)
      break
    }
    out += format.slice(i, percent)
    i = percent + 1
    while (i < end && flags.includes(format[i]!)) i++
    let good = true
    let index = argNumber()
    good &&= index.good
    if (i < end && format[i] === "*") {
      i++
      out += "%!(BADWIDTH)"
      index = { after: false, good: true }
    } else {
      const widthEnd = digitsEnd(format, i)
      if (index.after && widthEnd > i) good = false
      i = widthEnd
    }
    if (i + 1 < end && format[i] === ".") {
      i++
      if (index.after) good = false
      index = argNumber()
      good &&= index.good
      if (i < end && format[i] === "*") {
        i++
        out += "%!(BADPREC)"
        index = { after: false, good: true }
      } else {
        i = digitsEnd(format, i)
      }
    }
    if (!index.after) {
      index = argNumber()
      good &&= index.good
    }
    if (i >= end) {
      out += "%!(NOVERB)"
      break
    }
    const verb = String.fromCodePoint(format.codePointAt(i)!)
    i += verb.length
    out += verb === "%" ? "%" : `%!${verb}(${good ? "MISSING" : "BADINDEX"})`
  }
  return out
}

/**
 * The text the daemon shows for a failed call (see the module notes), built from the client's typed error.
 *
 * @since 0.1.0
 */
export const message = (error: CallError): string => {
  switch (error._tag) {
    case "RemoteError": {
      const name = error.method.replace(/^\//, "")
      if (name.startsWith("NetworkDriver.") || name.startsWith("IpamDriver.")) return `remote: ${error.err}`
      return name.startsWith("SecretProvider.") ? goErrorf(error.err) : error.err
    }
    // The daemon returns the JSON decoder's error as it is, with no method.
    case "BadResponse":
      return error.reason
    default:
      return error.message
  }
}
