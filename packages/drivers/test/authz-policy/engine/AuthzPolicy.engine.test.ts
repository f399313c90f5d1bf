/**
 * authz-policy in front of a private Engine 20.10 started with `--authorization-plugin NAME`, served by
 * `dpk serve authz-policy --no-watch` as its own process with examples/authz-policy/baseline.yaml as shipped (the
 * policy file is a link to a copy of it, so the SIGHUP tests can change the copy without touching the example; with
 * `--no-watch` only the signal applies a change, so each SIGHUP test shows the signal at work).
 */
import { DockerEngine } from "@docker-plugin-kit/testkit"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Result from "effect/Result"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { removeSocket, type Spawned, socketOf, spawnServe, uniqueName } from "../../support/engine.ts"

const baselinePath = fileURLToPath(new URL("../../../../../examples/authz-policy/baseline.yaml", import.meta.url))
const baseline = Fs.readFileSync(baselinePath, "utf8")
const name = uniqueName("dpk-e2e-authz")
const base = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-e2e-authz-"))
const realPolicy = Path.join(base, "real", "policy.yaml")
const policyLink = Path.join(base, "policy.yaml")
Fs.mkdirSync(Path.dirname(realPolicy))
Fs.writeFileSync(realPolicy, baseline)
Fs.symlinkSync(realPolicy, policyLink)

const serveArgs = ["authz-policy", "--name", name, "--policy", policyLink, "--no-watch"]
// The daemon looks its authorization plugins up at start: the plugin listens first (only where the engine can run).
let plugin: Spawned | undefined = Result.isSuccess(DockerEngine.findTools()) ? await spawnServe(serveArgs) : undefined
let output = ""
const capture = (spawned: Spawned) => {
  spawned.child.stdout?.on("data", (d) => (output += d))
  spawned.child.stderr?.on("data", (d) => (output += d))
}
if (plugin !== undefined) capture(plugin)

const shared = await DockerEngine.shared({ daemonArgs: ["--authorization-plugin", name] })
const engine = shared.engine!
afterAll(async () => {
  await shared.close()
  await plugin?.stop()
  removeSocket(name)
  Fs.rmSync(base, { recursive: true, force: true })
})

/**
 * A request straight to the daemon's socket, as a client of any API version may send it; `contentType` may be
 * several headers, sent in order.
 */
