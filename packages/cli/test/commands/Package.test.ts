/**
 * The config `dpk package` writes for a reference driver: the entry point runs the bundled `dpk serve`, with the
 * flags every managed instance needs out of reach of `docker plugin set args`, and the driver's default arguments.
 */
import { Descriptors } from "@docker-plugin-kit/drivers"
import { PluginName } from "@docker-plugin-kit/server"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Package from "../../src/commands/package.ts"
import * as Option from "effect/Option"
import * as PluginConfig from "../../src/managed/PluginConfig.ts"
import * as Rootfs from "../../src/managed/Rootfs.ts"
import { nodeArgs } from "../support.ts"

const configOf = (driver: string, name: string) =>
  PluginConfig.make(Package.driverInput(Descriptors.byName(driver)!, name))

describe("dpk package config of a reference driver", () => {
  it("the args description names the driver's flags as dpk serve takes them, less those the entry point fixes", () => {
    expect(configOf("volume-local", "vol").Args.Description).toBe(
      "flags of dpk serve volume-local: --root, --state-dir"
    )
    // network-bridge fixes --stored-instance in its entry point; secret-folder fixes --root, its only flag.
    expect(configOf("network-bridge", "net").Args.Description).not.toContain("--stored-instance")
    expect(configOf("network-bridge", "net").Args.Description).toContain("--state-dir")
    expect(configOf("secret-folder", "sec").Args.Description).toBe("no flags of dpk serve secret-folder to set")
  })

  it("network-bridge: host network, CAP_NET_ADMIN, and a stored instance tag in the entry point, not in the args", () => {
    const config = configOf("network-bridge", "net")
    expect(config.Entrypoint).toEqual([
      "/usr/local/bin/node",
      "--max-semi-space-size=2",
      "/plugin/plugin.js",
      "serve",
      "network-bridge",
      "--name",
      "net",
      "--socket",
      "/run/docker/plugins/plugin.sock",
      "--stored-instance"
    ])
    expect(config.Args.Value).toEqual([])
    expect(config.Network.Type).toBe("host")
    expect(config.Linux.Capabilities).toEqual(["CAP_NET_ADMIN"])
  })

  it("graph-overlay: node runs with the driver's start-up and V8 flags, before the bundle", () => {
    const config = configOf("graph-overlay", "graph")
    expect(config.Entrypoint.slice(0, 5)).toEqual([
      "/usr/local/bin/node",
      "--max-semi-space-size=2",
      "--max-semi-space-size=1",
      "--heap-growing-percent=10",
      "/plugin/plugin.js"
    ])
    expect(config.Linux.Capabilities).toEqual(["CAP_SYS_ADMIN"])
  })

  it("authz-policy: the policy folder a settable read-only host mount, --policy a default argument", () => {
    const config = configOf("authz-policy", "authz")
    expect(config.Interface.Types).toEqual(["docker.authz/1.0"])
    expect(config.Entrypoint.slice(3)).toEqual([
      "serve",
      "authz-policy",
      "--name",
      "authz",
      "--socket",
      "/run/docker/plugins/plugin.sock"
    ])
    expect(config.Mounts).toEqual([
      {
        Name: "mount0",
        Description: "/etc/docker-plugin-kit/authz-policy on /etc/docker-plugin-kit/authz-policy",
        Settable: ["source"],
        Source: "/etc/docker-plugin-kit/authz-policy",
        Destination: "/etc/docker-plugin-kit/authz-policy",
        Type: "bind",
        Options: ["rbind", "ro"]
      }
    ])
    expect(config.Args).toMatchObject({
      Name: "args",
      Settable: ["value"],
      Value: ["--policy", "/etc/docker-plugin-kit/authz-policy/policy.yaml"]
    })
  })

  it("a driver that asks for nothing gets no mounts, capabilities, network or default arguments", () => {
    const config = configOf("volume-memory", "mem")
    expect(config.Mounts).toEqual([])
    expect(config.Linux.Capabilities).toEqual([])
    expect(config.Network.Type).toBe("")
    expect(config.Args.Value).toEqual([])
    expect(config.Entrypoint.at(-1)).toBe("/run/docker/plugins/plugin.sock")
  })

  it("a repository name (org/name, a registry, a tag) serves under its last component, which dpk serve accepts", () => {
    for (const [reference, served] of [
      ["myorg/myvol", "myvol"],
      ["registry.local:5000/team/myvol", "myvol"],
      ["myorg/myvol:1.0", "myvol"],
      ["mem", "mem"]
    ] as const) {
      const entrypoint = configOf("volume-memory", reference).Entrypoint
      const name = entrypoint[entrypoint.indexOf("--name") + 1]!
      expect(name, reference).toBe(served)
      expect(PluginName.check(name), reference).toBeUndefined()
    }
  })
})

