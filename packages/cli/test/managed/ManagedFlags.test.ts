/**
 * The flags of `dpk package` that say what a plugin needs as a managed plugin: what each value becomes, how they
 * add to a reference driver's declared needs, and each refusal, naming the flag and the value.
 */
import { Descriptors } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as ManagedFlags from "../../src/managed/ManagedFlags.ts"

/** The needs, or the refusal as a thrown error's message. */
const needs = (...args: Parameters<typeof ManagedFlags.needsOf>) => Result.getOrThrow(ManagedFlags.needsOf(...args))
/** The refusal; fails the test when the values are accepted. */
const refusal = (...args: Parameters<typeof ManagedFlags.needsOf>) => {
  const result = ManagedFlags.needsOf(...args)
  if (Result.isSuccess(result)) throw new Error(`accepted: ${JSON.stringify(result.success)}`)
  return result.failure
}

describe("ManagedFlags.needsOf for a plugin file", () => {
  it("no flag: no need", () => {
    expect(needs({})).toEqual({})
    expect(needs({ propagatedMount: Option.none(), network: Option.none(), mounts: [], pidHost: false })).toEqual({})
  })

  it("turns every flag into what the config is made from", () => {
    expect(
      needs({
        propagatedMount: Option.some("/mnt/volumes"),
        mounts: ["/dev:/dev", "/etc/vendor:/etc/vendor:ro", "/srv/data:/data:rw"],
        capabilities: ["CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_SYS_ADMIN"],
        network: Option.some("host"),
        env: ["VENDOR_API=https://storage.local", "EMPTY=", "WITH_EQUALS=a=b"],
        devices: ["/dev/fuse", "/dev/net/tun"],
        allowAllDevices: true,
        ipcHost: true,
        pidHost: true,
        binaries: ["cp", "/usr/sbin/mkfs.ext4", "cp"]
      })
    ).toEqual({
      propagatedMount: "/mnt/volumes",
      mounts: [
        { source: "/dev", destination: "/dev", options: ["rbind", "rw"] },
        { source: "/etc/vendor", destination: "/etc/vendor", options: ["rbind", "ro"] },
        { source: "/srv/data", destination: "/data", options: ["rbind", "rw"] }
      ],
      capabilities: ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"],
      network: "host",
      env: [
        { name: "VENDOR_API", value: "https://storage.local" },
        { name: "EMPTY", value: "" },
        { name: "WITH_EQUALS", value: "a=b" }
      ],
      devices: ["/dev/fuse", "/dev/net/tun"],
      allowAllDevices: true,
      ipcHost: true,
      pidHost: true,
      binaries: ["cp", "/usr/sbin/mkfs.ext4"]
    })
  })

  it("takes each network type the engine reads", () => {
    for (const type of ["host", "none", "bridge"]) {
      expect(needs({ network: Option.some(type) }).network).toBe(type)
    }
  })

  it("refuses a propagated mount that is not a normalized absolute path, or covers the socket or the plugin's files", () => {
    const propagated = (path: string) => refusal({ propagatedMount: Option.some(path) })
    expect(propagated("var/lib/x")).toBe('--propagated-mount "var/lib/x" is not an absolute path')
    expect(propagated("/var/lib/../x")).toBe(
      '--propagated-mount "/var/lib/../x" is not a normalized absolute path (/var/x)'
    )
    expect(propagated("/var/lib/x/")).toBe(
      '--propagated-mount "/var/lib/x/" is not a normalized absolute path (/var/lib/x)'
    )
    expect(propagated("/")).toBe(`--propagated-mount "/" would hide the plugin's own /plugin/plugin.js`)
    expect(propagated("/usr/local")).toBe(
      `--propagated-mount "/usr/local" would hide the plugin's own /usr/local/bin/node`
    )
    expect(propagated("/run/docker/plugins")).toBe(
      `--propagated-mount "/run/docker/plugins" is /run/docker/plugins or inside it, where the engine mounts the plugin's socket`
    )
    expect(propagated("/run/docker/plugins/x")).toMatch(/^--propagated-mount "\/run\/docker\/plugins\/x" is \/run/)
  })

  it("refuses a mount that is not SOURCE:DESTINATION[:ro|rw] with absolute paths, naming the value", () => {
    const mount = (value: string) => refusal({ mounts: [value] })
    expect(mount("/dev")).toBe('--mount "/dev" must be SOURCE:DESTINATION or SOURCE:DESTINATION:ro')
    expect(mount("/a:/b:ro:x")).toBe('--mount "/a:/b:ro:x" must be SOURCE:DESTINATION or SOURCE:DESTINATION:ro')
    expect(mount("/a:/b:rx")).toBe('--mount "/a:/b:rx": the mode "rx" is not ro or rw')
    expect(mount("data:/data")).toBe('--mount "data:/data": SOURCE "data" is not an absolute path on the host')
    expect(mount(":/data")).toBe('--mount ":/data": SOURCE "" is not an absolute path on the host')
    expect(mount("/srv/./data:/data")).toBe(
      '--mount "/srv/./data:/data": SOURCE "/srv/./data" is not a normalized absolute path (/srv/data) on the host'
    )
    expect(mount("/data:data")).toBe('--mount "/data:data": DESTINATION "data" is not an absolute path')
    expect(mount("/data:/x/../data")).toBe(
      '--mount "/data:/x/../data": DESTINATION "/x/../data" is not a normalized absolute path (/data)'
    )
    expect(mount("/data:/")).toBe(`--mount "/data:/": DESTINATION "/" would hide the plugin's own /plugin/plugin.js`)
    expect(mount("/data:/plugin")).toBe(
      `--mount "/data:/plugin": DESTINATION "/plugin" would hide the plugin's own /plugin/plugin.js`
    )
    expect(mount("/run/docker/plugins:/run/docker/plugins")).toMatch(
      /^--mount "\/run\/docker\/plugins:\/run\/docker\/plugins": DESTINATION "\/run\/docker\/plugins" is \/run\/docker\/plugins or inside it/
    )
  })

  it("refuses two mounts on one destination, and a mount on, inside or above the propagated mount", () => {
    expect(refusal({ mounts: ["/a:/data", "/b:/data:ro"] })).toBe(
      '--mount "/b:/data:ro": another --mount has the destination /data'
    )
    const withPropagated = (mount: string) => refusal({ propagatedMount: Option.some("/mnt/volumes"), mounts: [mount] })
    expect(withPropagated("/srv:/mnt/volumes")).toBe(
      '--mount "/srv:/mnt/volumes": /mnt/volumes is the propagated mount'
    )
    expect(withPropagated("/srv:/mnt/volumes/x")).toBe(
      '--mount "/srv:/mnt/volumes/x": /mnt/volumes/x is inside the propagated mount /mnt/volumes, so the host would see it'
    )
    expect(withPropagated("/srv:/mnt")).toBe('--mount "/srv:/mnt": /mnt would hide the propagated mount /mnt/volumes')
    // Beside it, and the same source twice, are fine.
    expect(
      needs({ propagatedMount: Option.some("/mnt/volumes"), mounts: ["/srv:/mnt/other", "/srv:/srv"] }).mounts
    ).toHaveLength(2)
  })

  it("refuses a mount inside /dev, which Engine 20.10 drops, and a propagated mount the runtime's own mounts cover", () => {
    // The engine removes from the plugin's spec every mount under /dev/ that its config lists.
    expect(refusal({ mounts: ["/dev/fuse:/dev/fuse"] })).toBe(
      '--mount "/dev/fuse:/dev/fuse": DESTINATION "/dev/fuse" is inside /dev, where Engine 20.10 drops a plugin\'s mount (a device: --device; or mount all of /dev)'
    )
    expect(needs({ mounts: ["/dev:/dev"] }).mounts).toHaveLength(1)
    // The engine binds the propagated mount into the rootfs before the runtime mounts /dev, /proc and /sys over it.
    for (const path of ["/dev", "/dev/volumes", "/proc/volumes", "/sys", "/sys/fs/volumes"]) {
      expect(refusal({ propagatedMount: Option.some(path) })).toMatch(
        new RegExp(
          `^--propagated-mount "${path}" is (/dev|/proc|/sys) or inside it, where the runtime mounts its own file system over what the engine bound$`
        )
      )
    }
  })

  it("refuses a mount above one given before it, which it would hide", () => {
    expect(refusal({ mounts: ["/a:/data/x", "/b:/data"] })).toBe(
      '--mount "/b:/data": /data would hide the mount of /a on /data/x, given before it (give /data first)'
    )
    expect(needs({ mounts: ["/b:/data", "/a:/data/x"] }).mounts).toHaveLength(2)
  })

  it("refuses a capability the engine does not know, suggesting the name it likely meant", () => {
    expect(refusal({ capabilities: ["SYS_ADMIN"] })).toBe(
      '--capability "SYS_ADMIN" is not a Linux capability name: did you mean CAP_SYS_ADMIN?'
    )
    expect(refusal({ capabilities: ["cap_net_admin"] })).toBe(
      '--capability "cap_net_admin" is not a Linux capability name: did you mean CAP_NET_ADMIN?'
    )
    expect(refusal({ capabilities: ["CAP_SYS_ADMIN", "CAP_EVERYTHING"] })).toMatch(
      /^--capability "CAP_EVERYTHING" is not a Linux capability name \(known: CAP_AUDIT_CONTROL, .*CAP_WAKE_ALARM\)$/
    )
    expect(ManagedFlags.capabilityNames).toHaveLength(41)
    expect(needs({ capabilities: [...ManagedFlags.capabilityNames] }).capabilities).toEqual(
      ManagedFlags.capabilityNames
    )
  })

  it("refuses a network type the engine does not read", () => {
    expect(refusal({ network: Option.some("bridged") })).toBe(
      '--network "bridged" is not a network type: host, none, bridge'
    )
    expect(refusal({ network: Option.some("") })).toBe('--network "" is not a network type: host, none, bridge')
  })

  it("refuses a variable without =, a name docker plugin set cannot address, the kit's own, another setting's, or one given twice", () => {
    const env = (...values: Array<string>) => refusal({ env: values })
    expect(env("VENDOR_API")).toBe('--env "VENDOR_API" must be NAME=VALUE (VALUE may be empty)')
    expect(env("=x")).toBe('--env "=x": NAME "" must be letters, digits and _, not starting with a digit')
    expect(env("1X=y")).toBe('--env "1X=y": NAME "1X" must be letters, digits and _, not starting with a digit')
    expect(env("vendor.api=y")).toMatch(/^--env "vendor.api=y": NAME "vendor.api" must be letters/)
    expect(env("A-B=y")).toMatch(/^--env "A-B=y": NAME "A-B" must be letters/)
    expect(env("DPK_PLUGIN_SOCKET=/x.sock")).toBe(
      '--env "DPK_PLUGIN_SOCKET=/x.sock": the kit sets DPK_PLUGIN_SOCKET itself (where the plugin listens)'
    )
    expect(env("NODE_COMPILE_CACHE=")).toBe(
      '--env "NODE_COMPILE_CACHE=": the kit sets NODE_COMPILE_CACHE itself (default /var/cache/node-compile-cache, settable after create: docker plugin set PLUGIN NODE_COMPILE_CACHE=DIR)'
    )
    for (const name of ["args", "mount0", "device12"]) {
      expect(env(`${name}=x`)).toBe(
        `--env "${name}=x": ${name} is the name of another setting of the plugin (its arguments, a mount or a device)`
      )
    }
    expect(env("A=1", "B=2", "A=3")).toBe('--env "A=3": A is given already')
  })

  it("refuses a device that is not an absolute path, or is given twice", () => {
    expect(refusal({ devices: ["dev/fuse"] })).toBe('--device "dev/fuse" is not an absolute path on the host')
    expect(refusal({ devices: ["/dev/fuse", "/dev/fuse"] })).toBe('--device "/dev/fuse" is given already')
  })

  it("refuses a tool given by a relative path or no name", () => {
    expect(refusal({ binaries: ["./bin/tool"] })).toBe(
      '--binary "./bin/tool" must be a name on PATH or an absolute path'
    )
    expect(refusal({ binaries: [""] })).toBe('--binary "" must be a name on PATH or an absolute path')
  })
})

