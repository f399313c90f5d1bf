/**
 * The generic conformance suite of any plugin API, derived from its declaration alone: every endpoint answers a
 * well-formed request (generated from the request schema, then again without the fields the daemon leaves out when
 * empty) with a body that decodes with the response schema, as the daemon reads it, or a clean failure in the API's
 * own error field; malformed requests get a non-200 or an error answer, never a hang-up;
 * a required endpoint is never missing; an optional one answers 404 or a valid body; and the plugin still answers
 * afterwards. Semantic suites (`ConformanceVolume`, ...) check behaviour on top of it.
 *
 * The generated requests name things the plugin does not have (`dpk-conformance-…` for free-form strings, generated
 * values for formatted ones), so well-formed calls mostly get clean failures; they may still create something (a
 * volume, a pool): probe a plugin under test, not one holding data that matters.
 *
 * @since 0.1.0
 */
import { type Endpoint, Manifest, PluginApi, WireCodec } from "@docker-plugin-kit/protocol"
import { GoJson, type PluginClient } from "@docker-plugin-kit/client"
import * as Arbitrary from "effect/Arbitrary"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Conformance from "./Conformance.ts"

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const nameOf = (endpoint: Endpoint.Any) => `${endpoint.api}.${endpoint.method}`

/** The schema a request is generated from: the JSON body's, or the query's of a streamed request. */
const requestSchema = (endpoint: Endpoint.Any): Endpoint.WireSchema =>
  endpoint.request._tag === "Json" ? endpoint.request.schema : endpoint.request.query

/**
 * Every top-level string field that accepts any string replaced by a fresh conformance name: a plugin then sees
 * `dpk-conformance-…` names and IDs (harmless, recognisable in its logs) instead of generated ones such as `/` or
 * `..`. Fields with a format of their own (addresses, enumerations) keep their generated value.
 */
const withConformanceNames = (endpoint: Endpoint.Any, sample: unknown, unique: (label: string) => string): unknown => {
  if (!isRecord(sample)) return sample
  const decode = WireCodec.decoder(requestSchema(endpoint))
  let out: Record<string, unknown> = sample
  for (const [key, value] of Object.entries(sample)) {
    if (typeof value !== "string") continue
    const renamed = { ...out, [key]: unique(key.toLowerCase()) }
    if (Result.isSuccess(decode(renamed))) out = renamed
  }
  return out
}

/**
 * A well-formed request of `endpoint` as it goes on the wire (encoded), generated from its schema with a fixed
 * seed so that a report can be reproduced; free-form strings are names from `unique` when given.
 *
 * @since 0.1.0
 */
export const sampleRequest = (endpoint: Endpoint.Any, unique?: (label: string) => string): Effect.Effect<unknown> =>
  Effect.flatMap(
    Effect.orDie(Arbitrary.sampleEffect(Arbitrary.schema(requestSchema(endpoint)), { count: 1, seed: endpoint.path })),
    ([value]) => {
      const encoded = WireCodec.encoder(requestSchema(endpoint))(value)
      if (Result.isFailure(encoded)) {
        return Effect.die(new Error(`${nameOf(endpoint)}: cannot encode a generated request: ${encoded.failure}`))
      }
      return Effect.succeed(
        unique === undefined ? encoded.success : withConformanceNames(endpoint, encoded.success, unique)
      )
    }
  )

/** A JSON value of another type than `value`, so that the field no longer matches its schema. */
const wrongType = (value: unknown): unknown => (typeof value === "string" ? 42 : "not-what-the-schema-says")

/**
 * Malformed requests of an endpoint, as `[label, path, body]`: a body that is not JSON, and (when the request has
 * fields) every field of a well-formed request given a value of the wrong type. A streamed request gets its query
 * left out instead. Endpoints the daemon calls with an empty body get none: a plugin may rightly ignore the body.
 *
 * @since 0.1.0
 */
export const malformedRequests = (
  endpoint: Endpoint.Any,
  sample: unknown
): ReadonlyArray<readonly [label: string, path: string, body: string]> => {
  if (endpoint.request._tag === "Stream") return [["no query parameters", endpoint.path, ""]]
  if (endpoint.request.emptyBody) return []
  const wrong: ReadonlyArray<readonly [string, string, string]> =
    isRecord(sample) && Object.keys(sample).length > 0
      ? [
          [
            "fields of the wrong type",
            endpoint.path,
            `${JSON.stringify(Object.fromEntries(Object.entries(sample).map(([k, v]) => [k, wrongType(v)])))}\n`
          ]
        ]
      : []
  return [["a body that is not JSON", endpoint.path, '{"'], ...wrong]
}

