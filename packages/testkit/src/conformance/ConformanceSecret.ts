/**
 * The SecretProvider conformance suite: what the swarm manager checks in a `GetSecret` answer beyond its shape (the
 * generic suite checks that). swarmkit validates a driver's value as it does one given to `docker secret create`
 * (`manager/dispatcher/assignments.go`, `api/validation/secrets.go`).
 *
 * @since 0.1.0
 */
import { GoJson } from "@docker-plugin-kit/client"
import { SecretProvider, WireCodec } from "@docker-plugin-kit/protocol"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Conformance from "./Conformance.ts"
import * as ConformanceGeneric from "./ConformanceGeneric.ts"

const E = SecretProvider.Api.endpoints

/**
 * swarmkit's `MaxSecretSize` (500 KiB): the manager accepts a value of 1 byte up to, not including, this many
 * (`SecretProvider.maxValueSize`).
 *
 * @since 0.1.0
 */
export const maxSecretSize = SecretProvider.maxValueSize

const decodeResponse = WireCodec.decoder(SecretProvider.GetSecretResponse)

/** What the manager sends for the first task of `docker service create --secret NAME busybox`. */
const taskRequest = (context: Conformance.Context): SecretProvider.GetSecretRequest => {
  const service = context.unique("service")
  const task = context.unique("task")
  return {
    SecretName: context.unique("secret"),
    ServiceID: context.unique("service-id"),
    ServiceName: service,
    TaskID: task,
    TaskName: `${service}.1.${task}`,
    TaskImage: "busybox:latest",
    NodeID: context.unique("node")
  }
}

/** The error text the client reads from a GetSecret answer (the last spelling of the field), if any. */
const errorOf = (body: unknown) => ConformanceGeneric.errorSpellings(body, E.getSecret.errorField).at(-1)?.[1]

/**
 * The value the manager reads from an answer without an error, or `undefined` when the answer is a failure or one
 * the generic suite reports (the manager fails the call then too).
 */
const secretValue = (body: unknown): Buffer | undefined => {
  const err = errorOf(body)
  if (err !== undefined && err !== "") return undefined
  // Read as the client reads it (keys in any case; `Value` is a Go byte slice, which an absent key or `null` empties).
  const read = decodeResponse(GoJson.normalize(SecretProvider.GetSecretResponse.ast, body))
  return Result.isFailure(read) ? undefined : Buffer.from(read.success.Value ?? "", "base64")
}

/** The value of a 200 answer as the manager reads it (see `secretValue`), or `undefined` for a failure. */
const answered = (response: { readonly status: number; readonly body: unknown }): Buffer | undefined =>
  response.status === 200 ? secretValue(response.body) : undefined

/** How a failed answer reads: its status, and its error text when it has one. */
const failureOf = (response: { readonly status: number; readonly body: unknown }): string => {
  const err = errorOf(response.body)
  return `status ${response.status}${typeof err === "string" && err !== "" ? `, ${JSON.stringify(err)}` : ""}`
}

/**
 * Every SecretProvider check.
 *
 * @since 0.1.0
 */
export const checks: ReadonlyArray<Conformance.Check> = [
  Conformance.check(
    "GetSecret answers a value the swarm manager accepts (1 byte to under 500 KiB)",
    {
      why: "The manager refuses a driver's value that is empty or of 500 KiB (512000 bytes) or more: it leaves the secret out (saying why only in its debug log) and every task using it fails to start. The check asks for a fresh name unless told a secret the plugin holds (`dpk probe --secret-name NAME`); a plugin that fails a fresh name is not judged."
    },
    (context) =>
      Effect.gen(function* () {
        const named = context.options.secretName
        const request = { ...taskRequest(context), ...(named === undefined ? {} : { SecretName: named }) }
        const exchange = yield* Conformance.send(context, E.getSecret, request)
        const size = answered(exchange.response)?.length
        if (size === undefined) {
          if (named === undefined) return
          return yield* Conformance.fail(
            exchange,
            `SecretProvider.GetSecret failed for secret "${named}", which the plugin was said to hold (${failureOf(exchange.response)}): every task using it fails to start`
          )
        }
        if (size > 0 && size < maxSecretSize) return
        yield* Conformance.fail(
          exchange,
          `SecretProvider.GetSecret answered secret "${request.SecretName}" with a Value of ${size} bytes: the swarm manager refuses ${size === 0 ? "an empty value" : `a value of ${maxSecretSize} bytes (500 KiB) or more`}, so every task using the secret fails to start`
        )
      })
  ),
  Conformance.check(
    "GetSecret of another name does not answer the named secret's value (with a secret named)",
    {
      why: "The manager gives a task the value GetSecret answers for the name the task's secret has: a provider that ignores SecretName (or falls back to a default secret) hands that one value to every secret. Judged only when told a secret the plugin holds: a fresh name then must not get its value."
    },
    (context) =>
      Effect.gen(function* () {
        const named = context.options.secretName
        if (named === undefined) return
        const held = answered(
          (yield* Conformance.send(context, E.getSecret, { ...taskRequest(context), SecretName: named })).response
        )
        // A named secret the plugin does not answer is reported by the check above.
        if (held === undefined || held.length === 0) return
        const request = taskRequest(context)
        const exchange = yield* Conformance.send(context, E.getSecret, request)
        if (answered(exchange.response)?.equals(held) === true) {
          yield* Conformance.fail(
            exchange,
            `SecretProvider.GetSecret answered secret "${request.SecretName}", which the plugin does not hold, with the value of secret "${named}": tasks get it for any secret of this driver`
          )
        }
      })
  )
]

/**
 * The suite.
 *
 * @since 0.1.0
 */
export const suite: Conformance.Suite = { api: SecretProvider.Api, checks }
