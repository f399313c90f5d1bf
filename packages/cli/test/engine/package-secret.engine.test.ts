/**
 * `dpk package secret-folder` against a private Docker Engine 20.10 made a one-node swarm (testkit's `Swarm`): the
 * secret provider as a managed plugin, its secrets folder a host folder of this run given as the source of the
 * plugin's read-only mount (`docker plugin set NAME mount0.source=DIR`, before `docker plugin enable`), never the
 * host-wide default. A service's container reads a secret whose `key` label names a file in a sub-folder; a secret
 * whose file is missing makes its task fail.
 */
import { Swarm } from "@docker-plugin-kit/testkit"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { dpk } from "../support.ts"

const shared = await Swarm.shared()
const engine = shared.engine!
// Leaves the swarm, stops the daemon, then deletes the swarm's gateway bridge interface.
afterAll(() => shared.close())

const unique = () => `${process.pid}-${Math.random().toString(36).slice(2, 8)}`

/** Where the plugin reads the secrets' files: the mount's destination, fixed in its entry point. */
const pluginRoot = "/var/lib/docker-plugin-kit/secrets"

describe.skipIf(shared.engine === undefined)("secret-folder as a managed plugin on Engine 20.10 (swarm)", () => {
  // Made only when the tests run: a skipped describe's body still runs, and its afterAll does not.
  const base = shared.engine === undefined ? "" : Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-e2e-msecret-"))
  const name = `dpk-e2e-msecret-${unique()}`
  const plugin = `${name}:latest`
  const services: Array<string> = []
  const secrets: Array<string> = []

  afterAll(async () => {
    // Each step on its own: a failed test may have left any of them undone.
    const quiet = (...a: ReadonlyArray<string>) => Effect.runPromise(Effect.ignore(engine.dockerResult(...a)))
    if (services.length > 0) await quiet("service", "rm", ...services)
    if (secrets.length > 0) await quiet("secret", "rm", ...secrets)
    await quiet("plugin", "disable", "-f", plugin)
    await quiet("plugin", "rm", "-f", plugin)
    Fs.rmSync(base, { recursive: true, force: true })
  })

  const docker = (...args: ReadonlyArray<string>) => engine.docker(...args)
  /** `docker secret create --driver NAME:TAG` with these labels (a driver secret takes no data). */
  const secret = (secretName: string, ...labels: ReadonlyArray<string>) =>
    Effect.andThen(
      Effect.sync(() => secrets.push(secretName)),
      docker("secret", "create", "--driver", plugin, ...labels.flatMap((l) => ["--label", l]), secretName)
    )
  /** Creates a service running `sleep` on the host network with this secret (the task starts later). */
  const service = (serviceName: string, secretName: string) =>
    Effect.andThen(
      Effect.sync(() => services.push(serviceName)),
      docker(
        ...["service", "create", "--detach", "--name", serviceName, "--network", "host"],
        ...["--restart-condition", "none", "--secret", secretName, engine.image, "sleep", "300"]
      )
    )

  it.live(
    "packaged, its mount's source set to a folder of this run, enabled: a service reads the file a secret's key label names; a secret whose file is missing fails its task; then disabled and removed",
    () =>
      Effect.gen(function* () {
        const dir = Path.join(base, "plugin")
        const packaged = dpk("package", "secret-folder", "--name", name, "--out", dir)
        expect(packaged.status, packaged.stderr).toBe(0)
        const config = JSON.parse(Fs.readFileSync(Path.join(dir, "config.json"), "utf8"))
        expect(config.Interface.Types).toEqual(["docker.secretprovider/1.0"])
        expect(config.Mounts).toEqual([
          expect.objectContaining({
            Source: pluginRoot,
            Destination: pluginRoot,
            Settable: ["source"],
            Options: ["rbind", "ro"]
          })
        ])
        // The root is the mount's destination whatever the settable arguments say.
        expect(config.Entrypoint.slice(-2)).toEqual(["--root", pluginRoot])

        // The host folder of the secrets, filled before the plugin starts (it must exist for the mount).
        const secretsDir = Path.join(base, "secrets")
        Fs.mkdirSync(Path.join(secretsDir, "db"), { recursive: true, mode: 0o700 })
        const password = `pw-${unique()}\n`
        Fs.writeFileSync(Path.join(secretsDir, "db", "password"), password, { mode: 0o600 })

        yield* docker("plugin", "create", plugin, dir)
        yield* docker("plugin", "set", plugin, `mount0.source=${secretsDir}`)
        yield* docker("plugin", "enable", plugin)

        yield* secret("app_db_pw", "key=db/password")
        // Stored as given; the manager finds the plugin by it as `docker plugin` does (NAME alone means NAME:latest).
        expect(yield* docker("secret", "inspect", "--format", "{{.Spec.Driver.Name}}", "app_db_pw")).toBe(plugin)
        yield* service("web", "app_db_pw")
        const [container] = yield* Swarm.running(engine, "web")
        // The file's bytes as they are, trailing newline included (the CLI's stdout is trimmed: read it through wc).
        expect(yield* docker("exec", container!, "cat", "/run/secrets/app_db_pw")).toBe(password.trimEnd())
        expect(yield* docker("exec", container!, "wc", "-c", "/run/secrets/app_db_pw")).toBe(
          `${Buffer.byteLength(password)} /run/secrets/app_db_pw`
        )

        yield* secret("app_missing", "key=db/missing")
        yield* service("broken", "app_missing")
        const error = yield* Swarm.taskErrors(engine, "broken")
        // The manager leaves a secret the plugin did not answer out of the task's assignment: the worker misses it.
        expect(error).toMatch(/unable to get secret from secret store: secret \w+ not found/)
        expect(yield* Swarm.containers(engine, "broken")).toEqual([])
        // The plugin said why, in its log (the daemon's, line by line).
        expect(engine.logTail(400)).toContain('no file \\\\\\"db/missing\\\\\\" under the secrets folder')

        yield* docker("service", "rm", ...services)
        services.length = 0
        yield* docker("secret", "rm", ...secrets)
        secrets.length = 0
        yield* docker("plugin", "disable", plugin)
        yield* docker("plugin", "rm", plugin)
        expect(yield* docker("plugin", "ls", "--format", "{{.Name}}")).not.toContain(name)
      }),
    240_000
  )
})
