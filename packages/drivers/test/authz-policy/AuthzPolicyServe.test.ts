/**
 * `dpk serve authz-policy --policy FILE` as a process: `dpk probe` passes it, it audits each decision on its
 * output, it reloads a changed policy by itself (here a file behind a symbolic link into another folder), and with
 * `--no-watch` only on SIGHUP.
 */
import { ConformanceSuites } from "@docker-plugin-kit/testkit"
import { afterAll, describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { spawnServe } from "../support/engine.ts"

const baselinePath = fileURLToPath(new URL("../../../../examples/authz-policy/baseline.yaml", import.meta.url))
const cliBin = fileURLToPath(new URL("../../../cli/src/bin.ts", import.meta.url))
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-authz-serve-"))
afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))

const ping = { RequestMethod: "GET", RequestUri: "/v1.41/info" }

describe("dpk serve authz-policy", () => {
  it.live("passes dpk probe with the baseline", () =>
    Effect.gen(function* () {
      const socket = Path.join(dir, "probe.sock")
      const served = yield* Effect.acquireRelease(
        Effect.promise(() => spawnServe(["authz-policy", "--policy", baselinePath, "--socket", socket])),
        (s) => Effect.promise(() => s.stop())
      )
      expect(served.child.pid).toBeGreaterThan(0)
      const probe = ChildProcess.spawnSync(
        process.execPath,
        ["--conditions=@docker-plugin-kit/source", cliBin, "probe", socket, "--json"],
        { encoding: "utf8" }
      )
      const result = JSON.parse(probe.stdout)
      expect(result.implements).toEqual(["authz"])
      expect(result.passed).toBe(true)
      expect(result.reports[0].outcomes.every((o: { status: string }) => o.status === "pass")).toBe(true)
      expect(probe.status).toBe(0)
    })
  )

  it.live("audits decisions on its output and, with --no-watch, reloads a changed policy on SIGHUP only", () =>
    Effect.gen(function* () {
      const socket = Path.join(dir, "hup.sock")
      const folder = Fs.mkdtempSync(Path.join(dir, "hup-"))
      const file = Path.join(folder, "policy.yaml")
      Fs.writeFileSync(file, "default: allow\nrules: []\n")
      const served = yield* Effect.acquireRelease(
        Effect.promise(() => spawnServe(["authz-policy", "--policy", file, "--no-watch", "--socket", socket])),
        (s) => Effect.promise(() => s.stop())
      )
      let output = ""
      served.child.stdout?.on("data", (d) => (output += d))
      served.child.stderr?.on("data", (d) => (output += d))
      const client = yield* ConformanceSuites.running(socket)
      const ask = Effect.map(client.exchange("/AuthZPlugin.AuthZReq", ping), (ex) => ex.response.body as any)
      expect((yield* ask).Allow).toBe(true)

      // Replaced by rename in the file's own folder, which the plugin would see without --no-watch.
      Fs.writeFileSync(`${file}.new`, "default: deny\ndefaultMessage: maintenance\nrules: []\n")
      Fs.renameSync(`${file}.new`, file)
      yield* Effect.sleep("400 millis")
      expect((yield* ask).Allow).toBe(true)
      served.child.kill("SIGHUP")
      let answer = yield* ask
      for (let i = 0; i < 50 && answer.Allow; i++) {
        yield* Effect.sleep("50 millis")
        answer = yield* ask
      }
      expect(answer).toEqual({ Allow: false, Msg: "maintenance" })
      expect(served.child.exitCode).toBeNull()
      // Audit lines follow their answers (written once the turn that answered is over): wait for the last one.
      for (let i = 0; i < 50 && !output.includes("decision=deny"); i++) yield* Effect.sleep("20 millis")
      expect(output).toMatch(/authz-policy: loaded 0 rules from .* \(SIGHUP\)/)
      expect(output).not.toMatch(/\(file changed\)/)
      expect(output).toMatch(/message="authz decision".*user=- method=GET route=info rule=default decision=allow/)
      expect(output).toMatch(/route=info rule=default decision=deny reason=maintenance/)
    })
  )

  it.live("reloads by itself a policy behind a symbolic link whose target is edited in another folder", () =>
    Effect.gen(function* () {
      const socket = Path.join(dir, "watch.sock")
      const real = Fs.mkdtempSync(Path.join(dir, "real-"))
      const linkDir = Fs.mkdtempSync(Path.join(dir, "link-"))
      Fs.writeFileSync(Path.join(real, "policy.yaml"), "default: allow\nrules: []\n")
      Fs.symlinkSync(Path.join(real, "policy.yaml"), Path.join(linkDir, "policy.yaml"))
      const served = yield* Effect.acquireRelease(
        Effect.promise(() =>
          spawnServe(["authz-policy", "--policy", Path.join(linkDir, "policy.yaml"), "--socket", socket])
        ),
        (s) => Effect.promise(() => s.stop())
      )
      let output = ""
      served.child.stderr?.on("data", (d) => (output += d))
      served.child.stdout?.on("data", (d) => (output += d))
      const client = yield* ConformanceSuites.running(socket)
      const ask = Effect.map(client.exchange("/AuthZPlugin.AuthZReq", ping), (ex) => ex.response.body as any)
      expect((yield* ask).Allow).toBe(true)
      Fs.writeFileSync(Path.join(real, "policy.yaml"), "default: deny\ndefaultMessage: frozen\nrules: []\n")
      let answer = yield* ask
      for (let i = 0; i < 60 && answer.Allow; i++) {
        yield* Effect.sleep("50 millis")
        answer = yield* ask
      }
      expect(answer).toEqual({ Allow: false, Msg: "frozen" })
      expect(output).toMatch(/authz-policy: loaded 0 rules from .* \(file changed\)/)
    })
  )

  it.live("with --audit-file, audits to that file, reopened on SIGHUP, and refuses to start on a link there", () =>
    Effect.gen(function* () {
      const socket = Path.join(dir, "audit.sock")
      const folder = Fs.mkdtempSync(Path.join(dir, "audit-"))
      const audit = Path.join(folder, "audit.log")
      const policy = ["--policy", baselinePath, "--socket", socket]
      const served = yield* Effect.acquireRelease(
        Effect.promise(() => spawnServe(["authz-policy", ...policy, "--audit-file", audit])),
        (s) => Effect.promise(() => s.stop())
      )
      let output = ""
      served.child.stdout?.on("data", (d) => (output += d))
      const client = yield* ConformanceSuites.running(socket)
      const ask = client.exchange("/AuthZPlugin.AuthZReq", ping)
      const auditLines = (file: string) =>
        Effect.gen(function* () {
          const read = () => (Fs.existsSync(file) ? Fs.readFileSync(file, "utf8") : "")
          for (let i = 0; i < 50 && !read().includes("decision="); i++) yield* Effect.sleep("20 millis")
          return read()
        })
      yield* ask
      expect(yield* auditLines(audit)).toMatch(/message="authz decision".* route=info rule=default decision=allow\n$/)
      expect(output).not.toContain("authz decision")
      // Rotated: moved away, then SIGHUP; the next decision lands in a new file.
      Fs.renameSync(audit, `${audit}.1`)
      served.child.kill("SIGHUP")
      yield* Effect.sleep("200 millis")
      yield* ask
      expect((yield* auditLines(audit)).match(/decision=/g)).toHaveLength(1)
      expect(Fs.readFileSync(`${audit}.1`, "utf8").match(/decision=/g)).toHaveLength(1)

      // A link planted at the path stops the start, naming the file and why.
      const planted = Path.join(folder, "planted.log")
      Fs.symlinkSync(Path.join(folder, "target"), planted)
      const refused = ChildProcess.spawnSync(
        process.execPath,
        [
          "--conditions=@docker-plugin-kit/source",
          cliBin,
          "serve",
          "authz-policy",
          "--policy",
          baselinePath,
          "--socket",
          Path.join(dir, "refused.sock"),
          "--audit-file",
          planted
        ],
        { encoding: "utf8", timeout: 30_000 }
      )
      expect(refused.status).not.toBe(0)
      expect(refused.stdout + refused.stderr).toContain(
        `cannot write the audit to ${planted}: a symlink, not a regular file`
      )
      expect(Fs.existsSync(Path.join(folder, "target"))).toBe(false)
    })
  )
})
