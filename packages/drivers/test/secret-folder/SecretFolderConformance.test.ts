/**
 * The SecretProvider conformance suite against secret-folder: in-process (memory files) and over a socket (disk),
 * told a secret the folder holds (`secretName`, `dpk probe --secret-name`), and by `dpk probe` against
 * `dpk serve secret-folder` in its own process.
 */
import { SecretFilesMemory, SecretFolder } from "@docker-plugin-kit/drivers"
import { Conformance, ConformanceSecret, ConformanceSuites } from "@docker-plugin-kit/testkit"
import { ConformanceVitest } from "@docker-plugin-kit/testkit/vitest"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { spawnServe } from "../support/engine.ts"

/** The secret the folder holds: a file named as the secret, as `docker secret create --driver` without a key label. */
const secretName = "conformance_db_password"
const options = { secretName }

const base = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-conformance-secret-"))
afterAll(() => Fs.rmSync(base, { recursive: true, force: true }))
const root = Path.join(base, "secrets")
Fs.mkdirSync(root)
Fs.writeFileSync(Path.join(root, secretName), "s3cret\n")

const onDisk = () => Layer.fresh(SecretFolder.layerNode({ root }))
const inMemory = () => {
  const files = SecretFilesMemory.make()
  files.writeFile(`/secrets/${secretName}`, "s3cret\n")
  return SecretFolder.layerMemory({ root: "/secrets" }, files)
}

ConformanceVitest.describeSuite(
  "conformance: secret-folder, memory files, in-process",
  ConformanceSecret.suite,
  () => ConformanceSuites.inProcess(inMemory()),
  options
)
ConformanceVitest.describeSuite(
  "conformance: secret-folder, disk, over a socket",
  ConformanceSecret.suite,
  () => ConformanceSuites.overSocket(onDisk()),
  options
)

const cliBin = fileURLToPath(new URL("../../../cli/src/bin.ts", import.meta.url))

describe("conformance report of secret-folder", () => {
  it.live("passes every check with no warning, in-process on disk, with and without a secret named", () =>
    Effect.gen(function* () {
      for (const checks of [options, {}]) {
        const report = yield* Conformance.run(
          ConformanceSecret.suite,
          yield* ConformanceSuites.inProcess(onDisk()),
          checks
        )
        expect(report.outcomes.filter((o) => o.status !== "pass")).toEqual([])
        expect(report.outcomes).toHaveLength(ConformanceSecret.checks.length)
      }
    })
  )

  it.live("fails the named-secret check when the named secret's file is not there", () =>
    Effect.gen(function* () {
      const report = yield* Conformance.run(ConformanceSecret.suite, yield* ConformanceSuites.inProcess(onDisk()), {
        secretName: "not_in_the_folder"
      })
      expect(report.outcomes.filter((o) => o.status === "fail").map((o) => o.reason)).toEqual([
        expect.stringContaining('no file \\"not_in_the_folder\\" under the secrets folder')
      ])
    })
  )

  it("dpk probe --secret-name passes dpk serve secret-folder, every suite", async () => {
    const dir = Fs.mkdtempSync(Path.join(base, "probe-"))
    const socket = Path.join(dir, "sf.sock")
    const served = await spawnServe(["secret-folder", "--name", "sf", "--socket", socket, "--root", root])
    try {
      const probe = ChildProcess.spawnSync(
        process.execPath,
        ["--conditions=@docker-plugin-kit/source", cliBin, "probe", socket, "--secret-name", secretName],
        { encoding: "utf8", timeout: 120_000 }
      )
      expect(probe.status, probe.stdout + probe.stderr).toBe(0)
      expect(probe.stdout).toContain("implements secretprovider")
      expect(probe.stdout).toMatch(
        new RegExp(`secretprovider conformance of .*: ${ConformanceSecret.checks.length} passed, 0 failed$`, "m")
      )
    } finally {
      await served.stop()
    }
  })
})