const callDaemon = (
  method: string,
  path: string,
  body: string,
  contentType: string | ReadonlyArray<string> = "application/json"
) =>
  Effect.promise(
    () =>
      new Promise<{ readonly status: number; readonly text: string }>((resolve, reject) => {
        const request = Http.request(
          {
            socketPath: engine.host.replace(/^unix:\/\//, ""),
            method,
            path,
            headers: {
              "Content-Type": typeof contentType === "string" ? contentType : [...contentType],
              "Content-Length": Buffer.byteLength(body)
            }
          },
          (response) => {
            let text = ""
            response.on("data", (chunk) => (text += chunk))
            response.on("end", () => resolve({ status: response.statusCode ?? 0, text }))
          }
        )
        request.on("error", reject)
        request.end(body)
      })
  )

/** Writes the policy, and tells the plugin to load it (served with --no-watch: only the signal applies a change). */
const reload = (text: string) => {
  Fs.writeFileSync(realPolicy, text)
  process.kill(plugin!.child.pid!, "SIGHUP")
}

/** Runs `attempt` until `settled` holds for its result (a reload takes effect a little later), 4 s at most. */
const untilSettled = (
  attempt: (n: number) => Effect.Effect<DockerEngine.DockerResult>,
  settled: (result: DockerEngine.DockerResult) => boolean
) =>
  Effect.gen(function* () {
    let result = yield* attempt(0)
    for (let n = 1; n <= 40 && !settled(result); n++) {
      yield* Effect.sleep("100 millis")
      result = yield* attempt(n)
    }
    return result
  })

/** Runs `attempt` until the daemon refuses it: its last result. */
const untilRefused = (attempt: (n: number) => Effect.Effect<DockerEngine.DockerResult>) =>
  untilSettled(attempt, (result) => result.exitCode !== 0)

/** Runs `attempt` until the daemon takes it: its last result. */
const untilAllowed = (attempt: (n: number) => Effect.Effect<DockerEngine.DockerResult>) =>
  untilSettled(attempt, (result) => result.exitCode === 0)

/** Back to the baseline, loaded. */
const restoreBaseline = Effect.suspend(() => {
  reload(baseline)
  return Effect.sleep("300 millis")
})

const denied = (message: string) => `authorization denied by plugin ${name}: ${message}`
/** `docker run --rm --network none ARGS IMAGE true`: whether the daemon lets a container with ARGS run. */
const runTrue = (...args: ReadonlyArray<string>) =>
  engine.dockerResult("run", "--rm", "--network", "none", ...args, engine.image, "true")
const sha256 = (file: string) => Crypto.createHash("sha256").update(Fs.readFileSync(file)).digest("hex")

describe.skipIf(shared.engine === undefined)("authz-policy against Docker Engine 20.10", () => {
  it.effect("docker run works under the baseline, and each decision is audited", () =>
    Effect.gen(function* () {
      const out = yield* engine.docker("run", "--rm", "--network", "none", engine.image, "echo", "hello")
      expect(out).toBe("hello")
      expect(output).toMatch(
        /message="authz decision" .*method=POST route=containers\/create rule=default decision=allow/
      )
    })
  )

  it.effect("docker cp of a 10 MiB file into a container and back out", () =>
    Effect.gen(function* () {
      const source = Path.join(base, "in.bin")
      Fs.writeFileSync(source, Crypto.randomBytes(10 * 1024 * 1024))
      const id = yield* engine.docker("run", "-d", "--network", "none", engine.image, "sleep", "300")
      yield* engine.docker("cp", source, `${id}:/tmp/data.bin`)
      expect(yield* engine.docker("exec", id, "stat", "-c", "%s", "/tmp/data.bin")).toBe(String(10 * 1024 * 1024))
      const back = Path.join(base, "out.bin")
      yield* engine.docker("cp", `${id}:/tmp/data.bin`, back)
      expect(sha256(back)).toBe(sha256(source))
      yield* engine.docker("rm", "-f", id)
    })
  )

  it.effect("docker save and docker load", () =>
    Effect.gen(function* () {
      const tag = `dpk-authz-save:${Date.now()}`
      yield* engine.docker("tag", engine.image, tag)
      const tar = Path.join(base, "image.tar")
      yield* engine.docker("save", "-o", tar, tag)
      expect(Fs.statSync(tar).size).toBeGreaterThan(100_000)
      yield* engine.docker("rmi", tag)
      const loaded = yield* engine.docker("load", "-i", tar)
      expect(loaded).toContain(`Loaded image: ${tag}`)
      yield* engine.docker("rmi", tag)
    })
  )

  it.effect("docker build (a tar body, not JSON) works, and so does a container of the built image", () =>
    Effect.gen(function* () {
      const context = Path.join(base, "build")
      Fs.mkdirSync(context)
      Fs.writeFileSync(Path.join(context, "Dockerfile"), `FROM ${engine.image}\nRUN echo built > /built\n`)
      const tag = `dpk-authz-build:${Date.now()}`
      yield* engine.docker("build", "--network", "none", "-t", tag, context)
      expect(yield* engine.docker("run", "--rm", "--network", "none", tag, "cat", "/built")).toBe("built")
      yield* engine.docker("rmi", tag)
    })
  )

  it.live("docker events streams for a short time", () =>
    Effect.gen(function* () {
      const since = Math.floor(Date.now() / 1000) - 600
      const until = Math.floor(Date.now() / 1000) + 1
      const events = yield* engine.docker("events", "--since", String(since), "--until", String(until))
      expect(events).toMatch(/container (create|start|die|destroy)/)
    })
  )

  it.effect("docker run --privileged is denied with the policy's message", () =>
    Effect.gen(function* () {
      const result = yield* engine.dockerResult("run", "--rm", "--privileged", engine.image, "true")
      expect(result.exitCode).not.toBe(0)
      expect(result.stderr).toContain(denied("privileged containers are not allowed (baseline policy)"))
    })
  )

  it.effect("the other ways to the same host access are denied too, as the daemon sends them", () =>
    Effect.gen(function* () {
      const mounts = denied("bind mounts of /, /etc and the Docker socket are not allowed (baseline policy)")
      const caps = denied("adding the SYS_ADMIN or NET_ADMIN capability is not allowed (baseline policy)")
      const refused = (expected: string, ...args: ReadonlyArray<string>) =>
        Effect.gen(function* () {
          const result = yield* engine.dockerResult(...args)
          expect(result.exitCode, args.join(" ")).not.toBe(0)
          expect(result.stderr).toContain(expected)
        })
      const run = ["run", "--rm", "--network", "none"]
      // A local volume that binds /etc, made beforehand or inline, and a folder holding the socket.
      yield* refused(mounts, "volume", "create", "--opt", "type=none", "--opt", "o=bind", "--opt", "device=/etc", "v")
      yield* refused(
        mounts,
        ...run,
        "--mount",
        "type=volume,target=/x,volume-opt=type=none,volume-opt=o=bind,volume-opt=device=/etc",
        engine.image,
        "true"
      )
      yield* refused(mounts, ...run, "-v", "/var/run:/r", engine.image, "true")
      // A local volume of another type that exposes the host: the daemon mounts it on the host, so procfs shows the
      // host's processes (and its writable /proc/sys), a disk the host's files.
      yield* refused(mounts, "volume", "create", "--opt", "type=proc", "--opt", "device=proc", "hostproc")
      yield* refused(
        mounts,
        ...run,
        "--mount",
        "type=volume,target=/p,volume-opt=type=proc,volume-opt=device=proc",
        engine.image,
        "true"
      )
      yield* refused(mounts, "volume", "create", "--opt", "type=none", "--opt", "o=bind", "--opt", "device=../etc", "v")
      // A memory file system exposes nothing.
      yield* engine.docker("volume", "create", "--opt", "type=tmpfs", "--opt", "device=tmpfs", "scratch-tmpfs")
      yield* engine.docker("volume", "rm", "scratch-tmpfs")
      // Capabilities, however they are spelled.
      for (const cap of ["SYS_ADMIN", "cap_net_admin", "ALL"]) {
        yield* refused(caps, ...run, "--cap-add", cap, engine.image, "true")
      }
      // A privileged exec in a container that is not privileged.
      const id = yield* engine.docker("run", "-d", "--network", "none", engine.image, "sleep", "300")
      yield* refused(
        denied("privileged containers are not allowed (baseline policy)"),
        "exec",
        "--privileged",
        id,
        "true"
      )
      expect(yield* engine.docker("exec", id, "echo", "plain exec")).toBe("plain exec")
      yield* engine.docker("rm", "-f", id)
    })
  )

  it.effect("bind mounts of /etc, / and the Docker socket are denied; other bind mounts are allowed", () =>
    Effect.gen(function* () {
      const message = denied("bind mounts of /, /etc and the Docker socket are not allowed (baseline policy)")
      for (const mount of [
        ["-v", "/etc:/host-etc:ro"],
        ["-v", "/:/host"],
        ["--mount", "type=bind,source=/var/run/docker.sock,target=/s"]
      ]) {
        const result = yield* runTrue(...mount)
        expect(result.exitCode).not.toBe(0)
        expect(result.stderr).toContain(message)
      }
      const ok = Path.join(base, "ok")
      Fs.mkdirSync(ok)
      Fs.writeFileSync(Path.join(ok, "f"), "x")
      expect(
        yield* engine.docker("run", "--rm", "--network", "none", "-v", `${ok}:/ok`, engine.image, "cat", "/ok/f")
      ).toBe("x")
    })
  )

  it.live("a host configuration sent with docker start by an old API client is authorized like a create", () =>
    Effect.gen(function* () {
      const id = yield* engine.docker("create", "--network", "none", engine.image, "sleep", "60")
      // API 1.23 clients may still give the host configuration at start, and the daemon applies it.
      const privileged = yield* callDaemon("POST", `/v1.23/containers/${id}/start`, '{"Privileged":true}')
      expect(privileged.status).toBe(403)
      expect(privileged.text).toContain(denied("privileged containers are not allowed (baseline policy)"))
      const mounted = yield* callDaemon("POST", `/v1.23/containers/${id}/start`, '{"Binds":["/etc:/host-etc"]}')
      expect(mounted.text).toContain(denied("bind mounts of /, /etc and the Docker socket are not allowed"))
      // The daemon decodes that body as a create's: a `HostConfig` object in it is the host configuration.
      const wrapped = yield* callDaemon("POST", `/v1.23/containers/${id}/start`, '{"HostConfig":{"Privileged":true}}')
      expect(wrapped.status).toBe(403)
      expect(wrapped.text).toContain(denied("privileged containers are not allowed (baseline policy)"))
      expect(yield* engine.docker("inspect", "-f", "{{.State.Running}} {{.HostConfig.Privileged}}", id)).toBe(
        "false false"
      )
      // A start with an empty JSON body (Content-Length 0: nothing withheld) passes.
      const plain = yield* callDaemon("POST", `/v1.41/containers/${id}/start`, "")
      expect(plain.status).toBe(204)
      expect(yield* engine.docker("inspect", "-f", "{{.State.Running}} {{.HostConfig.Privileged}}", id)).toBe(
        "true false"
      )
      yield* engine.docker("rm", "-f", id)
    })
  )

  it.live(
    "a create giving the host configuration at the top level of its body is authorized like one in HostConfig",
    () =>
      Effect.gen(function* () {
        // The daemon still reads host fields at the top of a create body when it has no HostConfig object.
        const create = (body: object) => callDaemon("POST", "/v1.41/containers/create", JSON.stringify(body))
        const base = { Image: engine.image, Cmd: ["sleep", "60"], NetworkDisabled: true }
        const privileged = yield* create({ ...base, Privileged: true })
        expect(privileged.status).toBe(403)
        expect(privileged.text).toContain(denied("privileged containers are not allowed (baseline policy)"))
        const etc = yield* create({ ...base, HostConfig: null, Binds: ["/etc:/host-etc"] })
        expect(etc.text).toContain(denied("bind mounts of /, /etc and the Docker socket are not allowed"))
        // With a HostConfig object the daemon ignores the top-level fields, and so does the policy.
        const ignored = yield* create({ ...base, HostConfig: { NetworkMode: "none" }, Privileged: true })
        expect(ignored.status).toBe(201)
        const id = (JSON.parse(ignored.text) as { Id: string }).Id
        expect(yield* engine.docker("inspect", "-f", "{{.HostConfig.Privileged}}", id)).toBe("false")
        yield* engine.docker("rm", "-f", id)
      })
  )

  it.live("creates the daemon reads as host access, in spellings a plain reading misses, are denied", () =>
    Effect.gen(function* () {
      /** A create sent as written: its target, its body, each Content-Type header in order. */
      const send = (path: string, body: string, contentTypes: ReadonlyArray<string>) =>
        callDaemon("POST", path, body, contentTypes)
      const image = JSON.stringify(engine.image)
      const head = `"Image":${image},"Cmd":["true"],"NetworkDisabled":true`
      const privileged = "{{.HostConfig.Privileged}}"
      const cases = [
        // Go's server routes an absolute-form target by its path; the daemon forwards it as sent.
        ["http://docker/v1.41/containers/create", `{${head},"HostConfig":{"Privileged":true}}`, [], privileged, "true"],
        // The daemon goes by the first Content-Type, and shows the plugin the last.
        ["/v1.41/containers/create", `{${head},"HostConfig":{"Privileged":true}}`, ["text/plain"], privileged, "true"],
        // Go merges a repeated object, and ignores a null for a bool.
        [
          "/v1.41/containers/create",
          `{${head},"HostConfig":{"Privileged":true},"HostConfig":{}}`,
          [],
          privileged,
          "true"
        ],
        [
          "/v1.41/containers/create",
          `{${head},"HostConfig":{"Privileged":true,"Privileged":null}}`,
          [],
          privileged,
          "true"
        ],
        // CapAdd is a StrSlice: one string is a list of one.
        [
          "/v1.41/containers/create",
          `{${head},"HostConfig":{"CapAdd":"SYS_ADMIN"}}`,
          [],
          "{{.HostConfig.CapAdd}}",
          "[SYS_ADMIN]"
        ],
        // The kernel follows /proc/1/root when it mounts: this is the host's /.
        [
          "/v1.41/containers/create",
          `{${head},"HostConfig":{"Binds":["/proc/1/root:/host:ro"]}}`,
          [],
          "{{range .Mounts}}{{.Source}}{{end}}",
          "/proc/1/root"
        ]
      ] as const
      const sendCase = ([path, body, extra]: (typeof cases)[number]) => send(path, body, ["application/json", ...extra])
      // Under a policy allowing everything, the daemon makes each the container it says.
      reload("default: allow\nrules: []\n")
      yield* untilAllowed(() => runTrue("--privileged"))
      for (const c of cases) {
        const made = yield* sendCase(c)
        expect(made.status, made.text).toBe(201)
        const id = (JSON.parse(made.text) as { Id: string }).Id
        expect(yield* engine.docker("inspect", "-f", c[3], id)).toBe(c[4])
        yield* engine.docker("rm", "-f", id)
      }
      // Under the baseline, each is denied.
      reload(baseline)
      yield* untilRefused(() => runTrue("--privileged"))
      for (const c of cases) {
        const denial = yield* sendCase(c)
        expect(denial.status, `${c[0]} ${c[1]}: ${denial.text}`).toBe(403)
      }
    })
  )

  it.live(
    "docker plugin set of a managed plugin's mount to /etc is denied, and so is a set the plugin cannot read",
    () =>
      Effect.gen(function* () {
        // A managed plugin with a settable mount (never enabled: setting needs it disabled anyway).
        const pluginName = `${name}-settable`
        const dir = Path.join(base, "settable")
        Fs.mkdirSync(Path.join(dir, "rootfs"), { recursive: true })
        Fs.writeFileSync(
          Path.join(dir, "config.json"),
          JSON.stringify({
            Description: "a settable mount",
            Documentation: "",
            Entrypoint: ["/bin/sh"],
            Interface: { Types: ["docker.volumedriver/1.0"], Socket: "p.sock" },
            Mounts: [
              {
                Name: "state",
                Source: "/tmp",
                Destination: "/state",
                Type: "bind",
                Options: ["rbind"],
                Settable: ["source"]
              }
            ],
            Network: { Type: "" },
            Linux: { Capabilities: null }
          })
        )
        // The baseline denies docker plugin create: the config.json in its tar grants the plugin whatever it asks
        // (a mount of /etc, any capability), and the plugin cannot see it. Made under a policy that allows it.
        const refused = yield* engine.dockerResult("plugin", "create", pluginName, dir)
        expect(refused.exitCode).not.toBe(0)
        expect(refused.stderr).toContain("cannot read the body of POST plugins/create")
        reload(`default: allow
rules:
  - { name: plugin-create, decision: allow, routes: [plugins/create] }
`)
        yield* untilAllowed(() => engine.dockerResult("plugin", "create", pluginName, dir))
        reload(baseline)
        const mountSource = () =>
          engine.docker("plugin", "inspect", "-f", "{{range .Settings.Mounts}}{{.Source}}{{end}}", pluginName)
        const etc = yield* untilRefused(() => engine.dockerResult("plugin", "set", pluginName, "state.source=/etc"))
        expect(etc.exitCode).not.toBe(0)
        expect(etc.stderr).toContain(denied("bind mounts of /, /etc and the Docker socket are not allowed"))
        yield* engine.docker("plugin", "set", pluginName, "state.source=/srv/dpk-state")
        expect(yield* mountSource()).toBe("/srv/dpk-state")
        // The daemon decodes a set's body whatever its content type, but forwards only JSON: unseen, it is denied.
        const plain = yield* callDaemon(
          "POST",
          `/v1.41/plugins/${pluginName}/set`,
          '["state.source=/etc"]',
          "text/plain"
        )
        expect(plain.status).toBe(403)
        expect(plain.text).toContain(
          "the daemon reads it whatever its content type (text/plain), but forwards only JSON"
        )
        expect(yield* mountSource()).toBe("/srv/dpk-state")
        yield* engine.docker("plugin", "rm", pluginName)
      })
  )

  it.live("an image allow-list, loaded by SIGHUP, lets library images run and no other, by name or by ID", () =>
    Effect.gen(function* () {
      reload(`${baseline}
  - { name: no-evilorg, decision: deny, routes: [containers/create], images: ["docker.io/evilorg/*"], message: evilorg is banned }
  - { name: library-images, decision: allow, routes: [containers/create], images: ["docker.io/library/*"] }
  - { name: other-images, decision: deny, routes: [containers/create], message: only library images run here }
`)
      const runImage = (image: string) => engine.dockerResult("run", "--rm", "--network", "none", image, "true")
      yield* engine.docker("tag", engine.image, "evil.example/miner:1")
      const evil = yield* untilRefused(() => runImage("evil.example/miner:1"))
      expect(evil.stderr).toContain(denied("only library images run here"))
      // The same image by ID (whole, or a prefix the daemon resolves) could be anything: no allow rule takes it,
      // and the first rule denying images does.
      const id = yield* engine.docker("image", "inspect", "-f", "{{.Id}}", engine.image)
      for (const byId of [id, id.replace("sha256:", "").slice(0, 12)]) {
        const result = yield* runImage(byId)
        expect(result.exitCode, byId).not.toBe(0)
        expect(result.stderr).toContain(denied("evilorg is banned"))
      }
      expect((yield* runImage(engine.image)).exitCode).toBe(0)
      // Docker Hub's other spellings are the same names, for the daemon and for the policy.
      expect((yield* runImage(`index.docker.io/library/${engine.image}`)).exitCode).toBe(0)
      yield* engine.docker("tag", engine.image, "evilorg/x:1")
      expect((yield* runImage("index.docker.io/evilorg/x:1")).stderr).toContain(denied("evilorg is banned"))
      yield* engine.docker("rmi", "evilorg/x:1")
      yield* restoreBaseline
      yield* engine.docker("rmi", "evil.example/miner:1")
    })
  )

  it.live("a policy change takes effect after SIGHUP, without restarting the plugin or the daemon", () =>
    Effect.gen(function* () {
      const volume = `dpk-authz-${Date.now()}`
      yield* engine.docker("volume", "create", `${volume}-before`)
      // Served with --no-watch: only SIGHUP tells the plugin.
      Fs.writeFileSync(
        realPolicy,
        `${baseline}\n  - name: frozen-volumes\n    decision: deny\n    message: volumes are frozen\n    routes: [volumes/create]\n`
      )
      yield* Effect.sleep("300 millis")
      yield* engine.docker("volume", "create", `${volume}-still`)
      const pid = plugin!.child.pid!
      process.kill(pid, "SIGHUP")
      const result = yield* untilRefused((n) => engine.dockerResult("volume", "create", `${volume}-after-${n}`))
      expect(result.exitCode).not.toBe(0)
      expect(result.stderr).toContain(denied("volumes are frozen"))
      expect(plugin!.child.pid).toBe(pid)
      expect(plugin!.child.exitCode).toBeNull()
      yield* restoreBaseline
      yield* engine.docker("volume", "create", `${volume}-restored`)
    })
  )

  it.live("rules on security options and the host network, loaded by SIGHUP, deny containers and builds", () =>
    Effect.gen(function* () {
      reload(`${baseline}
  - name: no-unconfined
    decision: deny
    message: confinement stays on
    securityOpts: [seccomp=unconfined, apparmor=unconfined, systempaths=unconfined]
  - name: no-host-network
    decision: deny
    message: the host network stays private
    hostNamespaces: [network]
  - name: no-tun
    decision: deny
    message: the tun device stays on the host
    devices: [/dev/net/tun]
`)
      const runWith = (option: string) => runTrue("--security-opt", option)
      const result = yield* untilRefused(() => runWith("seccomp=unconfined"))
      expect(result.stderr).toContain(denied("confinement stays on"))
      // The older spelling the daemon still reads, and the other profiles.
      for (const option of ["seccomp:unconfined", "apparmor=unconfined", "systempaths=unconfined"]) {
        const denial = yield* runWith(option)
        expect(denial.stderr, option).toContain(denied("confinement stays on"))
        expect(denial.exitCode, option).not.toBe(0)
      }
      expect((yield* runWith("no-new-privileges")).exitCode).toBe(0)
      // A device, mapped by a folder holding it, or granted by number through a device cgroup rule.
      for (const args of [
        ["--device", "/dev/net/tun"],
        ["--device", "/dev/net:/dev/net"],
        ["--device-cgroup-rule", "c 10:200 rwm"],
        // Devices by kind: the device driver picks their files (without one the daemon fails the start instead).
        ["--gpus", "all"]
      ]) {
        const denial = yield* runTrue(...args)
        expect(denial.exitCode, args.join(" ")).not.toBe(0)
        expect(denial.stderr).toContain(denied("the tun device stays on the host"))
      }
      expect((yield* runTrue("--device", "/dev/fuse")).exitCode).toBe(0)
      // The host network, asked for by a container or by a build's RUN steps (the query, the body being a tar).
      const hostRun = yield* engine.dockerResult("run", "--rm", "--network", "host", engine.image, "true")
      expect(hostRun.stderr).toContain(denied("the host network stays private"))
      const context = Path.join(base, "build-host")
      Fs.mkdirSync(context, { recursive: true })
      Fs.writeFileSync(Path.join(context, "Dockerfile"), `FROM ${engine.image}\nRUN true\n`)
      const hostBuild = yield* engine.dockerResult("build", "--network", "host", context)
      expect(hostBuild.exitCode).not.toBe(0)
      expect(hostBuild.stderr).toContain(denied("the host network stays private"))
      // The daemon also takes a build's options from a form body, which it does not forward: unknown, so denied.
      const formBuild = yield* callDaemon(
        "POST",
        "/v1.41/build?t=dpk-form-build",
        "networkmode=host",
        "application/x-www-form-urlencoded"
      )
      expect(formBuild.status).toBe(403)
      expect(formBuild.text).toContain("cannot read the options of POST build")
      yield* restoreBaseline
      expect((yield* runWith("seccomp=unconfined")).exitCode).toBe(0)
    })
  )

  it.live("a fromContainers rule denies taking the volumes or namespaces of a container given more", () =>
    Effect.gen(function* () {
      // A container given /etc while the policy allowed it: an administrator's, or one older than the policy.
      const holder = uniqueName("dpk-authz-holder")
      reload("default: allow\nrules: []\n")
      const made = yield* untilAllowed(() =>
        engine.dockerResult("create", "--name", holder, "--network", "none", "-v", "/etc:/host-etc:ro", engine.image)
      )
      expect(made.exitCode).toBe(0)
      yield* restoreBaseline
      const borrow = (...args: ReadonlyArray<string>) =>
        engine.dockerResult("run", "--rm", ...args, engine.image, "cat", "/host-etc/hostname")
      // The baseline cannot see it: the request names the other container, not what it holds.
      const through = yield* untilAllowed(() => borrow("--network", "none", "--volumes-from", holder))
      expect(through.stdout.trim()).toBe(Fs.readFileSync("/etc/hostname", "utf8").trim())
      reload(`${baseline}
  - name: no-borrowing
    decision: deny
    message: containers keep to their own volumes and namespaces
    fromContainers: [volumes, network, pid, ipc]
`)
      const volumes = yield* untilRefused(() => borrow("--network", "none", "--volumes-from", `${holder}:ro`))
      expect(volumes.stderr).toContain(denied("containers keep to their own volumes and namespaces"))
      for (const args of [
        ["--network", `container:${holder}`],
        ["--network", "none", "--pid", `container:${holder}`],
        ["--network", "none", "--ipc", `container:${holder}`]
      ]) {
        const denial = yield* borrow(...args)
        expect(denial.exitCode, args.join(" ")).not.toBe(0)
        expect(denial.stderr).toContain(denied("containers keep to their own volumes and namespaces"))
      }
      expect(yield* engine.docker("run", "--rm", "--network", "none", engine.image, "echo", "own")).toBe("own")
      yield* restoreBaseline
      yield* engine.docker("rm", holder)
    })
  )

  it.live(
    "a container named by a link alias (parent/kid), as the daemon's routes take it, is checked like any other",
    () =>
      Effect.gen(function* () {
        // Legacy links, and so the names they register, exist on the default bridge only: a daemon of its own with
        // a bridge made for it (a host-wide name, unique to this run, removed after).
        const bridge = `dpkal${process.pid.toString(16).slice(-6)}`
        const ip = (...args: ReadonlyArray<string>) => Effect.sync(() => ChildProcess.execFileSync("ip", args))
        yield* Effect.acquireRelease(
          Effect.andThen(
            ip("link", "add", bridge, "type", "bridge"),
            Effect.andThen(
              ip("addr", "add", `10.253.${process.pid % 250}.1/24`, "dev", bridge),
              ip("link", "set", bridge, "up")
            )
          ),
          () => Effect.sync(() => ChildProcess.spawnSync("ip", ["link", "del", bridge]))
        )
        const linked = yield* DockerEngine.make({ daemonArgs: ["--authorization-plugin", name, `--bridge=${bridge}`] })
        yield* linked.docker("run", "-d", "--name", "child", linked.image, "sleep", "60")
        yield* linked.docker("run", "-d", "--name", "parent", "--link", "child:kid", linked.image, "sleep", "60")
        // The alias names the child: an exec through it runs there.
        const hostname = yield* linked.docker("exec", "parent/kid", "sh", "-c", "read h < /etc/hostname; echo $h")
        expect(hostname).toBe((yield* linked.docker("inspect", "-f", "{{.Config.Hostname}}", "child")).trim())
        // A privileged exec through it is denied as one through the child's own name is (before, its route matched no
        // template with a container in it, and went through).
        for (const target of ["child", "parent/kid"]) {
          const privileged = yield* linked.dockerResult("exec", "--privileged", target, "true")
          expect(privileged.exitCode, target).not.toBe(0)
          expect(privileged.stderr, target).toContain(denied("privileged containers are not allowed (baseline policy)"))
        }
        yield* linked.docker("rm", "-f", "parent", "child")
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "with the plugin stopped, requests are refused, not allowed; served again, they pass",
    () =>
      Effect.gen(function* () {
        yield* Effect.promise(() => plugin!.stop())
        expect(Fs.existsSync(socketOf(name))).toBe(false)
        const result = yield* engine.dockerResult("ps")
        expect(result.exitCode).not.toBe(0)
        expect(result.stderr).toContain(`plugin ${name} failed with error`)
        plugin = yield* Effect.promise(() => spawnServe(serveArgs))
        capture(plugin)
        expect(yield* engine.docker("run", "--rm", "--network", "none", engine.image, "echo", "back")).toBe("back")
      }),
    120_000
  )
})
