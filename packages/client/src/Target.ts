/**
 * What a client talks to: a plugin name (found through discovery), a socket path, or a URL; and how to open a
 * client for it.
 *
 * @since 0.1.0
 */
import { SpecFile } from "@docker-plugin-kit/protocol"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import { BadSpecFile, type DiscoveryError } from "./ClientError.ts"
import * as Discovery from "./Discovery.ts"
import * as NodeTransport from "./NodeTransport.ts"
import * as PluginClient from "./PluginClient.ts"

/**
 * A plugin to talk to.
 *
 * @since 0.1.0
 */
export type Target =
  | {
      readonly _tag: "Name"
      readonly name: string
      readonly folders: Discovery.Folders
      /** Wait for the plugin to appear like the daemon does (up to ~15 s), instead of failing at once. */
      readonly wait: boolean
    }
  | { readonly _tag: "Address"; readonly spec: SpecFile.Spec }

/**
 * A plugin looked up by name.
 *
 * @since 0.1.0
 */
export const name = (
  plugin: string,
  options: { readonly folders?: Discovery.Folders; readonly wait?: boolean } = {}
): Target => ({
  _tag: "Name",
  name: plugin,
  folders: options.folders ?? Discovery.daemonFolders,
  wait: options.wait ?? true
})

/**
 * A plugin listening on a Unix socket.
 *
 * @since 0.1.0
 */
export const socket = (path: string): Target => ({
  _tag: "Address",
  spec: { url: `unix://${path}`, address: { _tag: "Unix", path }, tls: { insecureSkipVerify: true } }
})

/**
 * A plugin at a URL (`unix://`, `tcp://`, `https://`), treated like a `.spec` file (no certificate verification).
 *
 * @since 0.1.0
 */
export const url = (value: string): Result.Result<Target, string> =>
  Result.map(SpecFile.parseSpec(value), (spec): Target => ({ _tag: "Address", spec }))

/**
 * Reads a command-line target: a URL when it has `://`, a socket path when it has a `/` or ends in `.sock`,
 * otherwise a plugin name.
 *
 * @since 0.1.0
 */
export const parse = (
  text: string,
  options: { readonly folders?: Discovery.Folders; readonly wait?: boolean } = {}
): Result.Result<Target, string> => {
  if (text.includes("://")) return url(text)
  if (text.includes("/") || text.endsWith(".sock")) return Result.succeed(socket(text))
  if (text === "") return Result.fail("empty plugin target")
  return Result.succeed(name(text, options))
}

/**
 * A short description for messages.
 *
 * @since 0.1.0
 */
export const describe = (target: Target): string => (target._tag === "Name" ? target.name : target.spec.url)

/**
 * Where a target resolved to.
 *
 * @since 0.1.0
 */
export interface Resolved {
  readonly name: string
  readonly spec: SpecFile.Spec
  /** The discovery file it came from, for names. */
  readonly located?: Discovery.Located
}

/**
 * Resolves a target to an address (discovery for names).
 *
 * @since 0.1.0
 */
export const resolve = (target: Target): Effect.Effect<Resolved, DiscoveryError> => {
  if (target._tag === "Address") return Effect.succeed({ name: target.spec.url, spec: target.spec })
  const find = target.wait
    ? Discovery.locateWithRetry(target.name, target.folders)
    : Discovery.locate(target.name, target.folders)
  return Effect.map(find, (located) => ({ name: located.name, spec: located.spec, located }))
}

/**
 * Opens a client for a target, for the life of the scope.
 *
 * @since 0.1.0
 */
export const connect = (
  target: Target,
  options: PluginClient.Options = {}
): Effect.Effect<PluginClient.PluginClient, DiscoveryError, Scope.Scope> =>
  Effect.flatMap(resolve(target), (resolved) =>
    Effect.flatMap(
      Effect.mapError(
        NodeTransport.make(resolved.spec.address, resolved.spec.tls),
        (e) => new BadSpecFile({ path: resolved.located?.path ?? resolved.spec.url, reason: e.reason })
      ),
      (transport) => PluginClient.make(transport, { name: resolved.name, ...options })
    )
  )