/** The path and body text of a well-formed request (a streamed request carries its sample in the query). */
const wellFormed = (endpoint: Endpoint.Any, sample: unknown): readonly [path: string, body: string | undefined] => {
  if (endpoint.request._tag === "Stream") {
    const query = new URLSearchParams()
    for (const [k, v] of Object.entries(isRecord(sample) ? sample : {})) {
      if (v !== undefined && v !== null) query.set(k, String(v))
    }
    return [`${endpoint.path}?${query}`, ""]
  }
  return [endpoint.path, endpoint.request.emptyBody ? undefined : `${JSON.stringify(sample)}\n`]
}

/**
 * The keys of a well-formed request that the daemon leaves out when they are empty (Go's `omitempty`): keys the
 * request schema lets be absent but not `null`. A key that accepts `null` is one the daemon always sends, a nil map
 * or slice being encoded as `null`. Empty when leaving them all out would not decode.
 *
 * @since 0.1.0
 */
export const omittableKeys = (endpoint: Endpoint.Any, sample: unknown): ReadonlyArray<string> => {
  if (endpoint.request._tag !== "Json" || !isRecord(sample)) return []
  const decode = WireCodec.decoder(endpoint.request.schema)
  const keys = Object.keys(sample).filter(
    (key) =>
      Result.isSuccess(decode(withoutKeys(sample, [key]))) && Result.isFailure(decode({ ...sample, [key]: null }))
  )
  return keys.length > 0 && Result.isSuccess(decode(withoutKeys(sample, keys))) ? keys : []
}

const withoutKeys = (record: Record<string, unknown>, keys: ReadonlyArray<string>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(record).filter(([k]) => !keys.includes(k)))

/** The declared top-level fields of a JSON answer. */
const fieldNames = (schema: Endpoint.WireSchema): ReadonlyArray<string> =>
  schema.ast._tag === "Objects" ? schema.ast.propertySignatures.map((ps) => String(ps.name)) : []

/**
 * Every spelling of an answer's error field that Go reads into it, in order (keys in any case; a `null` leaves the
 * field as it was, so it is left out): the last one is the error the daemon sees. No response schema declares the
 * error field, so `GoJson.normalize` does not read it.
 *
 * @since 0.1.0
 */
export const errorSpellings = (
  body: unknown,
  errorField: string
): ReadonlyArray<readonly [key: string, value: unknown]> =>
  isRecord(body)
    ? Object.entries(body).filter(([key, value]) => key.toLowerCase() === errorField.toLowerCase() && value !== null)
    : []

/**
 * A failed check when a 200 answer holds something the daemon cannot decode that the response schema does not
 * see: Go fails the whole call on a value of the wrong type, in the error field too (which no response schema
 * declares), and reads keys in any case, nested ones too, as `GoJson.normalize` does for the client.
 */
const undecodable = (
  exchange: PluginClient.Exchange,
  endpoint: Endpoint.Any
): Effect.Effect<never, Conformance.CheckFailed> | undefined => {
  const { body } = exchange.response
  if (endpoint.response._tag !== "Json" || !isRecord(body)) return undefined
  const name = nameOf(endpoint)
  const spellings = errorSpellings(body, endpoint.errorField)
  const notString = spellings.find(([, value]) => typeof value !== "string")
  if (notString !== undefined) {
    return Conformance.fail(
      exchange,
      `${name} answered 200 with "${notString[0]}": ${JSON.stringify(notString[1])}, which the daemon cannot read as a string: the call fails with a JSON error`
    )
  }
  const err = spellings.at(-1)?.[1]
  if (typeof err === "string" && err !== "") return undefined
  const { schema } = endpoint.response
  const decode = WireCodec.decoder(schema)
  const read = (value: unknown) => decode(GoJson.normalize(schema.ast, value))
  const whole = read(body)
  // With the exact names wrong already, `expectSuccess` reports that.
  if (Result.isSuccess(whole) || Result.isFailure(decode(body))) return undefined
  // Each key on its own after the exact-case fields, so that it wins as a later spelling does in Go.
  const names = fieldNames(schema)
  const exact = Object.fromEntries(Object.entries(body).filter(([key]) => names.includes(key)))
  const wrong = Object.keys(body).flatMap((key) => {
    const decoded = read({ ...exact, [key]: body[key] })
    if (Result.isSuccess(decoded)) return []
    const field = names.find((n) => n.toLowerCase() === key.toLowerCase()) ?? key
    return [`"${key}" (${field === key ? "its keys read in any case" : `read as "${field}"`}): ${decoded.failure}`]
  })
  return Conformance.fail(
    exchange,
    `${name} answered 200 with ${wrong.length > 0 ? wrong.join("; ") : `keys the daemon reads otherwise: ${whole.failure}`}`
  )
}