describe("ManagedFlags.needsOf for a reference driver: the flags add to what it declares", () => {
  const declared = (name: string) => Descriptors.byName(name)!.managed

  it("volume-local: an extra mount, capability, variable and device after its propagated mount", () => {
    expect(
      needs(
        {
          mounts: ["/srv/seed:/seed:ro"],
          capabilities: ["CAP_SYS_ADMIN"],
          env: ["SEED=/seed"],
          devices: ["/dev/fuse"],
          propagatedMount: Option.some("/var/lib/docker-plugin-kit")
        },
        declared("volume-local"),
        "volume-local"
      )
    ).toEqual({
      ...declared("volume-local"),
      mounts: [{ source: "/srv/seed", destination: "/seed", options: ["rbind", "ro"] }],
      capabilities: ["CAP_SYS_ADMIN"],
      env: [{ name: "SEED", value: "/seed" }],
      devices: ["/dev/fuse"]
    })
  })

  it("network-bridge: its capability and tool count once, its host network may be repeated, not changed", () => {
    const bridge = declared("network-bridge")!
    const merged = needs(
      { capabilities: ["CAP_NET_ADMIN", "CAP_NET_RAW"], binaries: ["ip", "tc"], network: Option.some("host") },
      bridge,
      "network-bridge"
    )
    expect(merged.capabilities).toEqual(["CAP_NET_ADMIN", "CAP_NET_RAW"])
    expect(merged.binaries).toEqual(["ip", "tc"])
    expect(merged.serveFlags).toEqual(bridge.serveFlags)
    expect(refusal({ network: Option.some("none") }, bridge, "network-bridge")).toBe(
      '--network "none": network-bridge needs the network host'
    )
  })

  it("refuses another propagated mount, and a mount on a destination the driver mounts or on its propagated mount", () => {
    expect(refusal({ propagatedMount: Option.some("/mnt/x") }, declared("volume-local"), "volume-local")).toBe(
      '--propagated-mount "/mnt/x": volume-local has its own, /var/lib/docker-plugin-kit (a plugin has one)'
    )
    expect(refusal({ mounts: ["/srv:/var/lib/docker-plugin-kit"] }, declared("volume-local"), "volume-local")).toBe(
      '--mount "/srv:/var/lib/docker-plugin-kit": /var/lib/docker-plugin-kit is the propagated mount'
    )
    expect(
      refusal({ mounts: ["/etc/policy:/etc/docker-plugin-kit/authz-policy"] }, declared("authz-policy"), "authz-policy")
    ).toBe(
      '--mount "/etc/policy:/etc/docker-plugin-kit/authz-policy": authz-policy mounts /etc/docker-plugin-kit/authz-policy on /etc/docker-plugin-kit/authz-policy already'
    )
    expect(refusal({ mounts: ["/srv/etc:/etc"] }, declared("authz-policy"), "authz-policy")).toBe(
      '--mount "/srv/etc:/etc": /etc would hide authz-policy\'s mount of /etc/docker-plugin-kit/authz-policy on /etc/docker-plugin-kit/authz-policy'
    )
    expect(refusal({ propagatedMount: Option.some("/etc") }, declared("authz-policy"), "authz-policy")).toBe(
      '--propagated-mount "/etc": authz-policy mounts /etc/docker-plugin-kit/authz-policy on /etc/docker-plugin-kit/authz-policy, which overlaps it'
    )
  })

  it("keeps a host namespace the driver asks for when the flag is not given", () => {
    expect(needs({ pidHost: false }, { pidHost: true }).pidHost).toBe(true)
  })
})
