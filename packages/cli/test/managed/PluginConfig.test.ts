import { Descriptors } from "@docker-plugin-kit/drivers"
import { IpamDriver, NetworkDriver, VolumeDriver } from "@docker-plugin-kit/protocol"
import { describe, expect, it } from "@effect/vitest"
import * as PluginConfig from "../../src/managed/PluginConfig.ts"

describe("PluginConfig", () => {
  it("derives interface types, socket, propagated mount and settable args from a driver's descriptor", () => {
    const d = Descriptors.byName("volume-local")!
    const config = PluginConfig.make({
      description: d.description,
      apis: d.apis,
      entrypoint: ["/usr/local/bin/node", "/plugin/plugin.js"],
      args: ["--root", "/x"],
      argsDescription: "flags",
      needs: d.managed ?? {}
    })
    expect(config.Interface).toEqual({ Types: ["docker.volumedriver/1.0"], Socket: "plugin.sock" })
    expect(config.PropagatedMount).toBe("/var/lib/docker-plugin-kit")
    expect(config.Args).toEqual({ Name: "args", Description: "flags", Settable: ["value"], Value: ["--root", "/x"] })
    expect(config.Network).toEqual({ Type: "" })
    // Node's compile cache in the plugin's own rootfs, which the user can move or turn off.
    expect(config.Env).toContainEqual(
      expect.objectContaining({ Name: "NODE_COMPILE_CACHE", Settable: ["value"], Value: PluginConfig.compileCacheDir })
    )
  })

  it("lists each API once, lower case as the daemon's registration hooks compare them, with the needs asked for", () => {
    const config = PluginConfig.make({
      description: "net",
      apis: [NetworkDriver.Api, IpamDriver.Api, NetworkDriver.Api, VolumeDriver.Api],
      entrypoint: [],
      args: [],
      argsDescription: "",
      needs: {
        network: "host",
        capabilities: ["CAP_NET_ADMIN"],
        pidHost: true,
        mounts: [{ source: "/var/run/netns", destination: "/var/run/netns", options: ["rbind", "rshared"] }]
      }
    })
    expect(config.Interface.Types).toEqual([
      "docker.networkdriver/1.0",
      "docker.ipamdriver/1.0",
      "docker.volumedriver/1.0"
    ])
    expect(config.Network.Type).toBe("host")
    expect(config.Linux.Capabilities).toEqual(["CAP_NET_ADMIN"])
    expect(config.PidHost).toBe(true)
    expect(config.Mounts).toEqual([
      {
        Name: "mount0",
        Description: "/var/run/netns on /var/run/netns",
        Settable: ["source"],
        Source: "/var/run/netns",
        Destination: "/var/run/netns",
        Type: "bind",
        Options: ["rbind", "rshared"]
      }
    ])
  })

  it("gives devices settable paths, variables settable values after the kit's own, and the host namespaces asked for", () => {
    const config = PluginConfig.make({
      description: "vendor",
      apis: [VolumeDriver.Api],
      entrypoint: [],
      args: [],
      argsDescription: "",
      needs: {
        devices: ["/dev/fuse", "/dev/net/tun"],
        allowAllDevices: true,
        env: [
          { name: "VENDOR_API", value: "https://storage.local" },
          { name: "MODE", value: "", description: "mode" }
        ],
        ipcHost: true
      }
    })
    expect(config.Linux).toEqual({
      Capabilities: [],
      AllowAllDevices: true,
      Devices: [
        { Name: "device0", Description: "/dev/fuse", Settable: ["path"], Path: "/dev/fuse" },
        { Name: "device1", Description: "/dev/net/tun", Settable: ["path"], Path: "/dev/net/tun" }
      ]
    })
    expect(config.Env.map((e) => e.Name)).toEqual(["DPK_PLUGIN_SOCKET", "NODE_COMPILE_CACHE", "VENDOR_API", "MODE"])
    expect(config.Env.slice(2)).toEqual([
      {
        Name: "VENDOR_API",
        Description: "Settable: docker plugin set PLUGIN VENDOR_API=VALUE",
        Settable: ["value"],
        Value: "https://storage.local"
      },
      { Name: "MODE", Description: "mode", Settable: ["value"], Value: "" }
    ])
    expect(config.IpcHost).toBe(true)
    expect(config.PidHost).toBe(false)
  })

  it("asks for nothing beyond the defaults when nothing is needed: no device (null, as the engine writes it)", () => {
    const config = PluginConfig.make({
      description: "plain",
      apis: [VolumeDriver.Api],
      entrypoint: [],
      args: [],
      argsDescription: "",
      needs: {}
    })
    expect(config.Linux).toEqual({ Capabilities: [], AllowAllDevices: false, Devices: null })
    expect(config.Env.map((e) => e.Name)).toEqual(["DPK_PLUGIN_SOCKET", "NODE_COMPILE_CACHE"])
    expect([config.Network.Type, config.PropagatedMount, config.Mounts, config.IpcHost, config.PidHost]).toEqual([
      "",
      "",
      [],
      false,
      false
    ])
  })
})
