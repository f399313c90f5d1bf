/**
 * Helpers of the end-to-end tests: unique plugin names, a call recorder around a driver, and in-process or
 * spawned plugin servers on the daemon's discovery socket.
 */
import { VolumeDriver } from "@docker-plugin-kit/protocol"
import { PluginServer } from "@docker-plugin-kit/server"
import type { DockerEngine } from "@docker-plugin-kit/testkit"
import { type Context, Effect, Exit, Layer, Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { fileURLToPath } from "node:url"

/** A plugin name no other test run uses (the discovery folder is shared by every daemon on the host). */
export const uniqueName = (prefix: string) => `${prefix}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`

/** The discovery socket of a v1 plugin. */
export const socketOf = (name: string) => `/run/docker/plugins/${name}.sock`

/** One call the daemon made, with the driver's answer or error. */
export interface Recorded {
  readonly endpoint: string
  readonly request: Record<string, unknown>
  readonly response?: unknown
  readonly error?: string
}

const describeFailure = (exit: Exit.Exit<unknown, { message: string }>): string => {
  const error = Exit.findErrorOption(exit)
  return error._tag === "Some" ? error.value.message : "defect or interruption"
}

/** Wraps the driver `service` of `drivers` so that every call is appended to `calls`. */
export const recordingOf =
  <I, S extends object>(service: Context.Key<I, S>) =>
  <E>(drivers: Layer.Layer<I, E>, calls: Array<Recorded>): Layer.Layer<I, E> =>
    Layer.effect(
      service,
      Effect.map(Effect.service(service), (driver) => {
        const wrapped: Record<string, unknown> = {}
        for (const [key, method] of Object.entries(driver)) {
          wrapped[key] = (request: Record<string, unknown>) =>
            (method as (r: unknown) => Effect.Effect<unknown, { message: string }>)(request).pipe(
              Effect.onExit((exit) =>
                Effect.sync(() => {
                  calls.push({
                    endpoint: key,
                    request,
                    ...(Exit.isFailure(exit) ? { error: describeFailure(exit) } : { response: exit.value })
                  })
                })
              )
            )
        }
        return wrapped as unknown as S
      })
    ).pipe(Layer.provide(drivers))

/** Wraps the VolumeDriver of `drivers` so that every call is appended to `calls`. */
export const recording = recordingOf(VolumeDriver.VolumeDriver)

/** A plugin served in this process on its discovery socket until `close`. */
export interface Served {
  readonly name: string
  readonly close: () => Promise<void>
}

/** Serves `drivers` as plugin `name` in-process. */
export const serve = async <E>(name: string, drivers: Layer.Layer<any, E>): Promise<Served> => {
  const scope = Effect.runSync(Scope.make())
  await Effect.runPromise(
    Layer.buildWithScope(PluginServer.layer({ name }).pipe(Layer.provide(drivers)), scope) as Effect.Effect<unknown>
  )
  return { name, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

const cliBin = fileURLToPath(new URL("../../../cli/src/bin.ts", import.meta.url))

/** A `dpk serve` child process. */
export interface Spawned {
  readonly child: ChildProcess.ChildProcess
  /** SIGKILL, then wait for the exit: a crash, not a shutdown (the socket file stays behind). */
  readonly kill9: () => Promise<void>
  /** SIGTERM, then wait for the exit. */
  readonly stop: () => Promise<void>
}

/** Runs `dpk serve ARGS...` and waits until it says it listens. */
export const spawnServe = (args: ReadonlyArray<string>): Promise<Spawned> =>
  new Promise((resolve, reject) => {
    const child = ChildProcess.spawn(
      process.execPath,
      ["--conditions=@docker-plugin-kit/source", cliBin, "serve", ...args],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    let output = ""
    const exited = new Promise<void>((done) => child.once("exit", () => done()))
    const stopWith = (signal: NodeJS.Signals) => async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      await exited
    }
    const onData = (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes("listening on")) {
        resolve({ child, kill9: stopWith("SIGKILL"), stop: stopWith("SIGTERM") })
      }
    }
    child.stdout.on("data", onData)
    child.stderr.on("data", onData)
    child.once("exit", (code) => reject(new Error(`dpk serve exited with ${code} before listening:\n${output}`)))
  })

/** `docker volume inspect` of one volume, parsed. */
export const inspect = (engine: DockerEngine.Engine, volume: string) =>
  Effect.map(engine.docker("volume", "inspect", volume), (out) => (JSON.parse(out) as Array<any>)[0])

/** Removes a socket file a crashed plugin left behind. */
export const removeSocket = (name: string) => Fs.rmSync(socketOf(name), { force: true })

/** Runs one cleanup step of an `afterAll`, warning instead of failing: a failed test may have left any step undone. */
export const cleanupStep = async (step: () => unknown): Promise<void> => {
  try {
    await step()
  } catch (e) {
    console.warn(`cleanup: ${e}`)
  }
}
