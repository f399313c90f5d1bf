import { DockerEngine } from "@docker-plugin-kit/testkit"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { type Duration, Effect, Exit } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

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

/** Runs `make` with a fake dockerd script in place of the real one. */
const withFakeDockerd = async (script: string, startTimeout: Duration.Input) => {
  const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-fake-dockerd-"))
  const fake = Path.join(dir, "dockerd")
  Fs.writeFileSync(fake, `#!/bin/sh\n${script}\n`, { mode: 0o755 })
  const saved = process.env.DPK_DOCKERD
  process.env.DPK_DOCKERD = fake
  try {
    return await Effect.runPromise(Effect.exit(Effect.scoped(DockerEngine.make({ startTimeout }))))
  } finally {
    if (saved === undefined) delete process.env.DPK_DOCKERD
    else process.env.DPK_DOCKERD = saved
    Fs.rmSync(dir, { recursive: true, force: true })
  }
}

const failureMessage = (exit: Exit.Exit<unknown, { message: string }>) => {
  if (Exit.isSuccess(exit)) throw new Error("expected the start to fail")
  const error = Exit.findErrorOption(exit)
  return error._tag === "Some" ? error.value.message : String(exit.cause)
}

describe.skipIf(DockerEngine.findTools()._tag === "Failure")("DockerEngine start failures", () => {
  it("a daemon that exits at once fails with its log tail", async () => {
    const exit = await withFakeDockerd('echo "failed to start daemon: boom" >&2; exit 1', "20 seconds")
    const message = failureMessage(exit)
    expect(message).toContain("dockerd exited during start-up")
    expect(message).toContain("failed to start daemon: boom")
  })

  it("a daemon that never answers fails at the timeout with its log tail, and is stopped", async () => {
    const exit = await withFakeDockerd('echo "still thinking"; exec sleep 600', "1 second")
    const message = failureMessage(exit)
    expect(message).toMatch(/did not answer docker info within 1s/)
    expect(message).toContain("still thinking")
  })
})
