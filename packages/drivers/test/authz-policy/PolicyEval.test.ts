import { Policy, PolicyEval } from "@docker-plugin-kit/drivers"
import { AuthzRequest } from "@docker-plugin-kit/helpers"
import type { Authorization } from "@docker-plugin-kit/protocol"
import { AuthzSequences } from "@docker-plugin-kit/testkit"
import { describe, expect, it } from "@effect/vitest"
import * as Result from "effect/Result"
import * as Fs from "node:fs"
import { fileURLToPath } from "node:url"

const baseline = Result.getOrThrow(
  Policy.parse(
    Fs.readFileSync(fileURLToPath(new URL("../../../../examples/authz-policy/baseline.yaml", import.meta.url)), "utf8"),
    "baseline.yaml"
  )
)

const policy = (yaml: string) => Result.getOrThrow(Policy.parse(yaml, "test.yaml"))

/** The request as the daemon sends it (fake daemon's rules), parsed; `extra` overrides fields. */
const raw = (method: string, uri: string, body?: unknown, extra: Partial<Authorization.AuthZRequest> = {}) =>
  AuthzRequest.fromRequest({
    ...AuthzSequences.authZRequestOf({
      method,
      uri,
      ...(body === undefined ? {} : { body: { _tag: "Json", value: body } })
    }),
    ...extra
  })

const create = (hostConfig: Record<string, unknown>, image = "busybox") =>
  raw("POST", "/v1.41/containers/create", { Image: image, HostConfig: hostConfig })

