/**
 * Which conformance suites exist, and the three ways to get a client to run them against: a driver Layer
 * in-process, a driver Layer over a real socket, or any running plugin (name, socket path or URL).
 *
 * @since 0.1.0
 */
import {
  type DiscoveryError,
  type Discovery,
  type PluginClient,
  Retry,
  Target,
  Timeouts
} from "@docker-plugin-kit/client"
import { Apis, type PluginApi } from "@docker-plugin-kit/protocol"
import type { PluginServer } from "@docker-plugin-kit/server"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Conformance from "./Conformance.ts"
import * as ConformanceAuthz from "./ConformanceAuthz.ts"
import * as ConformanceGeneric from "./ConformanceGeneric.ts"
import * as ConformanceLog from "./ConformanceLog.ts"
import * as ConformanceGraph from "./ConformanceGraph.ts"
import * as ConformanceIpam from "./ConformanceIpam.ts"
import * as ConformanceNetwork from "./ConformanceNetwork.ts"
import * as ConformanceSecret from "./ConformanceSecret.ts"
import * as ConformanceVolume from "./ConformanceVolume.ts"
import * as InProcess from "../harness/InProcess.ts"
import * as SocketHarness from "../harness/SocketHarness.ts"

/**
 * Every suite, by manifest entry. Other APIs add theirs here.
 *
 * @since 0.1.0
 */
export const bySubsystem: Readonly<Record<string, Conformance.Suite>> = {
  VolumeDriver: ConformanceVolume.suite,
  IpamDriver: ConformanceIpam.suite,
  GraphDriver: ConformanceGraph.suite,
  NetworkDriver: ConformanceNetwork.suite,
  LogDriver: ConformanceLog.suite,
  authz: ConformanceAuthz.suite,
  secretprovider: ConformanceSecret.suite
}

/**
 * How conformance clients talk: no retries (a defect is reported at once, not after 15 s) and a 10 s timeout on
 * every call, so a plugin that hangs is reported instead of blocking the run.
 *
 * @since 0.1.0
 */
export const clientOptions: PluginClient.Options = { retry: Retry.none, timeouts: Timeouts.fixed("10 seconds") }

/**
 * A driver Layer served in-process through the real router.
 *
 * @since 0.1.0
 */
export const inProcess = <ROut extends PluginApi.AnyDriverService, E>(
  drivers: Layer.Layer<ROut, E>
): Effect.Effect<PluginClient.PluginClient, E | PluginServer.StartError, Scope.Scope> =>
  Effect.map(InProcess.make(drivers), (plugin) => plugin.client)

/**
 * A driver Layer served on a temporary Unix socket.
 *
 * @since 0.1.0
 */
export const overSocket = <ROut extends PluginApi.AnyDriverService, E>(
  drivers: Layer.Layer<ROut, E>
): Effect.Effect<PluginClient.PluginClient, E | PluginServer.StartError, Scope.Scope> =>
  Effect.map(SocketHarness.make(drivers, { client: clientOptions }), (harness) => harness.client)

/**
 * A running plugin: a name (looked up in `folders`, without waiting), a socket path, or a URL.
 *
 * @since 0.1.0
 */
export const running = (
  target: string | Target.Target,
  options: { readonly folders?: Discovery.Folders } = {}
): Effect.Effect<PluginClient.PluginClient, DiscoveryError | InvalidTarget, Scope.Scope> =>
  Effect.flatMap(
    typeof target === "string"
      ? Effect.mapError(
          Effect.fromResult(
            Target.parse(target, { wait: false, ...(options.folders ? { folders: options.folders } : {}) })
          ),
          (reason) => new InvalidTarget({ target, reason })
        )
      : Effect.succeed(target),
    (t) => Target.connect(t, clientOptions)
  )

/**
 * A target string that is neither a name, a socket path nor a valid URL.
 *
 * @since 0.1.0
 */
export class InvalidTarget extends Data.TaggedError("InvalidTarget")<{
  readonly target: string
  readonly reason: string
}> {
  override get message() {
    return `invalid plugin target "${this.target}": ${this.reason}`
  }
}

/**
 * The suites a manifest calls for: for every subsystem whose API is known (`apis`, default every API the daemon
 * knows), its semantic suite when `bySubsystem` has one, then the generic suite derived from its declaration.
 * `genericOnly` lists the subsystems without a semantic suite; `uncovered` those of no known API (no checks).
 *
 * @since 0.1.0
 */
export const forManifest = (
  implementsList: ReadonlyArray<string>,
  options: { readonly apis?: ReadonlyArray<PluginApi.Any> } = {}
): {
  readonly suites: ReadonlyArray<Conformance.Suite>
  readonly genericOnly: ReadonlyArray<string>
  readonly uncovered: ReadonlyArray<string>
} => {
  const apis = options.apis ?? Apis.all
  const known = implementsList.flatMap((subsystem) => {
    const api = apis.find((a) => a.subsystem === subsystem)
    return api === undefined ? [] : [{ api, semantic: bySubsystem[subsystem] }]
  })
  return {
    suites: known.flatMap(({ api, semantic }) => [
      ...(semantic === undefined ? [] : [semantic]),
      ConformanceGeneric.suite(api)
    ]),
    genericOnly: known.flatMap(({ api, semantic }) => (semantic === undefined ? [api.subsystem] : [])),
    uncovered: implementsList.filter((s) => !apis.some((a) => a.subsystem === s))
  }
}

/**
 * Activates a plugin and runs the suites of every subsystem it implements, one report per suite.
 *
 * @since 0.1.0
 */
export const runAll = (
  client: PluginClient.PluginClient,
  options: { readonly apis?: ReadonlyArray<PluginApi.Any>; readonly checks?: Conformance.Options } = {}
) =>
  Effect.flatMap(client.activate, (manifest) => {
    const { suites, genericOnly, uncovered } = forManifest(manifest.Implements ?? [], options)
    return Effect.map(
      Effect.forEach(suites, (suite) => Conformance.run(suite, client, options.checks)),
      (reports) => ({
        implements: manifest.Implements ?? [],
        reports,
        genericOnly,
        uncovered
      })
    )
  })
