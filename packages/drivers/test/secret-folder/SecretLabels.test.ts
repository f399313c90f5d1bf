/**
 * SecretLabels: the key (label `key`, else the name), the services allowed (`services`) and reuse (`reuse`), read
 * from a GetSecret request without a disk.
 */
import { SecretLabels } from "@docker-plugin-kit/drivers"
import type { SecretProvider } from "@docker-plugin-kit/protocol"
import { describe, expect, it } from "@effect/vitest"
import * as Result from "effect/Result"

const request = (
  labels: Record<string, string> | undefined,
  more: Partial<SecretProvider.GetSecretRequest> = {}
): SecretProvider.GetSecretRequest => ({
  SecretName: "app_db_pw",
  ServiceName: "web",
  ...(labels === undefined ? {} : { SecretLabels: labels }),
  ...more
})

const wanted = (labels: Record<string, string> | undefined, more: Partial<SecretProvider.GetSecretRequest> = {}) =>
  Result.getOrThrow(SecretLabels.read(request(labels, more)))

const failure = (labels: Record<string, string> | undefined, more: Partial<SecretProvider.GetSecretRequest> = {}) => {
  const read = Result.flatMap(SecretLabels.read(request(labels, more)), (w) =>
    SecretLabels.checkAccess(w, more.ServiceName ?? "web")
  )
  return Result.isFailure(read) ? read.failure : undefined
}

describe("SecretLabels", () => {
  it("reads the key from the label key, else from the secret's name", () => {
    expect(wanted(undefined).key).toEqual({ text: "app_db_pw", segments: ["app_db_pw"] })
    expect(wanted({ key: "db/password" }).key).toEqual({ text: "db/password", segments: ["db", "password"] })
    // Other labels (a stack's, a team's) are no business of the driver.
    expect(wanted({ "com.docker.stack.namespace": "app", team: "infra" })).toEqual({
      secret: "app_db_pw",
      key: { text: "app_db_pw", segments: ["app_db_pw"] },
      services: undefined,
      reuse: true
    })
  })

  it("refuses a bad key naming where it came from, and a request without a name", () => {
    expect(failure({ key: "../../etc/shadow" })?.message).toBe(
      'secret "app_db_pw": invalid label key "../../etc/shadow": it has a ".." segment; a key stays under the secrets folder'
    )
    // A key label given empty (`--label key`) is a mistake, not a request for the name.
    expect(failure({ key: "" })?.message).toBe('secret "app_db_pw": invalid label key "": it is empty')
    expect(failure(undefined, { SecretName: "../x" })?.message).toBe(
      'secret "../x": invalid SecretName "../x": it has a ".." segment; a key stays under the secrets folder'
    )
    const { SecretName: _, ...nameless } = request(undefined)
    const read = SecretLabels.read(nameless)
    expect(Result.isFailure(read) && read.failure.message).toBe('secret "": invalid SecretName "": it is empty')
    // A key label does not stand in for the name: the manager always sends one, and the messages name the secret by it.
    const keyed = SecretLabels.read({ ...nameless, SecretLabels: { key: "db/password" } })
    expect(Result.isFailure(keyed) && keyed.failure.message).toBe('secret "": invalid SecretName "": it is empty')
  })

  it("reads reuse: true by default, false when the label says so, and refuses any other spelling", () => {
    expect(wanted(undefined).reuse).toBe(true)
    expect(wanted({ reuse: "true" }).reuse).toBe(true)
    expect(wanted({ reuse: "false" }).reuse).toBe(false)
    for (const value of ["no", "False", "0", ""]) {
      const error = failure({ reuse: value })
      expect(error?._tag).toBe("InvalidSecretLabel")
      expect(error?.message).toBe(
        `secret "app_db_pw": invalid label reuse ${JSON.stringify(value)}: expected true or false`
      )
    }
  })

  it("reads services as trimmed names, empty entries left out", () => {
    expect(SecretLabels.parseServices("web")).toEqual(["web"])
    expect(SecretLabels.parseServices(" web , api,,worker ")).toEqual(["web", "api", "worker"])
    expect(SecretLabels.parseServices("")).toEqual([])
    expect(SecretLabels.parseServices(" , ")).toEqual([])
  })

  it("gives the value to every service without a services label, else only to those it names", () => {
    expect(failure(undefined)).toBeUndefined()
    expect(failure({ services: "api,web" })).toBeUndefined()
    expect(failure({ services: "api, worker" })?.message).toBe(
      'secret "app_db_pw" is not given to service "web": its label services allows api, worker'
    )
    // Exact names: swarm's service names are case-sensitive, and a prefix is another service.
    expect(failure({ services: "Web" })?._tag).toBe("SecretAccessDenied")
    expect(failure({ services: "web-admin" })?._tag).toBe("SecretAccessDenied")
    // A list emptied by mistake keeps the secret closed.
    expect(failure({ services: "" })?.message).toBe(
      'secret "app_db_pw" is not given to service "web": its label services allows no service'
    )
  })

  it("refuses a task without a service name when services is set", () => {
    const read = Result.flatMap(SecretLabels.read(request({ services: "web" })), (w) =>
      SecretLabels.checkAccess(w, undefined)
    )
    expect(Result.isFailure(read) && read.failure.message).toBe(
      'secret "app_db_pw" is not given to a task without a service name: its label services allows web'
    )
    expect(Result.isSuccess(SecretLabels.checkAccess(wanted(undefined), undefined))).toBe(true)
  })
})