describe("dpk package of a plugin file that goes wrong", () => {
  /** Runs `Package.write` with the temporary folder pointed at a fresh one; answers the outcome and what was left. */
  const attempt = (source: string) =>
    Effect.gen(function* () {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-package-test-"))
      const tmp = Path.join(dir, "tmp")
      Fs.mkdirSync(tmp)
      const entry = Path.join(dir, "plugin.mjs")
      Fs.writeFileSync(entry, source)
      const before = process.env.TMPDIR
      process.env.TMPDIR = tmp
      const exit = yield* Effect.exit(Package.write(entry, "p", Path.join(dir, "out"))).pipe(
        Effect.ensuring(
          Effect.sync(() => {
            if (before === undefined) delete process.env.TMPDIR
            else process.env.TMPDIR = before
          })
        )
      )
      const left = { tmp: Fs.readdirSync(tmp), out: Fs.existsSync(Path.join(dir, "out")) }
      Fs.rmSync(dir, { recursive: true, force: true })
      return { exit, left }
    })

  it.live("one that does not bundle: the bundler's error, and no temporary folder or output left", () =>
    Effect.gen(function* () {
      const { exit, left } = yield* attempt("export const x = (\n")
      expect(String(exit)).toContain("cannot bundle")
      expect(left).toEqual({ tmp: [], out: false })
    })
  )

  it.live(
    "one that listens and never answers Activate: fails saying so, instead of waiting forever",
    () =>
      Effect.gen(function* () {
        const { exit, left } = yield* attempt(
          'import * as Net from "node:net"\nNet.createServer(() => {}).listen(process.argv[2])\n'
        )
        expect(String(exit)).toContain("it did not answer /Plugin.Activate within 10 s")
        expect(left).toEqual({ tmp: [], out: false })
      }),
    { timeout: 30_000 }
  )
})

describe("dpk package --implements", () => {
  it.live("takes the APIs as given and never runs the plugin on this machine", () =>
    Effect.gen(function* () {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-package-test-"))
      const marker = Path.join(dir, "ran")
      const entry = Path.join(dir, "plugin.mjs")
      // Run here, it would leave a file (as a template's driver makes its data folder) and exit.
      Fs.writeFileSync(
        entry,
        `import * as Fs from "node:fs"\nFs.writeFileSync(${JSON.stringify(marker)}, "")\nprocess.exit(1)\n`
      )
      const written = yield* Package.write(entry, "p", Path.join(dir, "out"), ["VolumeDriver", "authz"]).pipe(
        Effect.ensuring(Effect.sync(() => Fs.rmSync(Path.join(dir, "out"), { recursive: true, force: true })))
      )
      const ran = Fs.existsSync(marker)
      Fs.rmSync(dir, { recursive: true, force: true })
      expect(written.config.Interface.Types).toEqual(["docker.volumedriver/1.0", "docker.authz/1.0"])
      expect(ran).toBe(false)
    })
  )

  it.live("refuses a name that is no API, or a reference driver's, before bundling anything", () =>
    Effect.gen(function* () {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-package-test-"))
      const entry = Path.join(dir, "plugin.mjs")
      Fs.writeFileSync(entry, "")
      const unknown = yield* Effect.flip(Package.write(entry, "p", Path.join(dir, "out"), ["VolumeDrivers"]))
      const driver = yield* Effect.flip(Package.write("volume-memory", "p", Path.join(dir, "out2"), ["VolumeDriver"]))
      const left = Fs.readdirSync(dir)
      Fs.rmSync(dir, { recursive: true, force: true })
      expect(unknown.message).toContain('--implements "VolumeDrivers" is not an API (known: VolumeDriver, ')
      expect(driver.message).toContain("--implements is for a plugin's entry file")
      expect(left).toEqual(["plugin.mjs"])
    })
  )
})

