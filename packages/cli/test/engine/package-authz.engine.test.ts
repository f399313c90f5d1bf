/**
 * `dpk package authz-policy` against a private Docker Engine 20.10 whose authorization chain names a managed
 * plugin. The daemon validates its authorization plugins when it starts and on every configuration reload, and a
 * managed plugin is found only once enabled: so the daemon starts with a configuration file, the plugin is created
 * and enabled, and the file then gains `authorization-plugins` and the daemon a SIGHUP. The policy is the shipped
 * `examples/authz-policy/baseline.yaml`, in a host folder of this run mounted over the plugin's policy folder; a
 * new policy renamed over it there is loaded by the plugin without a signal.
 */
import { DockerEngine } from "@docker-plugin-kit/testkit"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { dpk } from "../support.ts"

const base = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-e2e-mauthz-"))
const daemonConfig = Path.join(base, "daemon.json")
Fs.writeFileSync(daemonConfig, "{}\n")
const shared = await DockerEngine.shared({ daemonArgs: ["--config-file", daemonConfig] })
const engine = shared.engine!
afterAll(async () => {
  await shared.close()
  Fs.rmSync(base, { recursive: true, force: true })
})

const baseline = Path.join(import.meta.dirname, "..", "..", "..", "..", "examples", "authz-policy", "baseline.yaml")

describe.skipIf(shared.engine === undefined)("authz-policy as a managed plugin on Engine 20.10", () => {
  const name = `dpk-e2e-mauthz-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
  const plugin = `${name}:latest`

  afterAll(async () => {
    const quiet = (...a: ReadonlyArray<string>) => Effect.runPromise(Effect.ignore(engine.dockerResult(...a)))
    // Disabling takes the plugin out of the authorization chain, so the engine's own clean-up is not judged by it.
    await quiet("plugin", "disable", "-f", plugin)
    await quiet("plugin", "rm", "-f", plugin)
  })

  it.live(
    "enabled, then named in authorization-plugins by a reload: --privileged and a bind mount of /etc denied with the policy's messages, a plain run allowed, each decision in an audit file on the host; a policy changed on the host applies by itself; kept across a daemon restart; disabled, it decides no more",
    () =>
      Effect.gen(function* () {
        const dir = Path.join(base, "plugin")
        // The audit goes to a file in a host folder mounted into the plugin.
        const auditDir = Path.join(base, "audit")
        Fs.mkdirSync(auditDir)
        const packaged = dpk(
          "package",
          "authz-policy",
          "--name",
          name,
          "--out",
          dir,
          "--mount",
          `${auditDir}:/var/log/dpk-authz`
        )
        expect(packaged.status, packaged.stderr).toBe(0)
        const config = JSON.parse(Fs.readFileSync(Path.join(dir, "config.json"), "utf8"))
        expect(config.Interface.Types).toEqual(["docker.authz/1.0"])
        expect(config.Mounts).toEqual([
          expect.objectContaining({
            Source: "/etc/docker-plugin-kit/authz-policy",
            Destination: "/etc/docker-plugin-kit/authz-policy",
            Settable: ["source"],
            Options: ["rbind", "ro"]
          }),
          expect.objectContaining({ Source: auditDir, Destination: "/var/log/dpk-authz", Settable: ["source"] })
        ])
        expect(config.Args.Value).toEqual(["--policy", "/etc/docker-plugin-kit/authz-policy/policy.yaml"])

        const policyDir = Path.join(base, "policy")
        Fs.mkdirSync(policyDir)
        Fs.copyFileSync(baseline, Path.join(policyDir, "policy.yaml"))
        yield* engine.docker("plugin", "create", plugin, dir)
        yield* engine.docker("plugin", "set", plugin, `mount0.source=${policyDir}`)
        yield* engine.docker(
          "plugin",
          "set",
          plugin,
          "args=--policy /etc/docker-plugin-kit/authz-policy/policy.yaml --audit-file /var/log/dpk-authz/audit.log"
        )
        yield* engine.docker("plugin", "enable", plugin)

        const privileged = () =>
          engine.dockerResult("run", "--rm", "--privileged", "--network", "none", engine.image, "true")
        // Not in the chain yet: the engine creates a privileged container. (Created, not run: starting one needs
        // capabilities a host that is itself a container may not have; the request the policy judges is the create.)
        const created = () =>
          Effect.flatMap(engine.docker("create", "--privileged", "--network", "none", engine.image, "true"), (id) =>
            engine.docker("rm", id)
          )
        yield* created()

        Fs.writeFileSync(daemonConfig, `${JSON.stringify({ "authorization-plugins": [plugin] })}\n`)
        process.kill(engine.pid, "SIGHUP")
        let denied = yield* privileged()
        for (let i = 0; i < 50 && !denied.stderr.includes("authorization denied"); i++) {
          yield* Effect.sleep("200 millis")
          denied = yield* privileged()
        }
        expect(denied.exitCode).not.toBe(0)
        expect(denied.stderr).toContain(
          `authorization denied by plugin ${plugin}: privileged containers are not allowed (baseline policy)`
        )
        const etc = yield* engine.dockerResult(
          "run",
          "--rm",
          "--network",
          "none",
          "-v",
          "/etc:/host",
          engine.image,
          "true"
        )
        expect(etc.exitCode).not.toBe(0)
        expect(etc.stderr).toContain("bind mounts of /, /etc and the Docker socket are not allowed (baseline policy)")
        // Each decision is a line of the audit file on the host (written just after its answer), denials with their rule.
        const auditFile = Path.join(auditDir, "audit.log")
        const audited = () => (Fs.existsSync(auditFile) ? Fs.readFileSync(auditFile, "utf8") : "")
        for (let i = 0; i < 20 && !audited().includes("rule=no-host-root-etc"); i++) yield* Effect.sleep("100 millis")
        expect(audited()).toMatch(/route=containers\/create rule=no-privileged decision=deny/)
        expect(audited()).toMatch(/route=containers\/create rule=no-host-root-etc-or-docker-socket decision=deny/)
        expect(audited()).toMatch(/route=_ping rule=default decision=allow/)
        expect(
          yield* engine.docker("run", "--rm", "--network", "none", engine.image, "echo", "allowed by the policy")
        ).toBe("allowed by the policy")

        // A policy renamed over the host's file is loaded by the plugin itself, with no signal: the plugin watches the
        // folder mounted into it.
        const next = Path.join(policyDir, "policy.yaml.new")
        Fs.writeFileSync(
          next,
          `${Fs.readFileSync(baseline, "utf8")}\n  - name: frozen-volumes\n    decision: deny\n    message: volumes are frozen\n    routes: [volumes/create]\n`
        )
        Fs.renameSync(next, Path.join(policyDir, "policy.yaml"))
        const volume = () => engine.dockerResult("volume", "create", `${name}-volume`)
        let frozen = yield* volume()
        for (let i = 0; i < 50 && !frozen.stderr.includes("volumes are frozen"); i++) {
          yield* Effect.sleep("100 millis")
          frozen = yield* volume()
        }
        expect(frozen.exitCode).not.toBe(0)
        expect(frozen.stderr).toContain(`authorization denied by plugin ${plugin}: volumes are frozen`)

        // A restart keeps it: the daemon restores its enabled plugins before it checks its authorization chain.
        yield* engine.restart
        const again = yield* privileged()
        expect(again.stderr).toContain(
          `authorization denied by plugin ${plugin}: privileged containers are not allowed`
        )

        // A disabled plugin leaves the chain: the engine decides alone again.
        yield* engine.docker("plugin", "disable", plugin)
        yield* created()
        yield* engine.docker("plugin", "rm", plugin)
        expect(yield* engine.docker("plugin", "ls", "--format", "{{.Name}}")).not.toContain(name)
      }),
    240_000
  )
})
