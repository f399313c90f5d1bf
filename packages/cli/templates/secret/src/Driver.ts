// The secret provider: swarm secrets created with `docker secret create --driver __NAME__ NAME` get their values
// from a table given at start (main.ts reads it from SECRET_<NAME> environment variables). A secret may list the
// services allowed to have it; a name it does not hold, a service not allowed, or a value the swarm manager would
// refuse is answered with an `Err` that says why.
import { DriverError, SecretProvider } from "@docker-plugin-kit/protocol"
import { Effect, Layer } from "effect"

/** A secret the plugin holds. */
export interface Secret {
  /** Its value: the bytes a task reads from /run/secrets/NAME (a string is taken as UTF-8). */
  readonly value: string | Uint8Array
  /** The services (by name) allowed to have it; every service when absent. */
  readonly services?: ReadonlyArray<string>
}

/** The swarm manager refuses a value that is empty or of 500 KiB (512000 bytes) or more: the task fails to start. */
export const maxBytes = SecretProvider.maxValueSize - 1

/**
 * The secrets held in environment variables: `SECRET_<NAME>` is the value of the secret NAME (as given to
 * `docker secret create`, case kept), and `SERVICES_<NAME>` (comma-separated, optional) the services allowed it.
 */
export const fromEnvironment = (env: Readonly<Record<string, string | undefined>>): ReadonlyMap<string, Secret> => {
  const secrets = new Map<string, Secret>()
  for (const [key, value] of Object.entries(env)) {
    if (!key.startsWith("SECRET_") || key === "SECRET_" || value === undefined) continue
    const name = key.slice("SECRET_".length)
    const services = env[`SERVICES_${name}`]
    secrets.set(
      name,
      services === undefined
        ? { value }
        : {
            value,
            services: services
              .split(",")
              .map((s) => s.trim())
              .filter((s) => s !== "")
          }
    )
  }
  return secrets
}

const refuse = (message: string) => Effect.fail(new DriverError({ message }))

/** The driver, answering from `secrets`. */
export const layer = (secrets: ReadonlyMap<string, Secret>) =>
  Layer.sync(SecretProvider.SecretProvider, () =>
    SecretProvider.make({
      getSecret: ({ SecretName, ServiceName, TaskName }) =>
        Effect.gen(function* () {
          if (SecretName === undefined) return yield* refuse("the request names no secret")
          const secret = secrets.get(SecretName)
          if (secret === undefined) return yield* refuse(`no secret named ${JSON.stringify(SecretName)} here`)
          // The request says which task, service and node the secret is for (every field absent when empty).
          if (secret.services !== undefined && (ServiceName === undefined || !secret.services.includes(ServiceName))) {
            const whom =
              ServiceName === undefined ? "a task of no named service" : `service ${JSON.stringify(ServiceName)}`
            return yield* refuse(`secret ${JSON.stringify(SecretName)} is not for ${whom}`)
          }
          const bytes = typeof secret.value === "string" ? Buffer.from(secret.value, "utf8") : Buffer.from(secret.value)
          if (bytes.length === 0) {
            return yield* refuse(`secret ${JSON.stringify(SecretName)} is empty, and the swarm manager refuses that`)
          }
          if (bytes.length > maxBytes) {
            return yield* refuse(
              `secret ${JSON.stringify(SecretName)} holds ${bytes.length} bytes, and the swarm manager refuses 512000 (500 KiB) or more`
            )
          }
          // DoNotReuse: true would make the manager ask again for every task instead of keeping the value.
          return { Value: bytes.toString("base64") }
        }).pipe(
          // The manager says why a secret is left out only in its debug log (the task fails with "secret ID not
          // found"): the plugin's log is where the reason shows.
          Effect.tapError((e) => Effect.logWarning(`GetSecret for task ${TaskName ?? "(unnamed)"}: ${e.message}`))
        )
    })
  )
