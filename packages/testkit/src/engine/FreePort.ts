/**
 * Ports for the real components a test starts (etcd, a swarm's listener): one the kernel picks as free now.
 *
 * @since 0.1.0
 */
import * as Net from "node:net"

/**
 * A TCP port nobody listens on now at `host` (the kernel's pick, released at once: free until someone takes it).
 *
 * @since 0.1.0
 */
export const tcp = (host = "127.0.0.1"): Promise<number> =>
  new Promise<number>((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, host, () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })
