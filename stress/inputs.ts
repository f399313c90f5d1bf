/**
 * Requests for fuzzing one endpoint, generated from its request Schema: valid ones, near-valid ones (one field
 * given a wrong type, dropped, or joined by `__proto__`/`constructor`), and bytes no daemon would send (random,
 * cut short, invalid UTF-8, nested a hundred thousand deep). Whether a request is valid is decided by decoding it
 * here with the same Schema, so the expectation never drifts from the protocol.
 */
import { type Endpoint, WireCodec } from "@docker-plugin-kit/protocol"
import * as Arbitrary from "effect/Arbitrary"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"

/** One fuzz request and what a correct plugin answers to it. */
export interface Input {
  readonly kind: string
  readonly body: Buffer
  /** `valid`: any answer; `invalid`: a non-200 or an error field; its `field`, when known, named in the answer. */
  readonly expect: { readonly _tag: "valid" } | { readonly _tag: "invalid"; readonly field?: string }
}

const wrongValues: ReadonlyArray<unknown> = [1, -0.5, true, null, [], {}, "", "x".repeat(300), [1, "a"], { a: 1 }]

const pick = <A>(items: ReadonlyArray<A>): A => items[Math.floor(Math.random() * items.length)]!

const randomBytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(Math.random() * 256)))

/** The first key of the path where decoding failed, as the server's message names it. */
const failedField = (message: string, fields: ReadonlyArray<string>): string | undefined =>
  fields.find((f) => message.includes(`["${f}"]`) || message.includes(`"${f}"`) || message.includes(f))

/** A generator of inputs for one JSON endpoint. */
export const generator = async (endpoint: Endpoint.Any, count: number): Promise<(() => Input) | undefined> => {
  if (endpoint.request._tag !== "Json" || endpoint.response._tag !== "Json") return undefined
  // A call the daemon sends without a body (List, Capabilities, ...) takes no input: any body may be ignored.
  const ignoresBody = endpoint.request.emptyBody
  const schema = endpoint.request.schema
  const decode = WireCodec.decoder(schema)
  const encode = Schema.encodeUnknownSync(schema as Schema.Codec<unknown, unknown>)
  const samples = (await Effect.runPromise(
    Arbitrary.sampleEffect(Arbitrary.schema(schema), { count: Math.min(count, 500) })
  )) as ReadonlyArray<unknown>
  const valid = samples.map((s) => encode(s) as Record<string, unknown>)
  const fields = Object.keys((schema as unknown as { fields?: Record<string, unknown> }).fields ?? {})
  const judge = (kind: string, value: unknown): Input => {
    const decoded = decode(value)
    const body = Buffer.from(JSON.stringify(value))
    if (Result.isSuccess(decoded) || ignoresBody) return { kind, body, expect: { _tag: "valid" } }
    const field = failedField(decoded.failure, fields)
    return { kind, body, expect: field === undefined ? { _tag: "invalid" } : { _tag: "invalid", field } }
  }
  const base = (): Record<string, unknown> => ({ ...(valid.length > 0 ? pick(valid) : {}) })
  const cases: ReadonlyArray<() => Input> = [
    () => judge("valid", base()),
    () => {
      const value = base()
      if (fields.length > 0) value[pick(fields)] = pick(wrongValues)
      return judge("wrong type", value)
    },
    () => {
      const value = base()
      if (fields.length > 0) delete value[pick(fields)]
      return judge("field dropped", value)
    },
    () => {
      // JSON.parse makes "__proto__" an own key; a plugin must not let it reach an object's prototype.
      const inner = JSON.stringify(base()).slice(1, -1)
      const text = `{"__proto__":{"polluted":"yes"},"constructor":{"prototype":{"polluted":"yes"}}${inner === "" ? "" : `,${inner}`}}`
      return { ...judge("__proto__ keys", JSON.parse(text)), body: Buffer.from(text) }
    },
    () => ({ ...judge("empty body", {}), body: Buffer.alloc(0) }),
    () => {
      const body = randomBytes(1 + Math.floor(Math.random() * 200))
      // Judged as the server reads it: bytes that happen to be blank (read as `{}`, valid for the APIs whose fields
      // are all optional, such as authorization) or JSON are that, not garbage.
      const read = WireCodec.parseBody(body.toString("utf8"))
      return { ...judge("random bytes", Result.isSuccess(read) ? read.success : []), body }
    },
    () => {
      const text = JSON.stringify(base())
      const cut = Buffer.from(text.slice(0, Math.max(1, Math.floor(Math.random() * (text.length - 1)))))
      return { ...judge("cut short", []), body: cut }
    },
    () => {
      const text = JSON.stringify(base())
      const at = text.indexOf('"', 1)
      return {
        kind: "invalid UTF-8",
        body: Buffer.concat([
          Buffer.from(text.slice(0, at + 1)),
          Buffer.from([0xff, 0xfe, 0xc3]),
          Buffer.from(text.slice(at + 1))
        ]),
        expect: { _tag: "valid" }
      }
    },
    () => ({ ...judge("nested deep", [[[]]]), body: Buffer.from(`${"[".repeat(1000)}${"]".repeat(1000)}`) }),
    () => {
      const text = pick(["[]", "1", '"s"', "null", "true"])
      return { ...judge("wrong JSON type", JSON.parse(text)), body: Buffer.from(text) }
    }
  ]
  return () => pick(cases)()
}
