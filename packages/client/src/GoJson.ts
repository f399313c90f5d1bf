/**
 * Reading response bodies the way the daemon's Go `encoding/json` decoder does: only the first JSON value counts,
 * keys match case-insensitively, `null` at the top is an all-zero answer, and an empty body is `EOF`.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as SchemaAST from "effect/SchemaAST"

const isSpace = (c: string | undefined) => c === " " || c === "\t" || c === "\n" || c === "\r"

/** Index just past the JSON value that starts at `start`, or -1 when it never ends. */
const valueEnd = (text: string, start: number): number => {
  const first = text[start]
  if (first === "{" || first === "[" || first === '"') {
    let depth = 0
    let inString = false
    for (let i = start; i < text.length; i++) {
      const c = text[i]
      if (inString) {
        if (c === "\\") i++
        else if (c === '"') {
          inString = false
          if (depth === 0) return i + 1
        }
      } else if (c === '"') inString = true
      else if (c === "{" || c === "[") depth++
      else if (c === "}" || c === "]") {
        depth--
        if (depth === 0) return i + 1
      }
    }
    return -1
  }
  let i = start
  while (i < text.length && !isSpace(text[i]) && !",]}{[".includes(text[i]!)) i++
  return i
}

/**
 * Parses the first JSON value of a body, ignoring what follows it. An empty or blank body fails with `EOF`.
 *
 * @since 0.1.0
 */
export const firstValue = (text: string): Result.Result<unknown, string> => {
  let start = 0
  while (isSpace(text[start])) start++
  if (start >= text.length) return Result.fail("EOF")
  const end = valueEnd(text, start)
  if (end < 0) return Result.fail("unexpected EOF")
  try {
    return Result.succeed(JSON.parse(text.slice(start, end)))
  } catch (e) {
    return Result.fail(`invalid JSON: ${(e as Error).message}`)
  }
}

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * The value of a field looked up like Go does: any key equal to `name` ignoring case; the last one wins, except a
 * `null` after a value (which leaves a Go string as it was).
 *
 * @since 0.1.0
 */
export const field = (body: unknown, name: string): unknown => {
  if (!isRecord(body)) return undefined
  const lower = name.toLowerCase()
  let value: unknown
  for (const key of Object.keys(body)) {
    // A `null` into a Go string changes nothing: an earlier spelling's value stays.
    if (key.toLowerCase() === lower && (body[key] !== null || value === undefined)) value = body[key]
  }
  return value
}

/**
 * Reshapes a decoded body the way Go's decoder fills the daemon's structs, following the endpoint schema (its wire
 * form): keys match case-insensitively (`{"mountpoint": "/x"}` reads as `Mountpoint`), a missing or `null`
 * required field takes its zero value (`""`, `0`, `false`, `null`), unknown keys are kept for the schema to drop.
 * Type mismatches are left alone, so the schema still reports them.
 *
 * @since 0.1.0
 */
export const normalize = (ast: SchemaAST.AST, value: unknown): unknown => walk(SchemaAST.toEncoded(ast), value, 0)

/** The member of a union that a JSON object or array is read with: its object or its array type. */
const unionMember = (ast: SchemaAST.Union, value: unknown): SchemaAST.AST | undefined =>
  ast.types.find((t) => (isRecord(value) ? t._tag === "Objects" : Array.isArray(value) && t._tag === "Arrays"))

/** Go's zero value for a wire type, or `undefined` when it has none the schema would accept. */
const zero = (ast: SchemaAST.AST, depth: number): unknown => {
  if (depth > 32) return undefined
  switch (ast._tag) {
    case "String":
      return ""
    case "Number":
      return 0
    case "Boolean":
      return false
    case "Null":
      return null
    case "Suspend":
      return zero(ast.thunk(), depth + 1)
    case "Union":
      return ast.types.some((t) => t._tag === "Null") ? null : undefined
    case "Arrays":
      return ast.elements.length === 0 ? [] : undefined
    case "Objects":
      return walk(ast, {}, depth + 1)
    default:
      return undefined
  }
}

// A map's key is any string: `out[key] = value` with `__proto__` would set the prototype and drop the entry.
const setOwn = (out: Record<string, unknown>, key: string, value: unknown): void => {
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true })
}

/** A base64 string: Go's `[]byte`, a slice, which `null` empties. */
const isBytes = (ast: SchemaAST.AST): boolean =>
  ast._tag === "String" &&
  (ast.checks ?? []).some(
    (c) => (c.annotations?.representation as { id?: unknown } | undefined)?.id === "effect/schema/isBase64"
  )

/** Whether the wire value of this type cannot be `null`: Go's zero value stands for it then. */
const neverNull = (ast: SchemaAST.AST): boolean =>
  ast._tag !== "Union" && ast._tag !== "Null" && ast._tag !== "Unknown" && ast._tag !== "Any"

