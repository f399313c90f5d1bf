/**
 * Shared helpers for the wire tests: exact round trips of captured payloads, field-naming failures, and property
 * round trips derived from an API declaration.
 */
import type { Endpoint, PluginApi } from "../src/index.ts"
import { WireCodec } from "../src/index.ts"
import { expect, it } from "@effect/vitest"
import { Result } from "effect"

/**
 * Payloads of one endpoint. A JSON request is the body text exactly as the daemon sends it (trailing newline,
 * `\u0026`-style escapes, `""` for an empty body); a stream request is its query string. Responses are plugin
 * answers (absent for stream responses).
 */
export interface EndpointFixture {
  readonly requests: ReadonlyArray<string>
  readonly responses?: ReadonlyArray<string>
}

/** One fixture per endpoint of an API: the compiler refuses a table that misses one. */
export type Fixtures<A extends PluginApi.Any> = { readonly [K in keyof A["endpoints"]]: EndpointFixture }

/** Parses a body as the server does (empty body = `{}`). */
export const parseBody = (text: string): unknown => {
  const parsed = WireCodec.parseBody(text)
  if (Result.isFailure(parsed)) throw new Error(parsed.failure)
  return parsed.success
}

/** Parses a query string as the server does. */
export const parseQuery = (query: string): Record<string, string> => Object.fromEntries(new URLSearchParams(query))

/**
 * Decodes `input` with `schema`, re-encodes it and asserts the result serialises to exactly the same JSON text as
 * the input (same keys, same order, same `null`s). Returns the decoded value.
 */
export const expectRoundTrip = <S extends Endpoint.WireSchema>(schema: S, input: unknown): S["Type"] => {
  const decoded = WireCodec.decoder(schema)(input)
  if (Result.isFailure(decoded)) throw new Error(`decoding failed: ${decoded.failure}`)
  const encoded = WireCodec.encoder(schema)(decoded.success)
  if (Result.isFailure(encoded)) throw new Error(`encoding failed: ${encoded.failure}`)
  expect(JSON.stringify(encoded.success)).toBe(JSON.stringify(input))
  return decoded.success
}

/** Asserts that decoding fails and that the message contains every fragment (typically `Field.Path: ...`). */
export const expectDecodeFailure = (schema: Endpoint.WireSchema, input: unknown, ...fragments: Array<string>) => {
  const decoded = WireCodec.decoder(schema)(input)
  expect(Result.isFailure(decoded)).toBe(true)
  if (Result.isFailure(decoded)) for (const fragment of fragments) expect(decoded.failure).toContain(fragment)
}

/** Asserts that encoding a driver value fails with a message containing every fragment. */
export const expectEncodeFailure = (schema: Endpoint.WireSchema, value: unknown, ...fragments: Array<string>) => {
  const encoded = WireCodec.encoder(schema)(value as never)
  expect(Result.isFailure(encoded)).toBe(true)
  if (Result.isFailure(encoded)) for (const fragment of fragments) expect(encoded.failure).toContain(fragment)
}

const requestSchema = (endpoint: Endpoint.Any): Endpoint.WireSchema =>
  endpoint.request._tag === "Json" ? endpoint.request.schema : endpoint.request.query

/**
 * For every endpoint of `api`: the captured requests and plugin responses of `fixtures` round-trip exactly.
 */
export const describeFixtures = <A extends PluginApi.Any>(api: A, fixtures: Fixtures<A>) => {
  for (const [key, endpoint] of Object.entries(api.endpoints) as Array<[string, Endpoint.Any]>) {
    const fixture = (fixtures as Record<string, EndpointFixture>)[key]!
    it(`${endpoint.path}: daemon requests round-trip exactly`, () => {
      expect(fixture.requests.length).toBeGreaterThan(0)
      for (const text of fixture.requests) {
        const input = endpoint.request._tag === "Json" ? parseBody(text) : parseQuery(text)
        expectRoundTrip(requestSchema(endpoint), input)
      }
    })
    if (endpoint.response._tag === "Json") {
      const schema = endpoint.response.schema
      it(`${endpoint.path}: plugin responses round-trip exactly`, () => {
        expect(fixture.responses?.length ?? 0).toBeGreaterThan(0)
        for (const text of fixture.responses ?? []) expectRoundTrip(schema, parseBody(text))
      })
    } else {
      it(`${endpoint.path}: streams its response as ${endpoint.response.contentType}`, () => {
        expect(fixture.responses).toBeUndefined()
      })
    }
  }
}

// `JSON.stringify` escapes a surrogate only when it is unpaired.
const loneSurrogateEscape = /\\ud[89a-f][0-9a-f]{2}/i

/**
 * The JSON round trip `encode → JSON text → decode → encode` is stable, and decoding gives back the value (as JSON
 * sees it).
 */
export const jsonRoundTrip =
  <S extends Endpoint.WireSchema>(schema: S) =>
  (value: S["Type"]) => {
    const encode = WireCodec.encoder(schema)
    const first = encode(value)
    if (Result.isFailure(first)) throw new Error(`encoding failed: ${first.failure}`)
    const text = JSON.stringify(first.success)
    // V8's JSON.parse can swap an object key written as a lone-surrogate escape (`"\ud800"`) for another key of an
    // earlier-shaped object (`[{"":1,"\ud800":2},{"":3,"\\":4}]` parses with `"\\"` twice, Node 24.21). The daemon
    // never sends one (Go's encoder writes U+FFFD for invalid UTF-16), so such generated values prove nothing here.
    if (loneSurrogateEscape.test(text)) return
    const decoded = WireCodec.decoder(schema)(JSON.parse(text))
    if (Result.isFailure(decoded)) throw new Error(`decoding ${text} failed: ${decoded.failure}`)
    expect(decoded.success).toEqual(JSON.parse(JSON.stringify(value)))
    const second = encode(decoded.success)
    if (Result.isFailure(second)) throw new Error(`re-encoding failed: ${second.failure}`)
    expect(JSON.stringify(second.success)).toBe(text)
  }

/** Property round trips for the request (or query) and JSON response schema of every endpoint of `api`. */
export const describeProperties = (api: PluginApi.Any, runs = 100) => {
  for (const endpoint of Object.values(api.endpoints) as Array<Endpoint.Any>) {
    const request = requestSchema(endpoint)
    it.prop(`${endpoint.path}: request encode → JSON → decode`, [request], ([value]) => jsonRoundTrip(request)(value), {
      arbitrary: { runs }
    })
    if (endpoint.response._tag === "Json") {
      const response = endpoint.response.schema
      it.prop(
        `${endpoint.path}: response encode → JSON → decode`,
        [response],
        ([value]) => jsonRoundTrip(response)(value),
        { arbitrary: { runs } }
      )
    }
  }
}