describe("dpk package names", () => {
  it("accepts the repository names docker plugin create takes, and refuses others naming the flag", () => {
    for (const name of ["mem", "myorg/my-vol", "my_org/my.vol", "registry.local:5000/team/vol", "localhost/v"]) {
      expect(Package.checkReference(name, "latest"), name).toBeUndefined()
    }
    for (const name of ["../x", "a/../b", "/abs", "Upper", "My/vol", "a//b", "vol:1.0", "vol@sha256:00", "a b", ""]) {
      expect(Package.checkReference(name, "latest"), name).toMatch(/^--name .* is not a repository name/)
    }
    expect(Package.checkReference("x".repeat(256), "latest")).toBe("--name is longer than 255 characters")
    expect(Package.checkReference("mem", "1.0 beta")).toMatch(/^--tag "1.0 beta" must match/)
    expect(Package.checkReference("mem", ".x")).toMatch(/^--tag/)
  })

  it("refuses --name ../x before writing anything, instead of writing ../x-plugin outside the working folder", () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-package-name-"))
    try {
      const cwd = Path.join(dir, "cwd")
      Fs.mkdirSync(cwd)
      const run = spawnSync(process.execPath, [...nodeArgs, "package", "volume-memory", "--name", "../x"], {
        cwd,
        encoding: "utf8"
      })
      expect(run.status).toBe(1)
      // One line on stderr, no log line with a stack trace on stdout.
      expect(run.stdout).toBe("")
      expect(run.stderr.trim().split("\n")).toHaveLength(1)
      expect(run.stderr.trim()).toMatch(
        /^dpk package: cannot package volume-memory: --name "..\/x" is not a repository/
      )
      expect(Fs.readdirSync(dir)).toEqual(["cwd"])
      expect(Fs.readdirSync(cwd)).toEqual([])
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it.live("refuses an --out that is a dangling symlink, leaving the link alone", () =>
    Effect.gen(function* () {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-package-out-"))
      try {
        const link = Path.join(dir, "out")
        Fs.symlinkSync(Path.join(dir, "gone"), link)
        const exit = yield* Effect.exit(Package.write("volume-memory", "p", link))
        expect(String(exit)).toContain(`${link} exists already`)
        expect(Fs.readlinkSync(link)).toBe(Path.join(dir, "gone"))
        expect(Fs.readdirSync(dir)).toEqual(["out"])
      } finally {
        Fs.rmSync(dir, { recursive: true, force: true })
      }
    })
  )
})

describe("dpk package's flags for what a plugin needs as a managed plugin", () => {
  it("a reference driver: the flags' needs are added to its descriptor's in the config", () => {
    const descriptor = Descriptors.byName("volume-local")!
    const config = PluginConfig.make(
      Package.driverInput(descriptor, "vol", {
        ...descriptor.managed,
        mounts: [{ source: "/srv/seed", destination: "/seed", options: ["rbind", "ro"] }],
        env: [{ name: "SEED", value: "/seed" }]
      })
    )
    expect(config.PropagatedMount).toBe(descriptor.managed!.propagatedMount)
    expect(config.Mounts).toEqual([
      {
        Name: "mount0",
        Description: "/srv/seed on /seed",
        Settable: ["source"],
        Source: "/srv/seed",
        Destination: "/seed",
        Type: "bind",
        Options: ["rbind", "ro"]
      }
    ])
    expect(config.Env.at(-1)).toMatchObject({ Name: "SEED", Settable: ["value"], Value: "/seed" })
  })

  it("dpk package FILE: every flag lands in config.json, and a --binary in the rootfs", () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-package-flags-"))
    try {
      const entry = Path.join(dir, "plugin.mjs")
      Fs.writeFileSync(entry, "export {}\n")
      const out = Path.join(dir, "out")
      const run = spawnSync(
        process.execPath,
        [
          ...nodeArgs,
          "package",
          entry,
          "--name",
          "vendor",
          "--out",
          out,
          "--implements",
          "VolumeDriver",
          "--propagated-mount",
          "/mnt/volumes",
          "--mount",
          "/dev:/dev",
          "--mount",
          "/etc/vendor:/etc/vendor:ro",
          "--capability",
          "CAP_SYS_ADMIN",
          "--capability",
          "CAP_NET_ADMIN",
          "--network",
          "host",
          "--env",
          "VENDOR_API=https://storage.local",
          "--env",
          "VENDOR_DEBUG=",
          "--device",
          "/dev/fuse",
          "--allow-all-devices",
          "--ipc-host",
          "--pid-host",
          "--binary",
          "sh"
        ],
        { encoding: "utf8" }
      )
      expect(run.status, run.stderr).toBe(0)
      const config = JSON.parse(Fs.readFileSync(Path.join(out, "config.json"), "utf8"))
      expect(config.Interface.Types).toEqual(["docker.volumedriver/1.0"])
      expect(config.PropagatedMount).toBe("/mnt/volumes")
      expect(config.Mounts).toEqual([
        {
          Name: "mount0",
          Description: "/dev on /dev",
          Settable: ["source"],
          Source: "/dev",
          Destination: "/dev",
          Type: "bind",
          Options: ["rbind", "rw"]
        },
        {
          Name: "mount1",
          Description: "/etc/vendor on /etc/vendor",
          Settable: ["source"],
          Source: "/etc/vendor",
          Destination: "/etc/vendor",
          Type: "bind",
          Options: ["rbind", "ro"]
        }
      ])
      expect(config.Network).toEqual({ Type: "host" })
      expect(config.Linux).toEqual({
        Capabilities: ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"],
        AllowAllDevices: true,
        Devices: [{ Name: "device0", Description: "/dev/fuse", Settable: ["path"], Path: "/dev/fuse" }]
      })
      expect(config.Env.map((e: { Name: string; Value: string }) => `${e.Name}=${e.Value}`)).toEqual([
        `DPK_PLUGIN_SOCKET=${PluginConfig.socketPath}`,
        `NODE_COMPILE_CACHE=${PluginConfig.compileCacheDir}`,
        "VENDOR_API=https://storage.local",
        "VENDOR_DEBUG="
      ])
      expect(config.Env.slice(2).map((e: { Settable: Array<string> }) => e.Settable)).toEqual([["value"], ["value"]])
      expect([config.IpcHost, config.PidHost]).toEqual([true, true])
      expect(Fs.existsSync(Path.join(out, "rootfs", Rootfs.locate("sh")!))).toBe(true)
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("refuses a bad value before bundling anything, in one line naming the flag and the value", () => {
    const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-package-flags-"))
    try {
      const entry = Path.join(dir, "plugin.mjs")
      Fs.writeFileSync(entry, "export {}\n")
      for (const [flags, message] of [
        [
          ["--capability", "SYS_ADMIN"],
          '--capability "SYS_ADMIN" is not a Linux capability name: did you mean CAP_SYS_ADMIN?'
        ],
        [["--mount", "data:/data"], '--mount "data:/data": SOURCE "data" is not an absolute path on the host'],
        [["--env", "DPK_PLUGIN_SOCKET=/x"], '--env "DPK_PLUGIN_SOCKET=/x": the kit sets DPK_PLUGIN_SOCKET itself'],
        [["--network", "bridged"], '--network "bridged" is not a network type: host, none, bridge'],
        [["--binary", "dpk-no-such-tool"], '--binary "dpk-no-such-tool" is not on PATH on this machine']
      ] as const) {
        const run = spawnSync(
          process.execPath,
          [
            ...nodeArgs,
            "package",
            entry,
            "--name",
            "p",
            "--out",
            Path.join(dir, "out"),
            "--implements",
            "VolumeDriver",
            ...flags
          ],
          { encoding: "utf8" }
        )
        expect(run.status, flags.join(" ")).toBe(1)
        expect(run.stdout).toBe("")
        expect(run.stderr.trim().split("\n"), flags.join(" ")).toHaveLength(1)
        expect(run.stderr.trim(), flags.join(" ")).toContain(`dpk package: cannot package ${entry}: ${message}`)
        expect(Fs.readdirSync(dir)).toEqual(["plugin.mjs"])
      }
    } finally {
      Fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it.live("Package.write refuses a reference driver's flag conflicts before bundling", () =>
    Effect.gen(function* () {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-package-flags-"))
      const failed = yield* Effect.flip(
        Package.write("network-bridge", "net", Path.join(dir, "out"), undefined, { network: Option.some("none") })
      )
      const left = Fs.readdirSync(dir)
      Fs.rmSync(dir, { recursive: true, force: true })
      expect(failed.message).toBe(
        'cannot package network-bridge: --network "none": network-bridge needs the network host'
      )
      expect(left).toEqual([])
    })
  )
})
