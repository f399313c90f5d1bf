// The network driver: a table of networks and their endpoints, kept in memory, that answers every call the daemon
// makes as a local-scope driver would. It creates no host interface: Join answers no interface to move, so a
// container on one of its networks gets no link from it (the daemon then gives it outside access through its
// docker_gwbridge network). Where a real driver creates one is marked below (see the README).
import { DriverError, NetworkDriver } from "@docker-plugin-kit/protocol"
import { Effect, Layer } from "effect"

interface Endpoint {
  readonly address: string
  readonly addressIPv6: string
  readonly macAddress: string
  /** The container's network namespace while joined. */
  sandbox: string | undefined
}

interface Network {
  readonly endpoints: Map<string, Endpoint>
}

const fail = (message: string) => Effect.fail(new DriverError({ message }))

/** The driver. */
export const layer = Layer.sync(NetworkDriver.NetworkDriver, () => {
  const networks = new Map<string, Network>()
  const networkOf = (id: string) => {
    const network = networks.get(id)
    return network === undefined ? fail(`no such network: ${id}`) : Effect.succeed(network)
  }
  const endpointOf = (networkId: string, id: string) =>
    Effect.flatMap(networkOf(networkId), (network) => {
      const endpoint = network.endpoints.get(id)
      return endpoint === undefined ? fail(`no such endpoint ${id} on network ${networkId}`) : Effect.succeed(endpoint)
    })
  const swarmOnly = () => fail("swarm networks need a global-scope driver; this one is local")

  return NetworkDriver.make({
    getCapabilities: () => Effect.succeed({ Scope: "local" as const, ConnectivityScope: "local" as const }),
    createNetwork: ({ NetworkID }) =>
      networks.has(NetworkID)
        ? fail(`network ${NetworkID} exists already`)
        : Effect.sync(() => {
            networks.set(NetworkID, { endpoints: new Map() })
            return {}
          }),
    // The daemon forgets the network even when this fails, so its endpoints go with it; an unknown one is gone already.
    deleteNetwork: ({ NetworkID }) =>
      Effect.sync(() => {
        networks.delete(NetworkID)
        return {}
      }),
    allocateNetwork: swarmOnly,
    freeNetwork: swarmOnly,
    // The daemon filled the interface's addresses (from IPAM) and maybe its MAC; the answer must not set them again.
    createEndpoint: ({ NetworkID, EndpointID, Interface }) =>
      Effect.flatMap(networkOf(NetworkID), (network) =>
        network.endpoints.has(EndpointID)
          ? fail(`endpoint ${EndpointID} exists already`)
          : Effect.sync(() => {
              network.endpoints.set(EndpointID, {
                address: Interface.Address,
                addressIPv6: Interface.AddressIPv6,
                macAddress: Interface.MacAddress,
                sandbox: undefined
              })
              return {}
            })
      ),
    endpointOperInfo: ({ NetworkID, EndpointID }) =>
      Effect.map(endpointOf(NetworkID, EndpointID), (endpoint) => ({
        Value: { address: endpoint.address, joined: endpoint.sandbox !== undefined }
      })),
    // After Leave, or as a rollback; one already gone (a restart of the plugin) is no error.
    deleteEndpoint: ({ NetworkID, EndpointID }) =>
      Effect.sync(() => {
        networks.get(NetworkID)?.endpoints.delete(EndpointID)
        return {}
      }),
    join: ({ NetworkID, EndpointID, SandboxKey }) =>
      Effect.flatMap(endpointOf(NetworkID, EndpointID), (endpoint) =>
        endpoint.sandbox !== undefined
          ? fail(`endpoint ${EndpointID} is already joined to ${endpoint.sandbox}`)
          : Effect.sync(() => {
              endpoint.sandbox = SandboxKey
              // A driver that gives containers a link creates it here (a veth pair, say) and answers
              // { InterfaceName: { SrcName: hostSideName, DstPrefix: "eth" }, Gateway: "..." }: the daemon moves
              // SrcName into the container, names it eth0, eth1, ... and sets the endpoint's addresses on it.
              return {}
            })
      ),
    // Errors of Leave are only logged by the daemon: an unknown endpoint is left already.
    leave: ({ NetworkID, EndpointID }) =>
      Effect.sync(() => {
        const endpoint = networks.get(NetworkID)?.endpoints.get(EndpointID)
        if (endpoint !== undefined) endpoint.sandbox = undefined
        return {}
      })
  })
})
