// The driver tested in-process with the daemon's request bodies, then over a Unix socket with the toolkit's IPAM
// conformance suite.
import { ConformanceIpam, ConformanceSuites, InProcess } from "@docker-plugin-kit/testkit"
import { ConformanceVitest } from "@docker-plugin-kit/testkit/vitest"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Driver from "../src/Driver.ts"

const gateway = { RequestAddressType: "com.docker.network.gateway" }

describe("the driver, in-process", () => {
  it.effect("gives each network a pool of its own, then the gateway and endpoint addresses in order", () =>
    Effect.gen(function* () {
      const plugin = yield* InProcess.make(Driver.layer)
      const call = (path: string, body: unknown) => Effect.map(plugin.call(`/IpamDriver.${path}`, body), (r) => r.body)
      const pool = (Pool = "", SubPool = "") =>
        call("RequestPool", { AddressSpace: "local", Pool, SubPool, Options: {}, V6: false })
      expect(yield* pool()).toEqual({ PoolID: "10.200.0.0/24", Pool: "10.200.0.0/24", Data: {} })
      expect(yield* pool()).toEqual({ PoolID: "10.200.1.0/24", Pool: "10.200.1.0/24", Data: {} })
      const address = (Address: string, Options: unknown = null) =>
        call("RequestAddress", { PoolID: "10.200.0.0/24", Address, Options })
      expect(yield* address("", gateway)).toEqual({ Address: "10.200.0.1/24", Data: {} })
      expect(yield* address("")).toEqual({ Address: "10.200.0.2/24", Data: {} })
      expect(yield* address("10.200.0.2")).toEqual({
        Err: "address 10.200.0.2 is already allocated in pool 10.200.0.0/24"
      })
      expect(yield* address("10.200.0.255")).toEqual({
        Err: "address 10.200.0.255 is the broadcast address of pool 10.200.0.0/24 and cannot be allocated"
      })
      expect(yield* call("ReleaseAddress", { PoolID: "10.200.0.0/24", Address: "10.200.0.2" })).toEqual({})
      expect(yield* address("10.200.0.2")).toEqual({ Address: "10.200.0.2/24", Data: {} })
      // docker network create --subnet 10.200.0.0/16 overlaps the pools in use; --subnet and --ip-range are honoured.
      expect(yield* pool("10.200.0.0/16")).toEqual({
        Err: "pool 10.200.0.0/16 overlaps pool 10.200.0.0/24, which is in use"
      })
      expect(yield* pool("192.168.7.0/24", "192.168.7.128/25")).toEqual({
        PoolID: "192.168.7.0/24",
        Pool: "192.168.7.0/24",
        Data: {}
      })
      expect(yield* call("RequestAddress", { PoolID: "192.168.7.0/24", Address: "", Options: null })).toEqual({
        Address: "192.168.7.128/24",
        Data: {}
      })
      expect(yield* call("ReleasePool", { PoolID: "10.200.1.0/24" })).toEqual({})
      expect(yield* call("RequestAddress", { PoolID: "10.200.1.0/24", Address: "", Options: null })).toEqual({
        Err: "no such pool: 10.200.1.0/24"
      })
    })
  )
})

ConformanceVitest.describeSuite("the driver over a Unix socket", ConformanceIpam.suite, () =>
  ConformanceSuites.overSocket(Driver.layer)
)
