/**
 * Libraries for writing each kind of plugin, one folder per plugin API (as go-plugins-helpers has one package
 * per API): what every author of that kind of plugin would otherwise write by hand.
 *
 * @since 0.1.0
 */
export * as AuthzAnswer from "./authz/AuthzAnswer.ts"
export * as AuthzRequest from "./authz/AuthzRequest.ts"
export * as ContainerSpec from "./authz/ContainerSpec.ts"
export * as EngineRoute from "./authz/EngineRoute.ts"
