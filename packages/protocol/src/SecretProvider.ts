/**
 * The SecretProvider plugin API (`/SecretProvider.GetSecret`, manifest entry `secretprovider`): swarm secrets
 * created with `docker secret create --driver NAME` are fetched from the plugin when a task is dispatched.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Schema from "effect/Schema"
import { Base64 } from "./Authorization.ts"
import * as Endpoint from "./Endpoint.ts"
import * as PluginApi from "./PluginApi.ts"

/**
 * A published port of the requesting service (swarmkit enums: `Protocol` 0 tcp, 1 udp, 2 sctp; `PublishMode`
 * 0 ingress, 1 host). Zero values are absent.
 *
 * @since 0.1.0
 */
export const PortConfig = Schema.Struct({
  Name: Schema.optionalKey(Schema.String),
  Protocol: Schema.optionalKey(Schema.Int),
  TargetPort: Schema.optionalKey(Schema.Int),
  PublishedPort: Schema.optionalKey(Schema.Int),
  PublishMode: Schema.optionalKey(Schema.Int)
})

/**
 * The endpoint spec of the requesting service (`Mode` 0 = VIP, 1 = DNSRR). Zero values are absent.
 *
 * @since 0.1.0
 */
export const EndpointSpec = Schema.Struct({
  Mode: Schema.optionalKey(Schema.Int),
  Ports: Schema.optionalKey(Schema.Array(PortConfig))
})

/**
 * `GetSecret` request: the secret and the task it is for. Every field is absent when empty.
 *
 * @since 0.1.0
 */
export const GetSecretRequest = Schema.Struct({
  SecretName: Schema.optionalKey(Schema.String),
  SecretLabels: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  ServiceHostname: Schema.optionalKey(Schema.String),
  ServiceID: Schema.optionalKey(Schema.String),
  ServiceName: Schema.optionalKey(Schema.String),
  ServiceLabels: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  TaskID: Schema.optionalKey(Schema.String),
  TaskName: Schema.optionalKey(Schema.String),
  TaskImage: Schema.optionalKey(Schema.String),
  NodeID: Schema.optionalKey(Schema.String),
  ServiceEndpointSpec: Schema.optionalKey(EndpointSpec)
})

/**
 * @since 0.1.0
 */
export type GetSecretRequest = typeof GetSecretRequest.Type

/**
 * swarmkit's `MaxSecretSize` (500 KiB): the swarm manager takes a driver's value of 1 byte up to, not including, this
 * many, and leaves any other out of the task's assignment (see `GetSecretResponse`).
 *
 * @since 0.1.0
 */
export const maxValueSize = 500 * 1024

/**
 * `GetSecret` response: `Value` is the secret's bytes in base64; `DoNotReuse: true` makes the manager ask again for
 * every task. The swarm manager refuses a value that is empty (or absent) or of 500 KiB (512000 bytes) or more, as
 * it does an `Err` or a status other than 200: it leaves the secret out of the task's assignment (saying why only in
 * its debug log), and the task fails to start with `unable to get secret from secret store: secret ID not found`.
 *
 * @since 0.1.0
 */
export const GetSecretResponse = Schema.Struct({
  Value: Schema.optionalKey(Base64),
  DoNotReuse: Schema.optionalKey(Schema.Boolean)
})

/**
 * @since 0.1.0
 */
export type GetSecretResponse = typeof GetSecretResponse.Type

/**
 * The SecretProvider API declaration.
 *
 * @since 0.1.0
 */
export const Api = PluginApi.make({
  prefix: "SecretProvider",
  subsystem: "secretprovider",
  interfaceType: "docker.secretprovider/1.0",
  endpoints: {
    getSecret: Endpoint.json("GetSecret", GetSecretRequest, GetSecretResponse, {
      description: "Return the value of a driver-backed swarm secret for a task."
    })
  }
})

/**
 * The driver interface a secret provider plugin implements.
 *
 * @since 0.1.0
 */
export type Driver = PluginApi.Driver<typeof Api>

/**
 * The service through which a secret provider is provided to the server.
 *
 * @since 0.1.0
 */
export class SecretProvider extends Context.Service<SecretProvider, Driver>()(Api.serviceKey) {}

/**
 * Builds a SecretProvider driver from exactly its methods: an unknown or misspelt method does not compile.
 *
 * @since 0.1.0
 */
export const make = PluginApi.driverConstructor(Api)
