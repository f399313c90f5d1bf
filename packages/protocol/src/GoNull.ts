/**
 * Reading a request's `null`s the way a Go plugin does. Go's decoder takes `null` for any slice, map, `[]byte` or
 * pointer (it reads as nil), and for any other field it leaves the zero value. A schema written after the daemon's
 * encoding refuses `null` where the daemon never sends one (an `omitempty` field is left out instead), so a caller
 * that writes `"RequestBody": null` would be refused by this toolkit where any Go plugin accepts it.
 *
 * `relax` rewrites such `null`s, following the request schema (its wire form): on an optional field it removes the
 * key, and on a required slice or map it gives an empty one. A `null` on a required string, number or boolean is
 * left for the schema to report, because Go would silently read an empty name there, and a clear error is more
 * useful to a caller.
 *
 * @since 0.1.0
 */
import * as SchemaAST from "effect/SchemaAST"

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

/** Whether the wire type takes `null` as it is. */
const takesNull = (ast: SchemaAST.AST): boolean => {
  switch (ast._tag) {
    case "Null":
    case "Unknown":
    case "Any":
      return true
    case "Union":
      return ast.types.some(takesNull)
    case "Suspend":
      return takesNull(ast.thunk())
    default:
      return false
  }
}

/** The empty value of a required slice (`[]`) or map (`{}`), which is what Go reads `null` into. */
const emptyOf = (ast: SchemaAST.AST): unknown => {
  if (ast._tag === "Arrays" && ast.elements.length === 0) return []
  if (ast._tag === "Objects" && ast.propertySignatures.length === 0) return {}
  return undefined
}

/** The member of a union that a JSON object or array is read with: its object or its array type. */
const unionMember = (ast: SchemaAST.Union, value: unknown): SchemaAST.AST | undefined =>
  ast.types.find((t) => (isRecord(value) ? t._tag === "Objects" : Array.isArray(value) && t._tag === "Arrays"))

// A map's key is any string: `out[key] = value` with `__proto__` would set the prototype and drop the entry.
const setOwn = (out: Record<string, unknown>, key: string, value: unknown): void => {
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true })
}

const absent = Symbol("absent")

/** The value with its `null`s relaxed, `absent` for a field to leave out; the same value when nothing changed. */
const walk = (ast: SchemaAST.AST, value: unknown, optional: boolean, depth: number): unknown => {
  if (depth > 32) return value
  if (value === null) {
    if (takesNull(ast)) return value
    if (optional) return absent
    return emptyOf(ast) ?? value
  }
  switch (ast._tag) {
    case "Suspend":
      return walk(ast.thunk(), value, optional, depth + 1)
    case "Union": {
      const member = unionMember(ast, value)
      return member === undefined ? value : walk(member, value, false, depth + 1)
    }
    case "Arrays": {
      if (!Array.isArray(value)) return value
      let changed = false
      const out = value.map((v, i) => {
        const element = ast.elements[i] ?? ast.rest[0]
        const relaxed = element === undefined ? v : walk(element, v, false, depth + 1)
        if (relaxed !== v) changed = true
        return relaxed
      })
      return changed ? out : value
    }
    case "Objects": {
      if (!isRecord(value)) return value
      const fields = new Map<string, SchemaAST.AST>()
      for (const ps of ast.propertySignatures) if (typeof ps.name === "string") fields.set(ps.name, ps.type)
      const index = ast.indexSignatures[0]
      let changed = false
      const out: Record<string, unknown> = {}
      for (const key of Object.keys(value)) {
        const field = fields.get(key)
        const type = field ?? index?.type
        const relaxed =
          type === undefined
            ? value[key]
            : walk(type, value[key], field !== undefined && SchemaAST.isOptional(field), depth + 1)
        if (relaxed !== value[key]) changed = true
        if (relaxed !== absent) setOwn(out, key, relaxed)
      }
      return changed ? out : value
    }
    default:
      return value
  }
}

/**
 * `value` (a parsed request body) with every `null` a Go plugin would read as nil or empty rewritten for `schema`'s
 * AST: removed from an optional field, an empty array or map in a required one. `undefined` when there was no such
 * `null`, so a caller knows that relaxing cannot change the outcome of decoding.
 *
 * @since 0.1.0
 */
export const relax = (ast: SchemaAST.AST, value: unknown): unknown => {
  const relaxed = walk(SchemaAST.toEncoded(ast), value, false, 0)
  return relaxed === value || relaxed === absent ? undefined : relaxed
}