describe("the baseline policy", () => {
  const decide = (request: AuthzRequest.AuthzRequest) => PolicyEval.decide(baseline, request)

  it("allows ordinary commands by default", () => {
    for (const request of [
      raw("HEAD", "/_ping"),
      raw("GET", "/v1.41/containers/json?all=1"),
      create({ Binds: ["data:/data", "/srv/app:/app"], CapAdd: ["CHOWN"] }),
      raw("PUT", "/v1.41/containers/c/archive?path=/tmp", undefined, {
        RequestHeaders: { "Content-Type": "application/x-tar" }
      }),
      raw("POST", "/v1.41/images/load?quiet=1", undefined, { RequestHeaders: { "Content-Type": "application/x-tar" } })
    ]) {
      expect(decide(request)).toEqual({ allow: true, rule: "default", message: undefined })
    }
  })

  it("denies privileged containers and privileged exec", () => {
    const expected = {
      allow: false,
      rule: "no-privileged",
      message: "privileged containers are not allowed (baseline policy)"
    }
    expect(decide(create({ Privileged: true }))).toEqual(expected)
    expect(decide(raw("POST", "/v1.41/containers/c/exec", { Privileged: true, Cmd: ["sh"] }))).toEqual(expected)
  })

  it("denies bind mounts of /, /etc and the Docker socket, however they are written", () => {
    for (const host of [
      { Binds: ["/:/host"] },
      { Binds: ["/etc:/e:ro"] },
      { Binds: ["/etc/ssl/:/ssl"] },
      { Binds: ["/srv/../etc:/e"] },
      { Binds: ["/var/run:/r"] },
      { Mounts: [{ Type: "bind", Source: "/var/run/docker.sock", Target: "/s" }] },
      { Mounts: [{ Type: "bind", Source: "/run/docker.sock", Target: "/s" }] },
      {
        Mounts: [
          {
            Type: "volume",
            Target: "/v",
            VolumeOptions: { DriverConfig: { Options: { type: "none", o: "bind", device: "/etc" } } }
          }
        ]
      },
      { Binds: [] as Array<string>, binds: ["/:/h"] }
    ]) {
      expect(decide(create(host)).rule).toBe("no-host-root-etc-or-docker-socket")
    }
    expect(
      decide(
        raw("POST", "/v1.41/volumes/create", { Name: "v", DriverOpts: { o: "bind", device: "/etc", type: "none" } })
      ).allow
    ).toBe(false)
  })

  it("denies adding SYS_ADMIN, NET_ADMIN or ALL, in any spelling", () => {
    for (const caps of [["SYS_ADMIN"], ["cap_net_admin"], ["CHOWN", "CAP_SYS_ADMIN"], ["ALL"]]) {
      expect(decide(create({ CapAdd: caps })).rule).toBe("no-sys-admin-or-net-admin")
    }
  })

  it("denies host fields given at the top of a create body, which the daemon reads when there is no HostConfig", () => {
    const top = (body: Record<string, unknown>) =>
      raw("POST", "/v1.41/containers/create", { Image: "busybox", ...body })
    expect(decide(top({ Privileged: true })).rule).toBe("no-privileged")
    expect(decide(top({ Binds: ["/var/run/docker.sock:/s"] })).rule).toBe("no-host-root-etc-or-docker-socket")
    expect(decide(top({ capadd: ["NET_ADMIN"] })).rule).toBe("no-sys-admin-or-net-admin")
    expect(decide(top({ HostConfig: {}, Privileged: true })).rule).toBe("default")
  })

  it("denies a privileged host configuration sent with docker start by an old API client, allows a plain start", () => {
    const old = raw("POST", "/v1.23/containers/c1/start", { Privileged: true })
    expect(decide(old)).toMatchObject({ allow: false, rule: "no-privileged" })
    expect(decide(raw("POST", "/v1.23/containers/c1/start", { Binds: ["/etc:/x"] })).allow).toBe(false)
    // The CLI's start: no body, text/plain; another client's: JSON of length 0, or an empty object.
    const plain = raw("POST", "/v1.41/containers/c1/start", undefined, {
      RequestHeaders: { "Content-Type": "text/plain", "Content-Length": "0" }
    })
    const emptyJson = raw("POST", "/v1.41/containers/c1/start", undefined, {
      RequestHeaders: { "Content-Type": "application/json", "Content-Length": "0" }
    })
    for (const request of [plain, emptyJson, raw("POST", "/v1.41/containers/c1/start", {})]) {
      expect(decide(request)).toMatchObject({ allow: true, rule: "default" })
    }
    // A JSON body of unknown length (chunked) was not forwarded: it could hold anything.
    const chunked = raw("POST", "/v1.23/containers/c1/start", undefined, {
      RequestHeaders: { "Content-Type": "application/json" }
    })
    expect(decide(chunked)).toMatchObject({ allow: false, rule: "unreadable-body" })
  })

  it("fails closed when a container's body was withheld or is unreadable", () => {
    const withheld = raw("POST", "/v1.41/containers/create", undefined, {
      RequestHeaders: { "Content-Type": "application/json" }
    })
    const verdict = decide(withheld)
    expect(verdict.allow).toBe(false)
    expect(verdict.rule).toBe("unreadable-body")
    expect(verdict.message).toMatch(
      /^rule no-privileged needs the request: cannot read the body of POST containers\/create/
    )
    const broken = AuthzRequest.fromRequest({
      RequestMethod: "POST",
      RequestUri: "/containers/create",
      RequestHeaders: { "Content-Type": "application/json" },
      RequestBody: Buffer.from("{oops").toString("base64")
    })
    expect(decide(broken).allow).toBe(false)
  })
})

