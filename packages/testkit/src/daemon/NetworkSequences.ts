/**
 * A fake Docker daemon for network plugins: replays the call sequences the engine sends for `docker network
 * create`, `docker run`, `docker stop`, `docker start`, `docker rm` and `docker network rm` (protocol/network.md,
 * "Call sequences"), with the engine's built-in IPAM, in three variants:
 *
 * - `20.10`: Activate → GetCapabilities on first use; CreateNetwork; CreateEndpoint → Join → EndpointOperInfo
 *   (twice) → ProgramExternalConnectivity when the Join answer made the endpoint the gateway of a non-internal
 *   network; RevokeExternalConnectivity (if programmed) → Leave → DeleteEndpoint.
 * - `28`: as 20.10, plus the `com.docker.network.enable_ipv4` option, and `GwAllocCheck` before CreateNetwork
 *   when the driver reports `GwAllocChecker` (no gateway address is reserved for a family it skips).
 * - `29`: as 28, with external connectivity driven by the gateway election: Program only when the endpoint becomes
 *   the container's gateway, Revoke only when it stops being it.
 *
 * Answers are read the way the daemon reads them (`remote: ...` for a 200 with `Err`). No Docker needed.
 *
 * @since 0.1.0
 */
import { type CallError, DaemonText, type PluginClient } from "@docker-plugin-kit/client"
import { type Endpoint, Manifest, NetworkDriver } from "@docker-plugin-kit/protocol"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { type Action, type Call, exchangeStep } from "./FakeDaemon.ts"

/**
 * The engine whose sequences are replayed.
 *
 * @since 0.1.0
 */
export type EngineVersion = "20.10" | "28" | "29"

/**
 * `docker network create` settings.
 *
 * @since 0.1.0
 */
export interface NetworkSpec {
  /** `-o KEY=VALUE` driver options. */
  readonly options?: Readonly<Record<string, string>>
  /** `--subnet`, a /24 such as `10.1.2.0/24` (the built-in IPAM hands out `.1` as gateway, then `.2`, `.3`, ...). */
  readonly subnet: string
  /** `--internal`. */
  readonly internal?: boolean
}

/**
 * A container on a network, from `run`.
 *
 * @since 0.1.0
 */
export interface NetworkContainer {
  /** `docker run -d --network N`. */
  readonly run: Action
  /** The current endpoint ID and address (absent while stopped). */
  readonly endpoint: () => { readonly id: string; readonly address: string } | undefined
  /** `docker stop`: (RevokeExternalConnectivity) → Leave → DeleteEndpoint; the address is released. */
  readonly stop: Effect.Effect<Action>
  /** `docker start`: a new endpoint, as `run`. */
  readonly start: Effect.Effect<Action>
  /** `docker rm -f`: the stop sequence if running, nothing otherwise. */
  readonly rm: Effect.Effect<Action>
}

/**
 * A fake daemon bound to one network plugin.
 *
 * @since 0.1.0
 */
export interface NetworkDaemon {
  readonly engine: EngineVersion
  /** `docker network create -d NAME [-o k=v] [--internal] --subnet S NET`. */
  readonly networkCreate: (network: string, spec: NetworkSpec) => Effect.Effect<Action>
  /** `docker run -d --network NET`. */
  readonly run: (network: string) => Effect.Effect<NetworkContainer>
  /** `docker network rm NET`: DeleteNetwork (a failure is only logged: the network is gone for the daemon). */
  readonly networkRm: (network: string) => Effect.Effect<Action>
  readonly history: Effect.Effect<ReadonlyArray<Action>>
}

const E = NetworkDriver.Api.endpoints

/**
 * A fresh 64-hex ID, like the daemon's network and endpoint IDs.
 *
 * @since 0.1.0
 */
export const hexId = (): string =>
  Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0")).join("")

/** How the daemon shows a network driver's error: `remote: Err` for a 200 with Err (`DaemonText.message`). */
const shown = (error: CallError): string => DaemonText.message(error)

interface NetworkState {
  readonly id: string
  readonly prefix: string
  readonly internal: boolean
  readonly gateway: boolean
  readonly used: Set<number>
}

