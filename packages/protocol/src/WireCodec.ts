/**
 * Decoders and encoders for wire bodies, built once per schema, with error messages that name the offending
 * field (`Name: Expected string, got 42`). Shared by the server, the client and the conformance suites.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import type { WireSchema } from "./Endpoint.ts"

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/**
 * Renders a schema issue as `Field.Path: message; Other: message`.
 *
 * @since 0.1.0
 */
export const formatIssue = (issue: SchemaIssue.Issue): string =>
  formatter(issue)
    .issues.map((i) => {
      const path = (i.path ?? []).map((p) => (typeof p === "object" ? String(p.key) : String(p))).join(".")
      return path === "" ? i.message : `${path}: ${i.message}`
    })
    .join("; ")

/**
 * A pure decoder: unknown JSON value in, typed value or readable message out.
 *
 * @since 0.1.0
 */
export type Decoder<A> = (input: unknown) => Result.Result<A, string>

/**
 * A pure encoder: typed value in, JSON-ready value or readable message out.
 *
 * @since 0.1.0
 */
export type Encoder<A> = (value: A) => Result.Result<unknown, string>

const options = { errors: "all" } as const

/**
 * Builds the decoder of a wire schema (call once, reuse per request).
 *
 * @since 0.1.0
 */
export const decoder = <S extends WireSchema>(schema: S): Decoder<S["Type"]> => {
  const decode = Schema.decodeUnknownResult(schema as unknown as Schema.Codec<S["Type"], S["Encoded"]>)
  return (input) => Result.mapError(decode(input, options), (e) => formatIssue(e.issue))
}

/**
 * Builds the encoder of a wire schema (call once, reuse per response).
 *
 * @since 0.1.0
 */
export const encoder = <S extends WireSchema>(schema: S): Encoder<S["Type"]> => {
  const encode = Schema.encodeUnknownResult(schema as unknown as Schema.Codec<S["Type"], S["Encoded"]>)
  return (value) => Result.mapError(encode(value, options), (e) => formatIssue(e.issue))
}

/**
 * Parses a body as the daemon would send it: an empty (or blank) body means "no arguments" and reads as `{}`.
 *
 * @since 0.1.0
 */
export const parseBody = (text: string): Result.Result<unknown, string> => {
  if (text.length === 0) return Result.succeed({})
  try {
    return Result.succeed(JSON.parse(text))
  } catch (e) {
    // Blank is checked only here: `JSON.parse` skips whitespace itself, and most bodies end with a newline.
    if (text.trim().length === 0) return Result.succeed({})
    return Result.fail(`request body is not valid JSON (${(e as Error).message})`)
  }
}