/** Whether Go's decoder leaves a field of this type as it was on `null` (not a pointer, slice, map or interface). */
const ignoresNull = (ast: SchemaAST.AST): boolean => neverNull(ast) && !isBytes(ast)

const walk = (ast: SchemaAST.AST, value: unknown, depth: number): unknown => {
  if (depth > 32) return value
  if (value === null && neverNull(ast)) {
    // `null` into a Go value that is not a pointer, slice or map leaves it at its zero value.
    return zero(ast, depth) ?? value
  }
  switch (ast._tag) {
    case "Suspend":
      return walk(ast.thunk(), value, depth + 1)
    case "Union": {
      const member = unionMember(ast, value)
      return member === undefined ? value : walk(member, value, depth + 1)
    }
    case "Arrays": {
      const rest = ast.rest[0]
      if (!Array.isArray(value)) return value
      return value.map((v, i) => {
        const element = ast.elements[i] ?? rest
        return element === undefined ? v : walk(element, v, depth + 1)
      })
    }
    case "Objects": {
      if (!isRecord(value)) return value
      const out: Record<string, unknown> = {}
      const known = new Map<string, SchemaAST.PropertySignature>()
      for (const ps of ast.propertySignatures) {
        if (typeof ps.name === "string") known.set(ps.name.toLowerCase(), ps)
      }
      const index = ast.indexSignatures[0]
      for (const key of Object.keys(value)) {
        const ps = known.get(key.toLowerCase())
        if (ps !== undefined) {
          // Several spellings of one field: the last one in the document wins, as in Go, except a `null` that
          // leaves the field as an earlier spelling set it.
          if (value[key] === null && ignoresNull(ps.type) && Object.hasOwn(out, ps.name as string)) continue
          out[ps.name as string] = walk(ps.type, value[key], depth + 1)
        } else {
          setOwn(out, key, index === undefined ? value[key] : walk(index.type, value[key], depth + 1))
        }
      }
      for (const ps of ast.propertySignatures) {
        const name = ps.name as string
        if (typeof ps.name !== "string" || Object.hasOwn(out, name) || SchemaAST.isOptional(ps.type)) continue
        const filled = zero(ps.type, depth + 1)
        if (filled !== undefined) out[name] = filled
      }
      return out
    }
    default:
      return value
  }
}

// Go's encoder escapes these inside strings; they cannot occur outside strings in JSON text.
const goEscapes: Record<string, string> = {
  "&": "\\u0026",
  "<": "\\u003c",
  ">": "\\u003e",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029"
}

const sortMaps = (ast: SchemaAST.AST, value: unknown, depth: number): unknown => {
  if (depth > 32 || value === null || typeof value !== "object") return value
  switch (ast._tag) {
    case "Suspend":
      return sortMaps(ast.thunk(), value, depth + 1)
    case "Union": {
      const member = unionMember(ast, value)
      return member === undefined ? value : sortMaps(member, value, depth + 1)
    }
    case "Arrays":
      return Array.isArray(value)
        ? value.map((v, i) => {
            const element = ast.elements[i] ?? ast.rest[0]
            return element === undefined ? v : sortMaps(element, v, depth + 1)
          })
        : value
    case "Objects": {
      if (!isRecord(value)) return value
      const index = ast.indexSignatures[0]
      const fields = new Map(ast.propertySignatures.map((ps) => [ps.name, ps.type] as const))
      // Struct fields keep their declared order; a map (Go map[string]T) is written with its keys sorted.
      const keys = fields.size === 0 && index !== undefined ? Object.keys(value).sort() : Object.keys(value)
      const out: Record<string, unknown> = {}
      for (const key of keys) {
        const type = fields.get(key) ?? index?.type
        setOwn(out, key, type === undefined ? value[key] : sortMaps(type, value[key], depth + 1))
      }
      return out
    }
    default:
      return value
  }
}

/**
 * Writes an encoded request body as the daemon's `json.Encoder` does: compact, map keys sorted, `&`, `<`, `>`,
 * U+2028 and U+2029 escaped, one trailing newline.
 *
 * @since 0.1.0
 */
export const stringify = (ast: SchemaAST.AST, encoded: unknown): string =>
  `${escapeHtml(JSON.stringify(sortMaps(SchemaAST.toEncoded(ast), encoded, 0)))}\n`

/**
 * Escapes JSON text the way Go's encoder does (`&`, `<`, `>`, U+2028, U+2029 as `\\uXXXX`).
 *
 * @since 0.1.0
 */
export const escapeHtml = (json: string): string => json.replace(/[&<>\u2028\u2029]/g, (c) => goEscapes[c]!)
