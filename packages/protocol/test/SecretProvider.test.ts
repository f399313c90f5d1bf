import { describe, expect, it } from "@effect/vitest"
import { SecretProvider } from "../src/index.ts"
import {
  describeFixtures,
  describeProperties,
  expectDecodeFailure,
  expectEncodeFailure,
  type Fixtures,
  parseBody
} from "./support.ts"

const fixtures: Fixtures<typeof SecretProvider.Api> = {
  getSecret: {
    requests: [
      '{"SecretName":"db-password","SecretLabels":{"env":"prod"},"ServiceHostname":"web-1","ServiceID":"m2v7k3x9q1w5","ServiceName":"web","ServiceLabels":{"tier":"front"},"TaskID":"x9q1m2v7k3w5","TaskName":"web.1.x9q1m2v7k3w5","TaskImage":"nginx:latest","NodeID":"n7c0a4b2d9e1","ServiceEndpointSpec":{"Mode":1,"Ports":[{"Name":"http","TargetPort":80,"PublishedPort":8080}]}}\n',
      '{"SecretName":"api-token","ServiceID":"s1","ServiceName":"api","TaskID":"t1","TaskName":"api.n7c0a4b2d9e1.t1","TaskImage":"api:2","NodeID":"n7c0a4b2d9e1","ServiceEndpointSpec":{"Ports":[{"Protocol":1,"TargetPort":53,"PublishMode":1}]}}\n',
      '{"SecretName":"plain"}\n'
    ],
    responses: ['{"Value":"c2VjcmV0"}', '{"Value":"c2VjcmV0","DoNotReuse":true}', "{}"]
  }
}

describe("SecretProvider wire", () => {
  describeFixtures(SecretProvider.Api, fixtures)

  it("uses the secretprovider manifest entry", () => {
    expect(SecretProvider.Api.subsystem).toBe("secretprovider")
    expect(SecretProvider.Api.endpoints.getSecret.path).toBe("/SecretProvider.GetSecret")
  })

  it("an Err field in a response is not part of the success body", () => {
    const decoded = parseBody('{"Value":"c2VjcmV0","Err":"","DoNotReuse":false}')
    expect(Object.keys(SecretProvider.GetSecretResponse.fields)).not.toContain("Err")
    expect(decoded).toHaveProperty("Err")
  })

  it("bad payloads fail with a message naming the field", () => {
    expectDecodeFailure(
      SecretProvider.GetSecretRequest,
      { SecretName: "s", ServiceEndpointSpec: { Ports: [{ TargetPort: "80" }] } },
      "ServiceEndpointSpec.Ports.0.TargetPort"
    )
    expectDecodeFailure(SecretProvider.GetSecretRequest, { SecretLabels: { env: null } }, "SecretLabels.env")
    expectEncodeFailure(SecretProvider.GetSecretResponse, { Value: "plain text secret" }, "Value")
    expectEncodeFailure(SecretProvider.GetSecretResponse, { Value: "c2VjcmV0", DoNotReuse: "yes" }, "DoNotReuse")
  })
})

describe("SecretProvider properties", () => {
  describeProperties(SecretProvider.Api)
})
