import { AuthzRequest, ContainerSpec } from "@docker-plugin-kit/helpers"
import { describe, expect, it } from "@effect/vitest"
import * as Result from "effect/Result"

const request = (method: string, uri: string, body?: unknown) =>
  AuthzRequest.fromRequest({
    RequestMethod: method,
    RequestUri: uri,
    ...(body === undefined
      ? {}
      : {
          RequestHeaders: { "Content-Type": "application/json" },
          RequestBody: Buffer.from(typeof body === "string" ? body : JSON.stringify(body)).toString("base64")
        })
  })

const specOf = (method: string, uri: string, body?: unknown) => {
  const result = ContainerSpec.of(request(method, uri, body))
  if (Result.isFailure(result)) throw new Error(result.failure)
  return result.success
}

describe("ContainerSpec.of", () => {
  it("reads what docker run asks of the host", () => {
    const spec = specOf("POST", "/v1.41/containers/create?name=x", {
      Image: "busybox",
      HostConfig: {
        Privileged: true,
        Binds: ["/etc/../etc/:/host-etc:ro", "data:/data", "/srv/app:/app"],
        Mounts: [
          { Type: "bind", Source: "/var/run/docker.sock", Target: "/s" },
          { Type: "volume", Source: "named", Target: "/v" },
          {
            Type: "volume",
            Target: "/sneaky",
            VolumeOptions: { DriverConfig: { Name: "local", Options: { type: "none", o: "bind", device: "/root" } } }
          },
          { Type: "tmpfs", Target: "/t" }
        ],
        CapAdd: ["cap_sys_admin", "NET_ADMIN"],
        NetworkMode: "host",
        PidMode: "host",
        IpcMode: "private",
        Devices: [{ PathOnHost: "/dev/fuse", PathInContainer: "/dev/fuse", CgroupPermissions: "rwm" }],
        DeviceCgroupRules: ["c 10:229 rwm"],
        SecurityOpt: ["seccomp:unconfined", "apparmor=unconfined", "no-new-privileges", "label=disable"]
      }
    })
    expect(spec).toEqual({
      image: "busybox",
      privileged: true,
      hostMounts: [
        { source: "/etc", origin: "Binds" },
        { source: "/srv/app", origin: "Binds" },
        { source: "/var/run/docker.sock", origin: "Mounts" },
        { source: "/root", origin: "VolumeOptions" }
      ],
      capAdd: ["SYS_ADMIN", "NET_ADMIN"],
      hostNamespaces: ["network", "pid"],
      devices: ["/dev/fuse"],
      deviceCgroupRules: ["c 10:229 rwm"],
      deviceRequests: [],
      securityOpts: ["seccomp=unconfined", "apparmor=unconfined", "no-new-privileges=true", "label=disable"],
      fromContainers: []
    })
  })

  it("reads devices asked for by kind (--gpus), which a device driver maps whatever their paths", () => {
    const spec = specOf("POST", "/v1.41/containers/create", {
      Image: "cuda",
      HostConfig: {
        DeviceRequests: [
          { Driver: "", Count: -1, DeviceIDs: null, Capabilities: [["gpu"]], Options: {} },
          { driver: "nvidia", deviceids: ["0", "2"], capabilities: [["gpu", "utility"], ["compute"]] }
        ]
      }
    })
    expect(spec?.deviceRequests).toEqual([
      { driver: "", count: -1, deviceIds: [], capabilities: [["gpu"]] },
      { driver: "nvidia", count: 0, deviceIds: ["0", "2"], capabilities: [["gpu", "utility"], ["compute"]] }
    ])
    expect(
      specOf("POST", "/v1.41/containers/create", { HostConfig: { DeviceRequests: null } })?.deviceRequests
    ).toEqual([])
  })

  it("reads what a create takes from other containers: volumes, and network, PID and IPC namespaces", () => {
    const spec = specOf("POST", "/v1.41/containers/create", {
      Image: "busybox",
      HostConfig: {
        VolumesFrom: ["admin:ro", "data"],
        NetworkMode: "container:web",
        PidMode: "Container:db",
        IpcMode: "shareable"
      }
    })
    expect(spec?.fromContainers).toEqual([
      { kind: "volumes", container: "admin" },
      { kind: "volumes", container: "data" },
      { kind: "network", container: "web" },
      { kind: "pid", container: "db" }
    ])
    // A start from an old client carries a host configuration too, and the create body's top level when it has none.
    expect(specOf("POST", "/v1.23/containers/c/start", { IpcMode: "container:x" })?.fromContainers).toEqual([
      { kind: "ipc", container: "x" }
    ])
    expect(specOf("POST", "/v1.41/containers/create", { VolumesFrom: ["admin"] })?.fromContainers).toEqual([
      { kind: "volumes", container: "admin" }
    ])
    expect(
      specOf("POST", "/v1.41/containers/create", { HostConfig: { NetworkMode: "bridge" } })?.fromContainers
    ).toEqual([])
  })

  it("reads security options the way the daemon splits them", () => {
    expect(ContainerSpec.securityOption("seccomp=unconfined")).toBe("seccomp=unconfined")
    // The older colon spelling, which the daemon still takes.
    expect(ContainerSpec.securityOption("seccomp:unconfined")).toBe("seccomp=unconfined")
    expect(ContainerSpec.securityOption("no-new-privileges")).toBe("no-new-privileges=true")
    expect(ContainerSpec.securityOption("disable")).toBe("label=disable")
    expect(ContainerSpec.securityOption("label:type:svirt_t")).toBe("label=type:svirt_t")
    // A profile the CLI inlined: split at the first `=`, so a colon in the JSON is not the separator.
    expect(ContainerSpec.securityOption('seccomp={"defaultAction":"SCMP_ACT_ALLOW"}')).toBe(
      'seccomp={"defaultAction":"SCMP_ACT_ALLOW"}'
    )
    const spec = specOf("POST", "/containers/create", { hostconfig: { securityopt: ["apparmor:unconfined"] } })
    expect(spec?.securityOpts).toEqual(["apparmor=unconfined"])
  })

  it("reads --security-opt systempaths=unconfined from the lists the CLI sends for it", () => {
    const options = (host: Record<string, unknown>) =>
      specOf("POST", "/containers/create", { HostConfig: host })?.securityOpts
    // What the CLI sends for the option: empty lists, which replace the daemon's defaults.
    expect(options({ MaskedPaths: [], ReadonlyPaths: [] })).toEqual(["systempaths=unconfined"])
    // A list of its own that leaves one default out unmasks it just the same.
    expect(options({ maskedpaths: ["/proc/kcore"] })).toEqual(["systempaths=unconfined"])
    expect(options({ ReadonlyPaths: ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sysrq-trigger"] })).toEqual([
      "systempaths=unconfined"
    ])
    // Absent or null: the defaults; every default listed (and more): still confined.
    expect(options({ MaskedPaths: null })).toEqual([])
    expect(
      options({ ReadonlyPaths: ["/proc/bus/", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", "/x"] })
    ).toEqual([])
  })

  it("reads a create's host fields from the top of the body when it has no HostConfig object, as the daemon does", () => {
    const top = specOf("POST", "/v1.41/containers/create", {
      Image: "busybox",
      Privileged: true,
      binds: ["/:/host"],
      CapAdd: ["SYS_ADMIN"],
      Devices: [{ PathOnHost: "/dev/mem" }]
    })
    expect(top).toMatchObject({
      privileged: true,
      hostMounts: [{ source: "/", origin: "Binds" }],
      capAdd: ["SYS_ADMIN"],
      devices: ["/dev/mem"]
    })
    expect(specOf("POST", "/containers/create", { HostConfig: null, Privileged: true })?.privileged).toBe(true)
    // A HostConfig object wins: the daemon then ignores the top-level fields.
    expect(specOf("POST", "/containers/create", { HostConfig: {}, Privileged: true })?.privileged).toBe(false)
    // The last spelling of the key decides, as in Go, when it replaces the earlier value.
    expect(
      specOf("POST", "/containers/create", { HostConfig: null, hostconfig: {}, Privileged: true })?.privileged
    ).toBe(false)
    // A later null resets a pointer such as HostConfig but leaves a bool or a struct as it was: without Go's types,
    // the body is unknown.
    const reset = ContainerSpec.of(
      request("POST", "/containers/create", { HostConfig: {}, hostconfig: null, Privileged: true })
    )
    expect(Result.isFailure(reset) && reset.failure).toMatch(/repeats the key "hostconfig"/)
  })

  it("reads keys case-insensitively, as the daemon's decoder does, so spelling hides nothing", () => {
    const spec = specOf("POST", "/containers/create", {
      image: "busybox",
      "Ho\u017ftConfig": { privileged: true, binds: ["/:/host"], capadd: ["SYS_ADMIN"] }
    })
    expect(spec).toMatchObject({
      privileged: true,
      hostMounts: [{ source: "/", origin: "Binds" }],
      capAdd: ["SYS_ADMIN"]
    })
    // Go merges a second HostConfig object into the first (Binds kept), which JSON.parse cannot: the body is unknown.
    const merged = ContainerSpec.of(
      request("POST", "/containers/create", {
        hostconfig: { binds: ["/:/host"] },
        "Ho\u017ftConfig": { Privileged: false }
      })
    )
    expect(Result.isFailure(merged) && merged.failure).toMatch(/repeats the key "Ho\u017ftConfig"/)
  })

  it("reads docker exec --privileged, a bind volume created with the local driver, and docker pull's image", () => {
    expect(specOf("POST", "/v1.41/containers/c1/exec", { Privileged: true, Cmd: ["sh"] })?.privileged).toBe(true)
    expect(
      specOf("POST", "/v1.41/volumes/create", {
        Name: "v",
        Driver: "local",
        DriverOpts: { type: "none", o: "rbind,ro", device: "/etc" }
      })?.hostMounts
    ).toEqual([{ source: "/etc", origin: "DriverOpts" }])
    expect(
      specOf("POST", "/v1.41/volumes/create", { Name: "v", Driver: "other", DriverOpts: { o: "bind", device: "/etc" } })
        ?.hostMounts
    ).toEqual([])
    expect(specOf("POST", "/v1.41/images/create?fromImage=busybox&tag=1.36")?.image).toBe("busybox:1.36")
    expect(specOf("POST", "/v1.41/images/create?fromSrc=-")).toBeUndefined()
  })

  it("counts a local volume that can expose the whole host (a disk, proc, sysfs, overlay, a relative bind) as /", () => {
    const volume = (DriverOpts: Record<string, string>) =>
      specOf("POST", "/v1.41/volumes/create", { Name: "v", DriverOpts })?.hostMounts
    const everything = [{ source: "/", origin: "DriverOpts" }]
    expect(volume({ type: "proc", device: "proc" })).toEqual(everything)
    expect(volume({ type: "sysfs", device: "sysfs" })).toEqual(everything)
    expect(volume({ type: "ext4", device: "/dev/sda1" })).toEqual(everything)
    expect(volume({ type: "overlay", device: "overlay", o: "lowerdir=/etc,upperdir=/u,workdir=/w" })).toEqual(
      everything
    )
    // A relative bind device is resolved from the daemon's working folder: anything, with `..`.
    expect(volume({ type: "none", o: "bind", device: "../../etc" })).toEqual(everything)
    // Memory and other machines' files hold nothing of the host; without a device nothing is mounted.
    expect(volume({ type: "tmpfs", device: "tmpfs", o: "size=64m" })).toEqual([])
    expect(volume({ type: "nfs", device: ":/export", o: "addr=10.0.0.1" })).toEqual([])
    expect(volume({ type: "cifs", device: "//server/share" })).toEqual([])
    expect(volume({})).toEqual([])
    // The same through an inline volume of a create.
    const inline = specOf("POST", "/v1.41/containers/create", {
      Image: "busybox",
      HostConfig: {
        Mounts: [
          { Type: "volume", Target: "/p", VolumeOptions: { DriverConfig: { Options: { type: "proc", device: "p" } } } }
        ]
      }
    })
    expect(inline?.hostMounts).toEqual([{ source: "/", origin: "VolumeOptions" }])
  })

  it("reads the host configuration an old client sends with docker start, which the daemon still applies", () => {
    const spec = specOf("POST", "/v1.23/containers/c1/start", { Privileged: true, Binds: ["/:/host"], PidMode: "host" })
    expect(spec).toMatchObject({ privileged: true, hostMounts: [{ source: "/", origin: "Binds" }] })
    expect(spec?.hostNamespaces).toEqual(["pid"])
    // The daemon decodes it as a create's body: a `HostConfig` object wins over the top level.
    const wrapped = specOf("POST", "/v1.23/containers/c1/start", {
      Privileged: false,
      Image: "busybox",
      HostConfig: { Privileged: true, Binds: ["/var/run/docker.sock:/s"], CapAdd: ["SYS_ADMIN"] }
    })
    expect(wrapped).toMatchObject({
      image: undefined,
      privileged: true,
      hostMounts: [{ source: "/var/run/docker.sock", origin: "Binds" }],
      capAdd: ["SYS_ADMIN"]
    })
    // A start without a body (text/plain and empty, as the CLI sends it; or JSON of length 0) asks for nothing.
    expect(specOf("POST", "/v1.41/containers/c1/start")).toMatchObject({ privileged: false, hostMounts: [] })
    const emptyJson = AuthzRequest.fromRequest({
      RequestMethod: "POST",
      RequestUri: "/v1.41/containers/c1/start",
      RequestHeaders: { "Content-Type": "application/json", "Content-Length": "0" }
    })
    expect(Result.getOrThrow(ContainerSpec.of(emptyJson))).toMatchObject({ privileged: false, hostMounts: [] })
  })

  it("reads a build's network mode from its query (its body is the context)", () => {
    expect(specOf("POST", "/v1.41/build?t=x&networkmode=host")?.hostNamespaces).toEqual(["network"])
    expect(specOf("POST", "/v1.41/build?networkmode=none")?.hostNamespaces).toEqual([])
    expect(specOf("POST", "/build")?.hostNamespaces).toEqual([])
  })

  it("reads the options a build gives its RUN containers as a create's: security options, another container's network", () => {
    // As the CLI sends `docker build --security-opt seccomp=unconfined --security-opt apparmor:unconfined`: one
    // pair per option, URL-encoded, in the older spelling when written so.
    const options = specOf(
      "POST",
      "/v1.41/build?buildargs=%7B%7D&networkmode=default&rm=1&securityopt=seccomp%3Dunconfined&securityopt=apparmor%3Aunconfined&shmsize=0&version=1"
    )
    expect(options?.securityOpts).toEqual(["seccomp=unconfined", "apparmor=unconfined"])
    expect(specOf("POST", "/v1.41/build?securityopt=no-new-privileges")?.securityOpts).toEqual([
      "no-new-privileges=true"
    ])
    // The legacy builder runs each step in the named container's network namespace.
    expect(specOf("POST", "/v1.41/build?networkmode=container%3Aholder")).toMatchObject({
      hostNamespaces: [],
      fromContainers: [{ kind: "network", container: "holder" }]
    })
    expect(specOf("POST", "/v1.41/build?t=x&networkmode=host")).toMatchObject({ securityOpts: [], fromContainers: [] })
  })

  it("fails on a build whose options the daemon may read from a form body it does not forward", () => {
    const build = (headers: Record<string, string>) =>
      ContainerSpec.of(
        AuthzRequest.fromRequest({
          RequestMethod: "POST",
          RequestUri: "/v1.41/build?remote=x",
          RequestHeaders: headers
        })
      )
    for (const type of [
      "application/x-www-form-urlencoded",
      "Application/X-WWW-Form-Urlencoded; charset=utf-8",
      "multipart/form-data; boundary=x"
    ]) {
      // Its length known or not (chunked).
      for (const length of [{ "Content-Length": "10240" }, {}]) {
        const form = build({ "Content-Type": type, ...length })
        expect(Result.isFailure(form) && form.failure, type).toMatch(/reads them from its body too when it is a form/)
      }
      expect(Result.isSuccess(build({ "Content-Type": type, "Content-Length": "0" }))).toBe(true)
    }
    // A context (a tar, compressed or not), or a build without a body, is not a form.
    expect(Result.isSuccess(build({ "Content-Type": "application/x-tar" }))).toBe(true)
    expect(Result.isSuccess(build({ "Content-Type": "application/octet-stream", "Content-Length": "99" }))).toBe(true)
    expect(Result.isSuccess(build({}))).toBe(true)
  })

  it("reads what a managed plugin is granted at install, and what docker plugin set changes", () => {
    const privileges = [
      { Name: "network", Description: "permissions to access a network", Value: ["host"] },
      { Name: "mount", Description: "host path to mount", Value: ["/var/lib/docker/plugins/"] },
      { Name: "device", Description: "host device to access", Value: ["/dev/fuse"] },
      { Name: "capabilities", Description: "list of additional capabilities required", Value: ["CAP_SYS_ADMIN"] },
      { Name: "host pid namespace", Description: "allow access to host pid namespace", Value: ["true"] },
      { Name: "allow-all-devices", Description: "allow 'rwm' access to all devices", Value: ["true"] }
    ]
    expect(specOf("POST", "/v1.41/plugins/pull?remote=vieux/sshfs:latest&name=sshfs", privileges)).toEqual({
      image: "vieux/sshfs:latest",
      privileged: false,
      hostMounts: [{ source: "/var/lib/docker/plugins", origin: "PluginPrivileges" }],
      capAdd: ["SYS_ADMIN"],
      hostNamespaces: ["network", "pid"],
      devices: ["/dev/fuse"],
      deviceCgroupRules: ["a *:* rwm"],
      deviceRequests: [],
      securityOpts: [],
      fromContainers: []
    })
    expect(specOf("POST", "/v1.41/plugins/sshfs:latest/upgrade?remote=vieux/sshfs:2", [])?.image).toBe("vieux/sshfs:2")
    const set = specOf("POST", "/v1.41/plugins/my/plugin:1/set", [
      "state.source=/etc/",
      "fuse.path=/dev/sda",
      "DEBUG=1"
    ])
    expect(set).toMatchObject({ hostMounts: [{ source: "/etc", origin: "PluginSettings" }], devices: ["/dev/sda"] })
    // The daemon's reading of a setting: no field (or an empty one) sets the one settable field of what it names.
    const unfielded = specOf("POST", "/v1.41/plugins/p/set", [
      "mount0=/",
      "mount1.=/var/run/docker.sock",
      "dev0=/dev/sdb"
    ])
    expect(unfielded?.hostMounts.map((m) => m.source)).toEqual(["/", "/var/run/docker.sock", "/dev/sdb"])
    expect(unfielded?.devices).toEqual(["/", "/var/run/docker.sock", "/dev/sdb"])
    // A relative source is resolved from the plugin's bundle folder: with `..` it reaches anything.
    const relative = specOf("POST", "/v1.41/plugins/p/set", [
      "m.source=../../../etc",
      "n.source=data/x",
      "d.path=dev/sda"
    ])
    expect(relative).toMatchObject({ hostMounts: [{ source: "/", origin: "PluginSettings" }], devices: ["/dev/sda"] })
    // An environment variable's value is no host path.
    expect(specOf("POST", "/v1.41/plugins/p/set", ["DEBUG=1", "LEVEL=info", "EMPTY="])).toMatchObject({
      hostMounts: [],
      devices: []
    })
    const pulled = specOf("POST", "/v1.41/plugins/pull?remote=evil/p", [{ Name: "mount", Value: ["../../../../"] }])
    expect(pulled?.hostMounts).toEqual([{ source: "/", origin: "PluginPrivileges" }])
    const notArray = ContainerSpec.of(request("POST", "/v1.41/plugins/pull?remote=x", { Name: "mount" }))
    expect(Result.isFailure(notArray)).toBe(true)
  })

  it("does not take a body the daemon reads whatever its content type, yet did not forward, for an empty one", () => {
    const sent = (uri: string, headers: Record<string, string>) =>
      ContainerSpec.of(AuthzRequest.fromRequest({ RequestMethod: "POST", RequestUri: uri, RequestHeaders: headers }))
    // The plugin routes and the services routes decode `text/plain` as JSON; only JSON bodies reach the plugin.
    for (const uri of ["/v1.41/plugins/pull?remote=x", "/v1.41/plugins/p/set", "/v1.41/services/create"]) {
      const plain = sent(uri, { "Content-Type": "text/plain", "Content-Length": "120" })
      expect(Result.isFailure(plain) && plain.failure).toMatch(
        /whatever its content type \(text\/plain\), but forwards only JSON/
      )
      expect(Result.isSuccess(sent(uri, { "Content-Type": "text/plain", "Content-Length": "0" }))).toBe(true)
    }
    // A create with a text/plain body is refused by the daemon itself: nothing to fear there.
    expect(
      Result.isSuccess(sent("/v1.41/containers/create", { "Content-Type": "text/plain", "Content-Length": "99" }))
    ).toBe(true)
    // Unless Content-Type was sent twice, application/json first: the daemon decodes the body and shows the plugin
    // text/plain, and a body of 1 MiB or more, or of unknown length, was not forwarded.
    for (const length of [{ "Content-Length": String(1024 * 1024) }, {}]) {
      const hidden = sent("/v1.23/containers/c1/start", { "Content-Type": "text/plain", ...length })
      expect(Result.isFailure(hidden) && hidden.failure).toMatch(/the daemon goes by the first one sent/)
    }
    // Without any Content-Type the daemon refuses a body: curl -X POST .../start is a plain start.
    expect(Result.isSuccess(sent("/v1.41/containers/c1/start", {}))).toBe(true)
  })

  it("reads CapAdd given as one string, which the daemon takes as a list of one", () => {
    expect(specOf("POST", "/containers/create", { HostConfig: { CapAdd: "cap_sys_admin" } })?.capAdd).toEqual([
      "SYS_ADMIN"
    ])
    expect(specOf("POST", "/v1.23/containers/c1/start", { capadd: "ALL" })?.capAdd).toEqual(["ALL"])
  })

  it("reads service specifications", () => {
    const spec = specOf("POST", "/v1.41/services/create", {
      TaskTemplate: {
        ContainerSpec: { Image: "nginx", Mounts: [{ Type: "bind", Source: "/etc" }], CapabilityAdd: ["CAP_SYS_ADMIN"] }
      }
    })
    expect(spec).toMatchObject({
      image: "nginx",
      hostMounts: [{ source: "/etc", origin: "Mounts" }],
      capAdd: ["SYS_ADMIN"]
    })
    // The `plugin` runtime installs a managed plugin on every node with the privileges the spec grants.
    const plugin = specOf("POST", "/v1.41/services/create", {
      Mode: { Global: {} },
      TaskTemplate: {
        Runtime: "plugin",
        PluginSpec: {
          Remote: "evil/plugin:latest",
          Privileges: [
            { Name: "mount", Value: ["/"] },
            { Name: "capabilities", Value: ["CAP_SYS_ADMIN"] },
            { Name: "network", Value: ["host"] }
          ]
        }
      }
    })
    expect(plugin).toMatchObject({
      image: "evil/plugin:latest",
      hostMounts: [{ source: "/", origin: "PluginPrivileges" }],
      capAdd: ["SYS_ADMIN"],
      hostNamespaces: ["network"]
    })
  })

  it("reads a service's host network, by name in either list, and its privileges as security options", () => {
    const hostNetwork = (body: object) => specOf("POST", "/v1.41/services/create", body)?.hostNamespaces
    expect(hostNetwork({ TaskTemplate: { Networks: [{ Target: "overlay-a" }, { Target: "host" }] } })).toEqual([
      "network"
    ])
    // The older top-level list, which the daemon reads when the task template names none; keys in any case.
    expect(hostNetwork({ networks: [{ target: "HOST" }] })).toEqual(["network"])
    expect(
      hostNetwork({ TaskTemplate: { Networks: [{ Target: "hostile" }] }, Networks: [{ Target: "ingress" }] })
    ).toEqual([])
    const spec = specOf("POST", "/v1.41/services/s/update?version=3", {
      TaskTemplate: {
        ContainerSpec: {
          Image: "nginx",
          Privileges: {
            SELinuxContext: { Disable: true },
            Seccomp: { Mode: "unconfined" },
            AppArmor: { Mode: "Disabled" }
          }
        }
      }
    })
    expect(spec?.securityOpts).toEqual(["label=disable", "seccomp=unconfined", "apparmor=unconfined"])
    const confined = specOf("POST", "/v1.41/services/create", {
      TaskTemplate: {
        ContainerSpec: { Privileges: { SELinuxContext: { Disable: false }, Seccomp: { Mode: "default" } } }
      }
    })
    expect(confined?.securityOpts).toEqual([])
  })

  it("has no specification for routes that carry none, and an empty one for a create without a body", () => {
    expect(specOf("GET", "/v1.41/containers/json")).toBeUndefined()
    expect(specOf("PUT", "/v1.41/containers/c/archive?path=/")).toBeUndefined()
    expect(specOf("POST", "/containers/create")?.privileged).toBe(false)
  })

  it("fails, saying why, when a specification route's body is withheld, unreadable or not an object", () => {
    const withheld = ContainerSpec.of(
      AuthzRequest.fromRequest({
        RequestMethod: "POST",
        RequestUri: "/v1.41/containers/create",
        RequestHeaders: { "Content-Type": "application/json" }
      })
    )
    expect(Result.isFailure(withheld) && withheld.failure).toMatch(
      /^cannot read the body of POST containers\/create: the daemon did not forward/
    )
    const broken = ContainerSpec.of(request("POST", "/containers/create", '{"HostConfig":'))
    expect(Result.isFailure(broken) && broken.failure).toMatch(/not valid JSON/)
    const array = ContainerSpec.of(request("POST", "/containers/create", "[1]"))
    expect(Result.isFailure(array) && array.failure).toBe("the body of POST containers/create is not a JSON object")
  })
})

describe("paths, capabilities and images", () => {
  it("compares host paths by whole components, after cleaning", () => {
    expect(ContainerSpec.isUnder("/etc/passwd", "/etc")).toBe(true)
    expect(ContainerSpec.isUnder("/etc", "/etc/")).toBe(true)
    expect(ContainerSpec.isUnder("/etcd", "/etc")).toBe(false)
    expect(ContainerSpec.isUnder("/srv/../etc/x", "/etc")).toBe(true)
    expect(ContainerSpec.isUnder("//etc//x", "/etc")).toBe(true)
    expect(ContainerSpec.isUnder("/anything", "/")).toBe(true)
  })

  it("says a mount exposes a path when it is, contains or lies under it", () => {
    expect(ContainerSpec.exposes("/", "/var/run/docker.sock")).toBe(true)
    expect(ContainerSpec.exposes("/var/run", "/var/run/docker.sock")).toBe(true)
    expect(ContainerSpec.exposes("/var/run/docker.sock", "/var/run/docker.sock")).toBe(true)
    expect(ContainerSpec.exposes("/etc/ssl", "/etc")).toBe(true)
    expect(ContainerSpec.exposes("/var/lib", "/var/run/docker.sock")).toBe(false)
  })

  it("normalises capability names and qualifies image references", () => {
    expect(["cap_sys_admin", " SYS_ADMIN ", "CAP_SYS_ADMIN"].map(ContainerSpec.capability)).toEqual([
      "SYS_ADMIN",
      "SYS_ADMIN",
      "SYS_ADMIN"
    ])
    expect(ContainerSpec.qualifiedImage("busybox")).toBe("docker.io/library/busybox:latest")
    expect(ContainerSpec.qualifiedImage("team/app:1")).toBe("docker.io/team/app:1")
    expect(ContainerSpec.qualifiedImage("registry:5000/app")).toBe("registry:5000/app:latest")
    expect(ContainerSpec.qualifiedImage("localhost/app@sha256:abc")).toBe("localhost/app@sha256:abc")
    // Other spellings of Docker Hub, as the daemon normalises them: a deny rule on one catches them all.
    expect(ContainerSpec.qualifiedImage("docker.io/busybox")).toBe("docker.io/library/busybox:latest")
    expect(ContainerSpec.qualifiedImage("index.docker.io/evil/x")).toBe("docker.io/evil/x:latest")
    expect(ContainerSpec.qualifiedImage("index.docker.io/busybox:1")).toBe("docker.io/library/busybox:1")
    expect(ContainerSpec.qualifiedImage("Registry/app")).toBe("Registry/app:latest")
  })
})
