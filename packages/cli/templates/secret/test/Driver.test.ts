// The driver tested in-process with the swarm manager's request bodies, then with the toolkit's SecretProvider
// conformance suite, in-process and over a Unix socket, told a secret the plugin holds.
import { ConformanceSecret, ConformanceSuites, InProcess } from "@docker-plugin-kit/testkit"
import { ConformanceVitest } from "@docker-plugin-kit/testkit/vitest"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Driver from "../src/Driver.ts"

const secrets = new Map<string, Driver.Secret>([
  ["db_password", { value: "s3cret\n" }],
  ["api_token", { value: "t0ken", services: ["web"] }],
  ["empty", { value: "" }],
  ["largest", { value: new Uint8Array(511_999).fill(0x61) }],
  ["too_large", { value: new Uint8Array(512_000).fill(0x61) }]
])

/** What the manager sends for a task of `docker service create --name SERVICE --secret NAME busybox`. */
const request = (SecretName: string, ServiceName = "app") => ({
  SecretName,
  ServiceID: "k2r7sdyf0b3v",
  ServiceName,
  TaskID: "p8l3q4x1m0n2",
  TaskName: `${ServiceName}.1.p8l3q4x1m0n2`,
  TaskImage: "busybox:latest",
  NodeID: "n5c9w6e2r7t1"
})

const base64 = (text: string) => Buffer.from(text).toString("base64")

describe("the driver, in-process", () => {
  it.effect("answers a held secret's value in base64, and an Err for a name it does not hold", () =>
    Effect.gen(function* () {
      const plugin = yield* InProcess.make(Driver.layer(secrets))
      const get = (body: unknown) => Effect.map(plugin.call("/SecretProvider.GetSecret", body), (r) => r.body)
      expect(yield* get(request("db_password"))).toEqual({ Value: base64("s3cret\n") })
      expect(yield* get(request("db_pasword"))).toEqual({ Err: 'no secret named "db_pasword" here' })
      expect(yield* get({})).toEqual({ Err: "the request names no secret" })
    })
  )

  it.effect("gives a secret with an allow list only to the services it names", () =>
    Effect.gen(function* () {
      const plugin = yield* InProcess.make(Driver.layer(secrets))
      const get = (body: unknown) => Effect.map(plugin.call("/SecretProvider.GetSecret", body), (r) => r.body)
      expect(yield* get(request("api_token", "web"))).toEqual({ Value: base64("t0ken") })
      expect(yield* get(request("api_token", "worker"))).toEqual({
        Err: 'secret "api_token" is not for service "worker"'
      })
      expect(yield* get({ SecretName: "api_token" })).toEqual({
        Err: 'secret "api_token" is not for a task of no named service'
      })
    })
  )

  it.effect("answers only values the swarm manager accepts: 1 byte to 511999 bytes", () =>
    Effect.gen(function* () {
      const plugin = yield* InProcess.make(Driver.layer(secrets))
      const get = (name: string) =>
        Effect.map(plugin.call("/SecretProvider.GetSecret", request(name)), (r) => r.body as Record<string, unknown>)
      expect(yield* get("empty")).toEqual({ Err: 'secret "empty" is empty, and the swarm manager refuses that' })
      const largest = yield* get("largest")
      expect(Buffer.from(String(largest.Value), "base64").length).toBe(Driver.maxBytes)
      expect(yield* get("too_large")).toEqual({
        Err: 'secret "too_large" holds 512000 bytes, and the swarm manager refuses 512000 (500 KiB) or more'
      })
    })
  )

  it("reads the secrets from SECRET_<NAME> and their allow lists from SERVICES_<NAME>", () => {
    const read = Driver.fromEnvironment({
      SECRET_db_password: "s3cret",
      SECRET_api_token: "t0ken",
      SERVICES_api_token: "web, api,,",
      SECRET_: "nameless",
      HOME: "/home/someone"
    })
    expect([...read]).toEqual([
      ["db_password", { value: "s3cret" }],
      ["api_token", { value: "t0ken", services: ["web", "api"] }]
    ])
  })
})

ConformanceVitest.describeSuite(
  "the driver in-process",
  ConformanceSecret.suite,
  () => ConformanceSuites.inProcess(Driver.layer(secrets)),
  { secretName: "db_password" }
)

ConformanceVitest.describeSuite(
  "the driver over a Unix socket",
  ConformanceSecret.suite,
  () => ConformanceSuites.overSocket(Driver.layer(secrets)),
  { secretName: "db_password" }
)