/**
 * A fake daemon of engine `engine` talking to `client`. `driverName` only shapes messages.
 *
 * @since 0.1.0
 */
export const make = (
  client: PluginClient.PluginClient,
  options: { readonly engine?: EngineVersion; readonly driverName?: string } = {}
): Effect.Effect<NetworkDaemon> =>
  Effect.sync(() => {
    const engine = options.engine ?? "20.10"
    const driverName = options.driverName ?? client.name
    const history: Array<Action> = []
    const networks = new Map<string, NetworkState>()
    let capabilities: NetworkDriver.CapabilitiesResponse | undefined

    const step = <A extends Endpoint.Any>(calls: Array<Call>, name: string, endpoint: A, body?: unknown) =>
      Effect.map(exchangeStep(client, name, endpoint, body, shown), ({ call, result }) => {
        calls.push(call)
        return result
      })

    const command = (
      text: string,
      body: (calls: Array<Call>, warn: (warning: string) => void) => Effect.Effect<string | undefined>
    ) =>
      Effect.suspend(() => {
        const calls: Array<Call> = []
        const warnings: Array<string> = []
        return Effect.map(
          body(calls, (w) => warnings.push(w)),
          (error): Action => {
            const action: Action = { command: text, calls, warnings, ...(error === undefined ? {} : { error }) }
            history.push(action)
            return action
          }
        )
      })

    /** First use: activation and the mandatory GetCapabilities (the registration), both cached once they work. */
    const lookup = (calls: Array<Call>) =>
      Effect.gen(function* () {
        if (capabilities !== undefined) return undefined
        const activate = yield* step(calls, "Activate", Manifest.Activate)
        if (Result.isFailure(activate))
          return `error looking up network plugin ${driverName}: ${activate.failure.message}`
        if (!(activate.success.Implements ?? []).includes("NetworkDriver")) {
          return `plugin ${driverName} does not implement NetworkDriver`
        }
        const caps = yield* step(calls, "GetCapabilities", E.getCapabilities)
        if (Result.isFailure(caps)) return `could not register network driver ${driverName}: ${caps.failure.message}`
        capabilities = caps.success
        return undefined
      })

    const networkCreate = (network: string, spec: NetworkSpec) =>
      command(
        `docker network create -d ${driverName}${Object.entries(spec.options ?? {})
          .map(([k, v]) => ` -o ${k}=${v}`)
          .join("")}${spec.internal ? " --internal" : ""} --subnet ${spec.subnet} ${network}`,
        (calls) =>
          Effect.gen(function* () {
            const failed = yield* lookup(calls)
            if (failed !== undefined) return failed
            const prefix = spec.subnet.replace(/\.0\/24$/, "")
            const generic = { ...spec.options }
            const networkOptions: Record<string, unknown> = {
              ...(engine === "20.10" ? {} : { "com.docker.network.enable_ipv4": true }),
              "com.docker.network.enable_ipv6": false,
              "com.docker.network.generic": generic,
              ...(spec.internal ? { "com.docker.network.internal": true } : {})
            }
            let gateway = true
            if (engine !== "20.10" && capabilities?.GwAllocChecker === true) {
              const check = yield* step(calls, "GwAllocCheck", E.gwAllocCheck, { Options: networkOptions })
              if (Result.isFailure(check)) return shown(check.failure)
              gateway = check.success.SkipIPv4 !== true
            }
            const id = hexId()
            const create = yield* step(calls, "CreateNetwork", E.createNetwork, {
              NetworkID: id,
              Options: networkOptions,
              IPv4Data: [
                {
                  AddressSpace: "LocalDefault",
                  ...(gateway ? { Gateway: `${prefix}.1/24` } : {}),
                  Pool: spec.subnet
                }
              ],
              IPv6Data: []
            })
            if (Result.isFailure(create)) return shown(create.failure)
            networks.set(network, { id, prefix, internal: spec.internal ?? false, gateway, used: new Set() })
            return undefined
          })
      )

    const run = (network: string): Effect.Effect<NetworkContainer> =>
      Effect.gen(function* () {
        let current: { readonly id: string; readonly address: string; readonly host: number } | undefined
        let programmed = false

        const attach = (text: string) =>
          command(text, (calls) =>
            Effect.gen(function* () {
              const n = networks.get(network)
              if (n === undefined) return `network ${network} not found`
              let host = 2
              while (n.used.has(host)) host++
              const id = hexId()
              const address = `${n.prefix}.${host}/24`
              const created = yield* step(calls, "CreateEndpoint", E.createEndpoint, {
                NetworkID: n.id,
                EndpointID: id,
                Interface: { Address: address, AddressIPv6: "", MacAddress: "" },
                Options: {}
              })
              if (Result.isFailure(created)) return shown(created.failure)
              const ids = { NetworkID: n.id, EndpointID: id }
              const sandboxOptions = {
                "com.docker.network.endpoint.exposedports": [],
                "com.docker.network.portmap": []
              }
              const joined = yield* step(calls, "Join", E.join, {
                ...ids,
                SandboxKey: `/var/run/docker/netns/${id.slice(0, 12)}`,
                Options: sandboxOptions
              })
              if (Result.isFailure(joined)) {
                yield* step(calls, "DeleteEndpoint", E.deleteEndpoint, ids)
                return shown(joined.failure)
              }
              n.used.add(host)
              current = { id, address, host }
              if (engine === "20.10") {
                yield* step(calls, "EndpointOperInfo", E.endpointOperInfo, ids)
                yield* step(calls, "EndpointOperInfo", E.endpointOperInfo, ids)
              }
              // The endpoint is the container's gateway when its Join gave one; then connectivity is programmed.
              const gateway = (joined.success.Gateway ?? "") !== "" || (joined.success.GatewayIPv6 ?? "") !== ""
              if (gateway && !n.internal && !(engine === "29" && programmed)) {
                const program = yield* step(calls, "ProgramExternalConnectivity", E.programExternalConnectivity, {
                  ...ids,
                  Options: sandboxOptions
                })
                // 404 means not implemented; any other failure fails the container's network connect.
                if (
                  Result.isFailure(program) &&
                  !(program.failure._tag === "StatusError" && program.failure.status === 404)
                ) {
                  return `driver failed programming external connectivity on endpoint ${id}: ${shown(program.failure)}`
                }
                programmed = true
              }
              return undefined
            })
          )

        const detach = (text: string) =>
          command(text, (calls) =>
            Effect.gen(function* () {
              const n = networks.get(network)
              if (current === undefined || n === undefined) return undefined
              const ids = { NetworkID: n.id, EndpointID: current.id }
              if (programmed) yield* step(calls, "RevokeExternalConnectivity", E.revokeExternalConnectivity, ids)
              programmed = false
              // Errors of Leave and DeleteEndpoint are logged; the container stops anyway.
              yield* step(calls, "Leave", E.leave, ids)
              yield* step(calls, "DeleteEndpoint", E.deleteEndpoint, ids)
              n.used.delete(current.host)
              current = undefined
              return undefined
            })
          )

        const first = yield* attach(`docker run -d --network ${network}`)
        return {
          run: first,
          endpoint: () => (current === undefined ? undefined : { id: current.id, address: current.address }),
          stop: detach("docker stop"),
          start: attach("docker start"),
          rm: detach("docker rm -f")
        }
      })

    const networkRm = (network: string) =>
      command(`docker network rm ${network}`, (calls, warn) =>
        Effect.gen(function* () {
          const n = networks.get(network)
          if (n === undefined) return `network ${network} not found`
          if (n.used.size > 0) return `error while removing network: network ${network} has active endpoints`
          const deleted = yield* step(calls, "DeleteNetwork", E.deleteNetwork, { NetworkID: n.id })
          networks.delete(network)
          if (Result.isFailure(deleted)) warn(`driver failed to delete network ${n.id}: ${shown(deleted.failure)}`)
          return undefined
        })
      )

    return { engine, networkCreate, run, networkRm, history: Effect.sync(() => [...history]) }
  })
