/**
 * Decoders and encoders for wire bodies, built once per schema, with error messages that name the offending
 * field (`Name: Expected string, got 42`). Shared by the server, the client and the conformance suites.
 *
 * @since 0.1.0
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaAST from "effect/SchemaAST"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaJITCompiler from "effect/schema/SchemaJITCompiler"
import type { WireSchema } from "./Endpoint.ts"
import * as GoNull from "./GoNull.ts"

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/**
 * How much of one issue's message is kept: the value received is part of it, and a body may hold a large one.
 *
 * @since 0.1.0
 */
export const maxIssueLength = 200

const shorten = (message: string): string =>
  message.length <= maxIssueLength ? message : `${message.slice(0, maxIssueLength - 1)}…`

/**
 * Renders a schema issue as `Field.Path: message; Other: message`, each message with the value received where the
 * issue reports one (`Name: Expected string, got 42`), cut at `maxIssueLength`.
 *
 * @since 0.1.0
 */
export const formatIssue = (issue: SchemaIssue.Issue): string =>
  formatter(issue)
    .issues.map((i) => {
      const path = (i.path ?? []).map((p) => (typeof p === "object" ? String(p.key) : String(p))).join(".")
      return shorten(path === "" ? i.message : `${path}: ${i.message}`)
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

// Every issue, each with the value that was received: a message names the field and what it held.
const options = { errors: "all", reportInput: true } as const

/**
 * How a decoder or encoder is built. `compiled: true` has Schema generate the checking code of the schema
 * (`SchemaJITCompiler`) before the codec is built, so each call runs a compiled check instead of the AST
 * interpreter in a fiber of its own: about 4x faster for `VolumeDriver.Get` (see bench/README.md, step 4). Only
 * the first issue is found by the compiled code; invalid input falls back to the interpreter, so the messages
 * (every issue, by field) are the same. Where code generation is unavailable (a runtime that forbids
 * `new Function`), the interpreter is kept. Compiling is a property of the schema's AST: it also speeds up other
 * codecs of the same schema built afterwards.
 *
 * @since 0.1.0
 */
export interface BuildOptions {
  readonly compiled?: boolean
}

const compile = (ast: SchemaAST.AST): void => {
  try {
    SchemaJITCompiler.enable(ast)
  } catch {
    // The interpreter stays in place.
  }
}

/**
 * Builds the decoder of a wire schema (call once, reuse per request).
 *
 * @since 0.1.0
 */
export const decoder = <S extends WireSchema>(schema: S, build: BuildOptions = {}): Decoder<S["Type"]> => {
  if (build.compiled === true) compile(schema.ast)
  const decode = Schema.decodeUnknownResult(schema as unknown as Schema.Codec<S["Type"], S["Encoded"]>)
  return (input) => Result.mapError(decode(input, options), (e) => formatIssue(e.issue))
}

/**
 * Builds the decoder of a request schema, reading `null`s as a Go plugin does (`GoNull.relax`): a `null` in an
 * optional field, or in a required slice or map, is accepted where the schema itself refuses it. Valid input takes
 * the plain decoder's path; only input it refuses is relaxed and decoded again, so this costs nothing per call.
 *
 * @since 0.1.0
 */
export const requestDecoder = <S extends WireSchema>(schema: S, build: BuildOptions = {}): Decoder<S["Type"]> => {
  const decode = decoder(schema, build)
  return (input) => {
    const decoded = decode(input)
    if (Result.isSuccess(decoded)) return decoded
    const relaxed = GoNull.relax(schema.ast, input)
    return relaxed === undefined ? decoded : decode(relaxed)
  }
}

/**
 * Builds the encoder of a wire schema (call once, reuse per response).
 *
 * @since 0.1.0
 */
export const encoder = <S extends WireSchema>(schema: S, build: BuildOptions = {}): Encoder<S["Type"]> => {
  // Encoding runs the schema backwards: the flipped AST is the one to compile.
  if (build.compiled === true) compile(SchemaAST.flip(schema.ast))
  const encode = Schema.encodeUnknownResult(schema as unknown as Schema.Codec<S["Type"], S["Encoded"]>)
  return (value) => Result.mapError(encode(value, options), (e) => formatIssue(e.issue))
}

// JSON's own whitespace (RFC 8259): other characters `String.prototype.trim` drops, such as a vertical tab or a
// form feed, make a body garbage, not blank.
const blank = /^[ \t\n\r]*$/

/**
 * Parses a body as the daemon would send it: an empty (or blank) body means "no arguments" and reads as `{}`.
 * Blank means JSON whitespace only.
 *
 * @since 0.1.0
 */
export const parseBody = (text: string): Result.Result<unknown, string> => {
  if (text.length === 0) return Result.succeed({})
  try {
    return Result.succeed(JSON.parse(text))
  } catch (e) {
    // Blank is checked only here: `JSON.parse` skips whitespace itself, and most bodies end with a newline.
    if (blank.test(text)) return Result.succeed({})
    return Result.fail(`request body is not valid JSON (${(e as Error).message})`)
  }
}