describe("PolicyEval.decide", () => {
  it("takes the first matching rule, top to bottom", () => {
    const p = policy(`
default: deny
defaultMessage: nothing else
rules:
  - { name: ops-may-run-privileged, decision: allow, users: [ops], privileged: true }
  - { name: no-privileged, decision: deny, message: no, privileged: true }
  - { name: reads, decision: allow, methods: [GET, HEAD] }
  - { name: containers, decision: allow, routes: ["containers/*"] }
`)
    const privileged = create({ Privileged: true })
    expect(PolicyEval.decide(p, privileged).rule).toBe("no-privileged")
    const asOps = AuthzRequest.fromRequest({
      User: "ops",
      UserAuthNMethod: "TLS",
      RequestMethod: "POST",
      RequestUri: "/v1.41/containers/create",
      RequestHeaders: { "Content-Type": "application/json" },
      RequestBody: Buffer.from('{"HostConfig":{"Privileged":true}}').toString("base64")
    })
    expect(PolicyEval.decide(p, asOps)).toEqual({ allow: true, rule: "ops-may-run-privileged", message: undefined })
    expect(PolicyEval.decide(p, raw("GET", "/v1.41/info")).rule).toBe("reads")
    expect(PolicyEval.decide(p, create({})).rule).toBe("containers")
    expect(PolicyEval.decide(p, raw("POST", "/v1.41/volumes/create", { Name: "v" }))).toEqual({
      allow: false,
      rule: "default",
      message: "nothing else"
    })
  })

  it("matches what a create takes from other containers, by kind", () => {
    const p = policy(`
default: allow
rules:
  - { name: no-borrowed-volumes, decision: deny, fromContainers: [volumes] }
  - { name: no-borrowed-pid, decision: deny, message: own PID namespace only, fromContainers: [pid] }
`)
    expect(PolicyEval.decide(p, create({ VolumesFrom: ["admin:ro"] })).rule).toBe("no-borrowed-volumes")
    expect(PolicyEval.decide(p, create({ PidMode: "container:db" })).message).toBe("own PID namespace only")
    expect(PolicyEval.decide(p, create({ NetworkMode: "container:web" })).rule).toBe("default")
    expect(PolicyEval.decide(p, create({})).rule).toBe("default")
  })

  it("matches host namespaces, devices and images", () => {
    const p = policy(`
default: allow
rules:
  - { name: ns, decision: deny, hostNamespaces: [pid, ipc] }
  - { name: fuse, decision: deny, devices: [/dev/fuse] }
  - { name: any-device, decision: deny, routes: [containers/create], devices: true, images: ["*/untrusted/*"] }
  - { name: only-library, decision: deny, message: pull from docker.io/library only, images: ["evil.example/*"] }
`)
    expect(PolicyEval.decide(p, create({ PidMode: "host" })).rule).toBe("ns")
    expect(PolicyEval.decide(p, create({ NetworkMode: "host" })).rule).toBe("default")
    expect(PolicyEval.decide(p, create({ Devices: [{ PathOnHost: "/dev/fuse" }] })).rule).toBe("fuse")
    expect(PolicyEval.decide(p, create({ Devices: [{ PathOnHost: "/dev/sda" }] })).rule).toBe("default")
    // A folder of devices maps the listed one too, and a cgroup rule can grant it by number.
    expect(PolicyEval.decide(p, create({ Devices: [{ PathOnHost: "/dev" }] })).rule).toBe("fuse")
    expect(PolicyEval.decide(p, create({ DeviceCgroupRules: ["c 10:229 rwm"] })).rule).toBe("fuse")
    // A device request (--gpus) gets whatever device files its driver picks.
    const gpus = { DeviceRequests: [{ Driver: "", Count: -1, Capabilities: [["gpu"]] }] }
    expect(PolicyEval.decide(p, create(gpus)).rule).toBe("fuse")
    const sda = { Devices: [{ PathOnHost: "/dev/sda" }] }
    expect(PolicyEval.decide(p, create(sda, "team/untrusted/x")).rule).toBe("any-device")
    expect(PolicyEval.decide(p, create(sda, "team/app")).rule).toBe("default")
    expect(PolicyEval.decide(p, raw("POST", "/v1.41/images/create?fromImage=evil.example/miner&tag=1")).rule).toBe(
      "only-library"
    )
    expect(PolicyEval.decide(p, create({}, "evil.example/miner")).message).toBe("pull from docker.io/library only")
  })

  it("matches security options in either spelling, and fails closed without the body", () => {
    const p = policy(`
default: allow
rules:
  - name: no-unconfined
    decision: deny
    message: confinement stays on
    securityOpts: [seccomp=unconfined, "apparmor:unconfined", systempaths=unconfined]
  - { name: no-custom-seccomp, decision: deny, securityOpts: ["seccomp=*"] }
`)
    const decide = (options: ReadonlyArray<string>) => PolicyEval.decide(p, create({ SecurityOpt: options })).rule
    expect(decide(["seccomp=unconfined"])).toBe("no-unconfined")
    expect(decide(["seccomp:unconfined"])).toBe("no-unconfined")
    expect(decide(["no-new-privileges", "apparmor=unconfined"])).toBe("no-unconfined")
    expect(decide(["systempaths=unconfined"])).toBe("no-unconfined")
    expect(decide(['seccomp={"defaultAction":"SCMP_ACT_ALLOW"}'])).toBe("no-custom-seccomp")
    expect(decide(["no-new-privileges", "label=level:s0:c100,c200"])).toBe("default")
    expect(decide([])).toBe("default")
    const withheld = raw("POST", "/v1.41/containers/create", undefined, {
      RequestHeaders: { "Content-Type": "application/json" }
    })
    expect(PolicyEval.decide(p, withheld)).toMatchObject({ allow: false, rule: "unreadable-body" })
  })

  it("matches a build's security options and borrowed network as a create's, and fails closed on a form body", () => {
    const p = policy(`
default: allow
rules:
  - name: no-unconfined
    decision: deny
    message: confinement stays on
    securityOpts: [seccomp=unconfined, apparmor=unconfined]
  - { name: no-borrowing, decision: deny, fromContainers: [network] }
`)
    const build = (query: string, contentType = "application/x-tar") =>
      raw("POST", `/v1.41/build?${query}`, undefined, { RequestHeaders: { "Content-Type": contentType } })
    // A query of `DOCKER_BUILDKIT=0 docker build --security-opt seccomp=unconfined .` in the form the CLI 20.10 sends:
    // one URL-encoded pair per option.
    const cli = build(
      "buildargs=%7B%7D&cachefrom=%5B%5D&cgroupparent=&cpuperiod=0&cpuquota=0&cpusetcpus=&cpusetmems=&cpushares=0&dockerfile=Dockerfile&labels=%7B%7D&memory=0&memswap=0&networkmode=default&rm=1&securityopt=seccomp%3Dunconfined&shmsize=0&target=&ulimits=%5B%5D&version=1"
    )
    expect(PolicyEval.decide(p, cli)).toEqual({ allow: false, rule: "no-unconfined", message: "confinement stays on" })
    // The older spelling, as the daemon splits it, and an option given after a harmless one.
    expect(PolicyEval.decide(p, build("securityopt=seccomp%3Aunconfined")).rule).toBe("no-unconfined")
    expect(PolicyEval.decide(p, build("securityopt=no-new-privileges&securityopt=apparmor:unconfined")).rule).toBe(
      "no-unconfined"
    )
    expect(PolicyEval.decide(p, build("securityopt=no-new-privileges")).rule).toBe("default")
    expect(PolicyEval.decide(p, build("networkmode=container:holder")).rule).toBe("no-borrowing")
    expect(PolicyEval.decide(p, build("networkmode=none&t=x")).rule).toBe("default")
    // Options the daemon would read from a form body, which it does not forward.
    expect(PolicyEval.decide(p, build("t=x", "application/x-www-form-urlencoded"))).toMatchObject({
      allow: false,
      rule: "unreadable-body",
      message: expect.stringMatching(/^rule no-unconfined needs the request: cannot read the options of POST build/)
    })
  })

  it("matches images as given and fully qualified", () => {
    const p = policy(`
default: deny
rules:
  - { name: library, decision: allow, images: ["docker.io/library/*"] }
`)
    expect(PolicyEval.decide(p, create({}, "busybox")).rule).toBe("library")
    expect(PolicyEval.decide(p, create({}, "quay.io/x/y")).rule).toBe("default")
    expect(PolicyEval.decide(p, raw("GET", "/v1.41/info")).rule).toBe("default")
  })

  it("never allows an image given by ID by its name, and denies it by any rule that denies names", () => {
    const allowList = policy(`
default: deny
rules:
  - { name: library, decision: allow, images: ["docker.io/library/*"] }
`)
    // The daemon would take these for IDs (or ID prefixes): they could be any loaded or built image.
    for (const id of ["3f57d9401f8d", `sha256:${"a".repeat(64)}`, "abc"]) {
      expect(PolicyEval.decide(allowList, create({}, id)).rule).toBe("default")
    }
    expect(PolicyEval.decide(allowList, create({}, "busybox")).rule).toBe("library")
    const denyList = policy(`
default: allow
rules:
  - { name: not-evil, decision: deny, images: ["evil.example/*"] }
`)
    expect(PolicyEval.decide(denyList, create({}, "3f57d9401f8d")).rule).toBe("not-evil")
    expect(PolicyEval.decide(denyList, create({}, "busybox")).rule).toBe("default")
  })

  it("never matches a users rule for an anonymous request", () => {
    const p = policy("default: deny\nrules:\n  - { name: alice, decision: allow, users: [alice] }\n")
    expect(PolicyEval.decide(p, raw("GET", "/_ping")).allow).toBe(false)
  })

  it("globs with * over any text and nothing else", () => {
    expect(PolicyEval.glob("containers/*", "containers/{id}/exec")).toBe(true)
    expect(PolicyEval.glob("containers/*", "containersx")).toBe(false)
    expect(PolicyEval.glob("a.b", "axb")).toBe(false)
    expect(PolicyEval.glob("*", "")).toBe(true)
  })

  it("globs edge cases: empty pattern, **, no star, stars at the ends, overlapping head and tail", () => {
    expect(PolicyEval.glob("", "")).toBe(true)
    expect(PolicyEval.glob("", "a")).toBe(false)
    expect(PolicyEval.glob("**", "")).toBe(true)
    expect(PolicyEval.glob("**", "any/thing")).toBe(true)
    expect(PolicyEval.glob("a**b", "ab")).toBe(true)
    expect(PolicyEval.glob("a**b", "axb")).toBe(true)
    expect(PolicyEval.glob("volumes/create", "volumes/create")).toBe(true)
    expect(PolicyEval.glob("volumes/create", "volumes/createx")).toBe(false)
    expect(PolicyEval.glob("volumes/create", "Volumes/create")).toBe(false)
    expect(PolicyEval.glob("*-alpine", "node:20-alpine")).toBe(true)
    expect(PolicyEval.glob("*-alpine", "node:20-alpine3")).toBe(false)
    expect(PolicyEval.glob("docker.io/*", "docker.io/")).toBe(true)
    expect(PolicyEval.glob("docker.io/*", "xdocker.io/a")).toBe(false)
    expect(PolicyEval.glob("*a*", "bab")).toBe(true)
    expect(PolicyEval.glob("*a*", "bbb")).toBe(false)
    // The head and the tail cannot share characters.
    expect(PolicyEval.glob("a*a", "a")).toBe(false)
    expect(PolicyEval.glob("a*a", "aa")).toBe(true)
    expect(PolicyEval.glob("ab*ba", "aba")).toBe(false)
    // Middle pieces come in order and do not overlap each other or the tail.
    expect(PolicyEval.glob("*ab*ba*", "aba")).toBe(false)
    expect(PolicyEval.glob("*ab*ba*", "abba")).toBe(true)
    expect(PolicyEval.glob("*b*a", "ab")).toBe(false)
    expect(PolicyEval.glob("*aab*", "aaaab")).toBe(true)
    expect(PolicyEval.glob("*abab*", "abaabab")).toBe(true)
    // Only * is special.
    expect(PolicyEval.glob("a?c", "abc")).toBe(false)
    expect(PolicyEval.glob("[a]", "[a]")).toBe(true)
    // Any text means line breaks too, so a deny rule cannot be dodged with one.
    expect(PolicyEval.glob("evil.example/*", "evil.example/a\nb")).toBe(true)
  })

  it("globs as a regular expression of the same pattern would, on many small cases", () => {
    const alphabet = ["a", "b", "/", "*"]
    const words = (length: number): Array<string> =>
      length === 0 ? [""] : words(length - 1).flatMap((w) => alphabet.map((c) => w + c))
    const patterns = [0, 1, 2, 3, 4].flatMap(words)
    const texts = [0, 1, 2, 3, 4, 5].flatMap(words).filter((t) => !t.includes("*"))
    for (const pattern of patterns) {
      const expected = new RegExp(`^${pattern.split("*").join(".*")}$`)
      for (const text of texts) {
        if (PolicyEval.glob(pattern, text) !== expected.test(text)) {
          throw new Error(`glob(${JSON.stringify(pattern)}, ${JSON.stringify(text)}) should be ${expected.test(text)}`)
        }
      }
    }
  })

  it("globs pathological texts correctly (a backtracking matcher takes seconds on these)", () => {
    const slashes = "a/".repeat(8000)
    expect(PolicyEval.glob("*/*/*@*", slashes)).toBe(false)
    expect(PolicyEval.glob("*/*/*@*", `${slashes}@x`)).toBe(true)
    expect(PolicyEval.glob("*/*/*/*/*/*/*/*/b", slashes)).toBe(false)
    const colons = `x:${":".repeat(40_000)}`
    expect(PolicyEval.glob("docker.io/library/*:*-alpine", colons)).toBe(false)
    expect(PolicyEval.glob("*:*-alpine", colons)).toBe(false)
    expect(PolicyEval.glob("*:*-alpine", `${colons}-alpine`)).toBe(true)
    // Repetitive middle pieces: a naive search would rescan.
    const as = "a".repeat(50_000)
    expect(PolicyEval.glob(`*${"a".repeat(1000)}b*`, as)).toBe(false)
    expect(PolicyEval.glob(`*${"a".repeat(1000)}b*`, `${as}b`)).toBe(true)
  })

  it("denies a create whose huge image name nearly matches an allowed pattern", () => {
    const p = policy(`
default: deny
rules:
  - name: alpine-only
    decision: allow
    routes: [containers/create]
    images: ["docker.io/library/*:*-alpine"]
`)
    expect(PolicyEval.decide(p, create({}, `x:${":".repeat(40_000)}`)).allow).toBe(false)
    expect(PolicyEval.decide(p, create({}, "node:20-alpine")).rule).toBe("alpine-only")
  })
})