/** Fails a required endpoint that answered 404: the daemon would find it missing. */
const notMissing = (
  exchange: PluginClient.Exchange,
  endpoint: Endpoint.Any
): Effect.Effect<void, Conformance.CheckFailed> =>
  exchange.response.status === 404 && !endpoint.optional
    ? Conformance.fail(exchange, `${nameOf(endpoint)} is not implemented (404), but the daemon requires it`)
    : Effect.void

/**
 * Judges the answer to a well-formed request: 404 only for an optional endpoint; a 200 with a non-empty error in
 * the endpoint's error field, or another status with `Err`, is a clean failure (the request named things the
 * plugin does not have); any other 200 must decode with the response schema and carry no error in the field the
 * daemon ignores. A 200 answer (unless only its status counts) must also decode as the daemon reads it: the error
 * field a string, keys spelt in another case (nested ones too) holding what their field takes. A streamed answer is
 * accepted once its status is 200.
 *
 * @since 0.1.0
 */
export const judgeAnswer = (
  exchange: PluginClient.Exchange,
  endpoint: Endpoint.Any
): Effect.Effect<void, Conformance.CheckFailed> => {
  const { status, body } = exchange.response
  if (status === 404) return notMissing(exchange, endpoint)
  if (status !== 200) return Conformance.expectCleanFailure(exchange, endpoint)
  if (endpoint.response._tag === "Stream") return Effect.void
  if (endpoint.response.statusOnly !== true) {
    const unreadable = undecodable(exchange, endpoint)
    if (unreadable !== undefined) return unreadable
  }
  const own = isRecord(body) ? body[endpoint.errorField] : undefined
  if (typeof own === "string" && own !== "") return Effect.void
  return Effect.asVoid(Conformance.expectSuccess(exchange, endpoint))
}

/**
 * Judges the answer to a malformed request: anything but a success (a non-200, or a 200 carrying an error in the
 * endpoint's error field); a hang-up has already failed in `Conformance.send`. A 404 of a required endpoint fails
 * only with `reportMissing` (when no other check reports it).
 *
 * @since 0.1.0
 */
export const judgeRejection = (
  exchange: PluginClient.Exchange,
  endpoint: Endpoint.Any,
  label: string,
  reportMissing = true
): Effect.Effect<void, Conformance.CheckFailed> => {
  const { status, body, text } = exchange.response
  if (status === 404) return reportMissing ? notMissing(exchange, endpoint) : Effect.void
  if (status !== 200) return Effect.void
  const own = isRecord(body) ? body[endpoint.errorField] : undefined
  if (typeof own === "string" && own !== "") return Effect.void
  const shown = text.length > 80 ? `${text.slice(0, 80)}…` : text
  return Conformance.fail(exchange, `${nameOf(endpoint)} accepted ${label}: 200 ${shown || "(empty body)"}`)
}

/**
 * One name per field label for the whole run: the network a well-formed `CreateNetwork` creates is the one the
 * following `DeleteNetwork` names, so probing a plugin leaves as little behind as the API allows.
 */
const stableNames = new WeakMap<Conformance.Context, Map<string, string>>()
const stableUnique =
  (context: Conformance.Context) =>
  (label: string): string => {
    const names = stableNames.get(context) ?? new Map<string, string>()
    stableNames.set(context, names)
    const name = names.get(label) ?? context.unique(label)
    names.set(label, name)
    return name
  }

