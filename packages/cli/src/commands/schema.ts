/**
 * `dpk schema [ENDPOINT]`: list every endpoint, or print one endpoint's request and response as JSON Schema.
 *
 * @since 0.1.0
 */
import { Apis, JsonSchema, PluginApi } from "@docker-plugin-kit/protocol"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"

/**
 * The command.
 *
 * @since 0.1.0
 */
export const command = Command.make(
  "schema",
  {
    endpoint: Argument.String("endpoint").pipe(
      Argument.withDescription("An endpoint such as VolumeDriver.Create"),
      Argument.optional
    )
  },
  ({ endpoint }) =>
    Option.match(endpoint, {
      onNone: () =>
        Console.log(
          [
            JsonSchema.activateName,
            ...Apis.all.flatMap((api) => PluginApi.endpointList(api).map((e) => `${e.api}.${e.method}`))
          ].join("\n")
        ),
      onSome: (name) => {
        const document = JsonSchema.forEndpointName(name)
        return document === undefined
          ? Effect.fail(new Error(`unknown endpoint "${name}"; run "dpk schema" for the list`))
          : Console.log(JSON.stringify(document, null, 2))
      }
    })
).pipe(Command.withDescription("List the endpoints, or print one as JSON Schema"))
