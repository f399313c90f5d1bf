import { DockerEngine } from "@docker-plugin-kit/testkit"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"

const shared = await DockerEngine.shared()
const engine = shared.engine!

describe.skipIf(shared.engine === undefined)("DockerEngine (private dockerd)", () => {
  afterAll(() => shared.close())

  it.effect("answers docker info with the Debian 20.10 engine through the matching CLI", () =>
    Effect.gen(function* () {
      expect(yield* engine.docker("info", "--format", "{{.ServerVersion}}")).toMatch(/^20\.10\./)
      expect(yield* engine.docker("version", "--format", "{{.Client.Version}}")).toMatch(/^20\.10\./)
      expect(engine.host).toBe(`unix://${engine.dir}/docker.sock`)
    })
  )

  it.effect("runs the imported busybox image", () =>
    Effect.gen(function* () {
      const out = yield* engine.docker(
        "run",
        "--rm",
        "--network",
        "none",
        engine.image,
        "sh",
        "-c",
        "mkdir -p /tmp/x && touch /tmp/x/f && ls /tmp/x && echo done"
      )
      expect(out.split("\n")).toEqual(["f", "done"])
    })
  )

  it.effect("reports a failing command with its exit code and stderr", () =>
    Effect.gen(function* () {
      const r = yield* engine.dockerResult("run", "--rm", "--network", "none", engine.image, "sh", "-c", "exit 3")
      expect(r.exitCode).toBe(3)
      const err = yield* Effect.flip(engine.docker("volume", "inspect", "no-such-volume"))
      expect(err._tag).toBe("DockerCommandFailed")
      expect(err.stderr).toContain("no-such-volume")
    })
  )
})

describe.skipIf(shared.engine === undefined)("DockerEngine clean-up", () => {
  it("stops the daemon and removes its folder when the scope closes", async () => {
    const second = await DockerEngine.shared()
    const { dir, pid } = second.engine!
    await Effect.runPromise(
      second.engine!.docker("run", "-d", "--network", "none", second.engine!.image, "sleep", "300")
    )
    await second.close()
    expect(Fs.existsSync(dir)).toBe(false)
    expect(() => process.kill(pid, 0)).toThrow()
  })
})

describe("DockerEngine.findTools", () => {
  it("finds the tools or says why not", () => {
    const found = DockerEngine.findTools()
    if (found._tag === "Success") {
      for (const path of Object.values(found.success)) expect(path.startsWith("/")).toBe(true)
    } else {
      expect(found.failure).toMatch(/needs|no /)
    }
  })
})