describe("the baseline policy against requests the daemon reads otherwise than a plain reading would", () => {
  const decide = (request: AuthzRequest.AuthzRequest) => PolicyEval.decide(baseline, request)
  /** A request with its body given as raw text, as a client can write it. */
  const text = (uri: string, body: string, headers: Record<string, string> = { "Content-Type": "application/json" }) =>
    AuthzRequest.fromRequest({
      RequestMethod: "POST",
      RequestUri: uri,
      RequestHeaders: { ...headers, "Content-Length": String(Buffer.byteLength(body)) },
      RequestBody: Buffer.from(body).toString("base64")
    })

  it("denies a create sent with an absolute-form request target, which Go's server routes by its path", () => {
    for (const uri of [
      "http://docker/v1.41/containers/create",
      "HTTP://docker:2375/containers/create?name=x",
      "x:/v1.41/containers/create"
    ]) {
      expect(decide(text(uri, '{"Image":"busybox","HostConfig":{"Privileged":true}}')).rule).toBe("no-privileged")
    }
  })

  it("denies CapAdd given as a single string, which the daemon's StrSlice takes as a list of one", () => {
    expect(decide(create({ CapAdd: "SYS_ADMIN" })).rule).toBe("no-sys-admin-or-net-admin")
    expect(decide(raw("POST", "/v1.41/containers/create", { Image: "b", capadd: "cap_net_admin" })).rule).toBe(
      "no-sys-admin-or-net-admin"
    )
  })

  it("does not let a repeated key hide what Go's decoder keeps (merged objects, null ignored, case-folded keys)", () => {
    for (const body of [
      '{"Image":"b","HostConfig":{"Privileged":true},"HostConfig":{"CapAdd":["CHOWN"]}}',
      '{"Image":"b","HostConfig":{"Privileged":true,"Privileged":null}}',
      '{"Image":"b","HostConfig":{"Privileged":true,"privileged":false,"Privileged":true}}'
    ]) {
      expect(decide(text("/v1.41/containers/create", body)).allow).toBe(false)
    }
  })

  it("does not trust the content type it is shown, which is the last one sent while the daemon reads the first", () => {
    // Content-Type sent twice, application/json first: the daemon forwards and decodes the body, and shows text/plain.
    const shown = { "Content-Type": "text/plain" }
    expect(decide(text("/v1.41/containers/create", '{"Image":"b","HostConfig":{"Privileged":true}}', shown)).rule).toBe(
      "no-privileged"
    )
    // The same, with a body over 1 MiB, which the daemon does not forward.
    const big = AuthzRequest.fromRequest({
      RequestMethod: "POST",
      RequestUri: "/v1.41/containers/create",
      RequestHeaders: { "Content-Type": "text/plain", "Content-Length": String(2 * 1024 * 1024) }
    })
    expect(decide(big)).toMatchObject({ allow: false, rule: "unreadable-body" })
  })

  it("denies a bind through /proc's links to a process's root or files, which the kernel follows when it mounts", () => {
    for (const source of ["/proc/1/root", "/proc/self/root/etc", "/proc/1/task/1/cwd", "/proc/1/fd/3", "/dev/fd/3"]) {
      expect(decide(create({ Binds: [`${source}:/host`] })).rule).toBe("no-host-root-etc-or-docker-socket")
    }
    // /proc itself or a process's folder is not a link: node-exporter's -v /proc:/host/proc stays allowed.
    expect(decide(create({ Binds: ["/proc:/host/proc:ro", "/proc/1/status:/s"] })).rule).toBe("default")
  })

  it("denies docker plugin create, whose tar's config.json grants the plugin any mount or capability", () => {
    const tar = AuthzRequest.fromRequest({
      RequestMethod: "POST",
      RequestUri: "/v1.41/plugins/create?name=evil",
      RequestHeaders: { "Content-Type": "application/x-tar", "Content-Length": "10240" }
    })
    expect(decide(tar)).toMatchObject({ allow: false, rule: "unreadable-body" })
  })

  it("reads a query as Go does: a pair with a bad escape or a semicolon is dropped, not taken as the first value", () => {
    const rules = policy(`
default: allow
rules:
  - name: no-host-network
    decision: deny
    hostNamespaces: [network]
  - name: no-evil
    decision: deny
    images: ["evil*"]
`)
    const build = raw("POST", "/v1.41/build?networkmode=%zz&networkmode=host", undefined, {
      RequestHeaders: { "Content-Type": "application/x-tar" }
    })
    expect(PolicyEval.decide(rules, build).rule).toBe("no-host-network")
    const semicolon = raw("POST", "/v1.41/build?networkmode=x;y&networkmode=host", undefined, {
      RequestHeaders: { "Content-Type": "application/x-tar" }
    })
    expect(PolicyEval.decide(rules, semicolon).rule).toBe("no-host-network")
    // docker pull refuses such a query itself; reading it the same way only ever denies more.
    expect(PolicyEval.decide(rules, raw("POST", "/v1.41/images/create?fromImage=%&fromImage=evil")).rule).toBe(
      "no-evil"
    )
  })
})