const answersCheck = (endpoint: Endpoint.Any): Conformance.Check =>
  Conformance.check(
    `${nameOf(endpoint)} answers a well-formed request${endpoint.optional ? " (or 404: optional)" : ""}`,
    {
      why: endpoint.optional
        ? "An optional endpoint answers 404 when absent (the daemon then uses its default) or a body it can decode."
        : "The daemon calls it, leaving out fields it sends only when set, and decodes the whole answer, keys in any case; errors must be in the API's error field."
    },
    (context) =>
      Effect.gen(function* () {
        const sample = yield* sampleRequest(endpoint, stableUnique(context))
        const [path, body] = wellFormed(endpoint, sample)
        yield* judgeAnswer(yield* Conformance.send(context, path, body), endpoint)
        // The daemon's own requests mostly lack some of these (a secret without labels, a service without a
        // hostname, a layer without a parent), and a generated request rarely does.
        const omitted = omittableKeys(endpoint, sample)
        if (omitted.length === 0 || !isRecord(sample)) return
        const [barePath, bareBody] = wellFormed(endpoint, withoutKeys(sample, omitted))
        yield* Effect.mapError(
          Effect.flatMap(Conformance.send(context, barePath, bareBody), (exchange) => judgeAnswer(exchange, endpoint)),
          (e) =>
            new Conformance.CheckFailed({
              reason: `without ${omitted.join(", ")}: ${e.reason}`,
              ...(e.request === undefined ? {} : { request: e.request }),
              ...(e.response === undefined ? {} : { response: e.response })
            })
        )
      })
  )

const rejectsCheck = (endpoint: Endpoint.Any): Conformance.Check =>
  Conformance.check(
    `${nameOf(endpoint)} rejects malformed requests with an answer`,
    {
      why: "A bad request must get a non-200 answer with Err (or the API's error field), never a dropped connection: the daemon reports a hang-up as the plugin being unreachable."
    },
    (context) =>
      Effect.gen(function* () {
        // A missing endpoint is reported once, by the well-formed request, when there is one.
        const reportMissing = endpoint.response._tag === "Stream"
        for (const [label, path, body] of malformedRequests(
          endpoint,
          yield* sampleRequest(endpoint, stableUnique(context))
        )) {
          yield* judgeRejection(yield* Conformance.send(context, path, body), endpoint, label, reportMissing)
        }
      })
  )

const activateCheck = (api: PluginApi.Any, when: "first" | "afterwards"): Conformance.Check =>
  Conformance.check(
    when === "first" ? `Plugin.Activate lists ${api.subsystem}` : `the plugin still answers Plugin.Activate afterwards`,
    {
      why:
        when === "first"
          ? "The daemon activates a v1 plugin with an empty POST and uses it only for what Implements lists."
          : "No request, well-formed or not, may take the plugin down."
    },
    (context) =>
      Effect.gen(function* () {
        const exchange = yield* Conformance.send(context, Manifest.Activate)
        const manifest = yield* Conformance.expectSuccess(exchange, Manifest.Activate)
        if (!(manifest.Implements ?? []).includes(api.subsystem)) {
          yield* Conformance.fail(
            exchange,
            `Implements ${JSON.stringify(manifest.Implements)} does not list "${api.subsystem}"`
          )
        }
      })
  )

/**
 * The generic suite of an API: Activate, "answers a well-formed request" per endpoint, "rejects malformed requests"
 * per endpoint whose request has a body to get wrong, then Activate again.
 *
 * @since 0.1.0
 */
export const suite = (api: PluginApi.Any): Conformance.Suite => ({
  api,
  name: "generic",
  checks: [
    activateCheck(api, "first"),
    // A streamed answer (ReadLogs may follow forever) is only probed with requests it must reject.
    ...PluginApi.endpointList(api).flatMap((endpoint) =>
      endpoint.response._tag === "Stream" ? [] : [answersCheck(endpoint)]
    ),
    // Malformed requests last: a plugin they take down fails only them and the final Activate.
    ...PluginApi.endpointList(api).flatMap((endpoint) =>
      endpoint.request._tag === "Json" && endpoint.request.emptyBody ? [] : [rejectsCheck(endpoint)]
    ),
    activateCheck(api, "afterwards")
  ]
})
