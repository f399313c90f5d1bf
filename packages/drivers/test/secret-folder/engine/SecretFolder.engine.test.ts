/**
 * secret-folder driven by the real docker CLI against a private Engine 20.10 made a one-node swarm
 * (`docker secret create --driver NAME`, `docker service create --secret`), with the plugin served in this process
 * on /run/docker/plugins/<unique>.sock.
 *
 * The swarm (testkit's `Swarm`) is kept off what the host's daemons share: its gateway bridge has an interface name
 * and a subnet of this run, its ports are free ones, and the tasks run on the host network (no overlay).
 */
import { SecretFolder } from "@docker-plugin-kit/drivers"
import { SecretProvider } from "@docker-plugin-kit/protocol"
import { Swarm } from "@docker-plugin-kit/testkit"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import {
  cleanupStep,
  type Recorded,
  recordingOf,
  type Served,
  serve,
  socketOf,
  uniqueName
} from "../../support/engine.ts"

const shared = await Swarm.shared()
const engine = shared.engine!
// Leaves the swarm, stops the daemon, then deletes the gateway bridge's interface.
afterAll(() => shared.close())

describe.skipIf(shared.engine === undefined)("secret-folder against Docker Engine 20.10 (swarm)", () => {
  const name = uniqueName("dpk-e2e-secret")
  // Vitest runs a skipped describe's body too: no folder where the engine cannot run (its hooks do not).
  const base = shared.engine === undefined ? "" : Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-e2e-secret-"))
  const root = Path.join(base, "secrets")
  const outside = Path.join(base, "outside")
  const calls: Array<Recorded> = []
  const services: Array<string> = []
  let served: Served | undefined

  const docker = (...args: ReadonlyArray<string>) => engine.docker(...args)
  const write = (key: string, content: string) => {
    Fs.mkdirSync(Path.dirname(Path.join(root, key)), { recursive: true })
    Fs.writeFileSync(Path.join(root, key), content)
  }
  const secret = (secretName: string, ...labels: ReadonlyArray<string>) =>
    docker("secret", "create", "--driver", name, ...labels.flatMap((label) => ["--label", label]), secretName)
  /** Creates a service running `sleep` with these secrets (the task starts later). */
  const service = (serviceName: string, ...secrets: ReadonlyArray<string>) =>
    Effect.andThen(
      Effect.sync(() => services.push(serviceName)),
      docker(
        ...["service", "create", "--detach", "--name", serviceName, "--network", "host"],
        ...["--restart-condition", "none", ...secrets.flatMap((s) => ["--secret", s])],
        ...[engine.image, "sleep", "300"]
      )
    )
  const cat = (container: string, secretName: string) => docker("exec", container, "cat", `/run/secrets/${secretName}`)
  const callsFor = (secretName: string) =>
    calls.filter((call) => (call.request as SecretProvider.GetSecretRequest).SecretName === secretName)

  beforeAll(async () => {
    Fs.mkdirSync(root, { recursive: true })
    Fs.mkdirSync(outside, { recursive: true })
    served = await serve(name, recordingOf(SecretProvider.SecretProvider)(SecretFolder.layerNode({ root }), calls))
  })

  afterAll(async () => {
    if (services.length > 0) await cleanupStep(() => Effect.runPromise(docker("service", "rm", ...services)))
    await cleanupStep(() => served?.close())
    Fs.rmSync(base, { recursive: true, force: true })
    expect(Fs.existsSync(socketOf(name))).toBe(false)
  })

  it.live("a service's task gets the file named by the secret's name, and by its key label in a sub-folder", () =>
    Effect.gen(function* () {
      write("app_token", "token-by-name\n")
      write("db/password", "pw-by-key")
      yield* secret("app_token")
      yield* secret("app_db_pw", "key=db/password", "services=web")
      yield* service("web", "app_token", "app_db_pw")
      const [container] = yield* Swarm.running(engine, "web")
      // The swarm's gateway bridge is ours, not the host-wide docker_gwbridge interface other daemons share.
      expect(Swarm.linkExists(shared.swarm!.gateway)).toBe(true)
      expect(yield* cat(container!, "app_token")).toBe("token-by-name")
      expect(yield* cat(container!, "app_db_pw")).toBe("pw-by-key")
      // What the manager sent: the secret's name and labels, and the task it is for.
      const request = callsFor("app_db_pw")[0]?.request as SecretProvider.GetSecretRequest
      expect(request).toMatchObject({
        SecretName: "app_db_pw",
        SecretLabels: { key: "db/password", services: "web" },
        ServiceName: "web",
        TaskImage: engine.image
      })
      expect(request.TaskName).toMatch(/^web\.1\./)
      for (const field of ["ServiceID", "TaskID", "NodeID"] as const) expect(request[field]).toMatch(/^\w+$/)
    })
  )

  it.live("a service the secret's label services does not name, and a symlink to a file outside, get nothing", () =>
    Effect.gen(function* () {
      write("shared/key", "not-for-you")
      Fs.writeFileSync(Path.join(outside, "host-file"), "outside the root")
      Fs.symlinkSync(Path.join(outside, "host-file"), Path.join(root, "planted"))
      yield* secret("other_only", "key=shared/key", "services=other,api")
      yield* secret("planted")
      yield* service("intruder", "other_only")
      yield* service("linked", "planted")
      const errors = yield* Effect.all([Swarm.taskErrors(engine, "intruder"), Swarm.taskErrors(engine, "linked")], {
        concurrency: 2
      })
      // The manager leaves a secret the plugin did not answer out of the task's assignment, so the worker misses it.
      for (const error of errors) expect(error).toMatch(/unable to get secret from secret store: secret \w+ not found/)
      expect(yield* Swarm.containers(engine, "intruder")).toEqual([])
      expect(yield* Swarm.containers(engine, "linked")).toEqual([])
      // The plugin said why (the manager only says so in its debug log).
      expect(callsFor("other_only").map((call) => call.error)).toContain(
        'secret "other_only" is not given to service "intruder": its label services allows other, api'
      )
      expect(callsFor("planted").map((call) => call.error)).toContain(
        'secret "planted": file "planted" is refused: "planted" is a symlink, and no symlink under the secrets folder is followed (it could point anywhere)'
      )
    })
  )

  it.live("a rewritten file reaches the next task, and with reuse=false each task gets a copy of its own", () =>
    Effect.gen(function* () {
      write("rotating", "v1")
      write("steady", "v1")
      yield* secret("rotating", "reuse=false")
      yield* secret("steady")
      yield* service("rotor", "rotating", "steady")
      const [first] = yield* Swarm.running(engine, "rotor")
      expect(yield* cat(first!, "rotating")).toBe("v1")
      write("rotating", "v2")
      write("steady", "v2")
      yield* docker("service", "scale", "--detach", "rotor=2")
      const both = yield* Swarm.running(engine, "rotor", 2)
      const second = both.find((id) => id !== first)!
      expect(yield* cat(second, "rotating")).toBe("v2")
      // The manager asks for every new task whatever DoNotReuse says (swarmkit's dispatcher): without it, the
      // node's one copy is replaced; a running container keeps what it was given at its start either way.
      expect(yield* cat(second, "steady")).toBe("v2")
      expect(yield* cat(first!, "rotating")).toBe("v1")
      expect(yield* cat(first!, "steady")).toBe("v1")
      const answers = (secretName: string) =>
        callsFor(secretName).map((call) => (call.response as SecretProvider.GetSecretResponse).DoNotReuse)
      expect(answers("rotating")).toEqual([true, true])
      expect(answers("steady")).toEqual([undefined, undefined])
    })
  )
})
