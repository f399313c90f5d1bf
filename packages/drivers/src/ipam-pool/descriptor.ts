/**
 * `ipam-pool` for the CLI: `dpk serve ipam-pool [--pool CIDR]… [--pool-size LEN] [--pool6 CIDR]… [--pool6-size LEN]
 * [--store DIR | --store etcd://HOST:PORT[,HOST:PORT…]]`.
 *
 * @since 0.1.0
 */
import { IpamDriver } from "@docker-plugin-kit/protocol"
import * as Flag from "effect/cli/Flag"
import * as Layer from "effect/Layer"
import * as Descriptor from "../Descriptor.ts"
import * as IpamPool from "./IpamPoolDefaults.ts"

const rangeFlag = (name: string, family: 4 | 6, fallback: string) =>
  Flag.String(name).pipe(
    Flag.withDescription(`IPv${family} range to carve pools from; repeat for more (default ${fallback})`),
    Flag.atLeast(0)
  )

const sizeFlag = (name: string, family: 4 | 6, fallback: number) =>
  Flag.Int(name).pipe(
    Flag.withDescription(`Prefix length of the IPv${family} pools carved`),
    Flag.withDefault(fallback)
  )

/**
 * The descriptor.
 *
 * @since 0.1.0
 */
export const descriptor = Descriptor.make({
  name: "ipam-pool",
  description: "An IpamDriver carving pools from configured ranges, its state in a file or in an etcd shared by hosts",
  apis: [IpamDriver.Api],
  flags: {
    pool: rangeFlag("pool", 4, IpamPool.defaultPool),
    poolSize: sizeFlag("pool-size", 4, IpamPool.defaultPoolSize),
    pool6: rangeFlag("pool6", 6, IpamPool.defaultPool6),
    pool6Size: sizeFlag("pool6-size", 6, IpamPool.defaultPool6Size),
    store: Descriptor.folderFlag(
      "store",
      "Folder of the state file, or etcd://HOST:PORT[,HOST:PORT...] to share one address space between hosts",
      IpamPool.defaultStateDir,
      "ipam"
    )
  },
  layer: ({ pool, poolSize, pool6, pool6Size, store }) =>
    Descriptor.load(
      () => Promise.all([import("./IpamPool.ts"), import("../store/StoreTarget.ts")]),
      ([IpamPool, StoreTarget]) =>
        IpamPool.layer({
          ...(pool.length === 0 ? {} : { pools: pool }),
          poolSize,
          ...(pool6.length === 0 ? {} : { pools6: pool6 }),
          pool6Size
        }).pipe(Layer.provide(StoreTarget.layer(store)))
    ),
  // The host's network, to reach an etcd on the host or the fleet; the state folder kept on the host across upgrades.
  managed: {
    network: "host",
    mounts: [{ source: IpamPool.defaultStateDir, destination: IpamPool.defaultStateDir, options: ["rbind", "rw"] }]
  }
})
