/**
 * A fake Docker daemon for volume plugins: replays the call sequences dockerd 20.10.24 sends for the common
 * `docker volume` and `docker run -v` commands (protocol/volume.md, "Call sequences"), interprets the answers the
 * way the daemon does, and reports every call with the user-visible outcome. No Docker needed.
 *
 * @since 0.1.0
 */
import { type CallError, DaemonText, PluginClient } from "@docker-plugin-kit/client"
import { type Endpoint, Manifest, VolumeDriver } from "@docker-plugin-kit/protocol"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"

/**
 * One call the fake daemon made.
 *
 * @since 0.1.0
 */
export interface Call {
  /** `Activate`, `Capabilities`, `Get`, `Create`, ... */
  readonly step: string
  readonly request: PluginClient.Exchange["request"]
  /** Absent when the plugin never answered. */
  readonly response?: PluginClient.Exchange["response"]
  /** `ok`, or the error as the daemon read it. */
  readonly outcome: string
}

/**
 * What one user command did.
 *
 * @since 0.1.0
 */
export interface Action {
  /** The command it stands for, e.g. `docker volume create -d plugin v1`. */
  readonly command: string
  readonly calls: ReadonlyArray<Call>
  /** The error the user would see, if the command failed. */
  readonly error?: string
  /** Warnings the command would print (e.g. `docker volume ls` when List fails). */
  readonly warnings: ReadonlyArray<string>
}

/**
 * A running container's volume mount, from `run`.
 *
 * @since 0.1.0
 */
export interface Container {
  readonly start: Action
  /** The mount operation ID (64 hex characters) sent with Mount and Unmount. */
  readonly mountId: string
  readonly mountpoint?: string
  /** `docker stop`: Get, then Unmount with the same ID. */
  readonly stop: Effect.Effect<Action>
}

/**
 * A fake daemon bound to one volume plugin.
 *
 * @since 0.1.0
 */
export interface FakeDaemon {
  /** `docker volume create -d NAME [-o k=v] VOLUME`: (Activate) → Capabilities → Get → Create unless Get found it. */
  readonly volumeCreate: (volume: string, opts?: Record<string, string> | null) => Effect.Effect<Action>
  /** `docker volume ls`: (Activate) → List. */
  readonly volumeLs: Effect.Effect<Action & { readonly volumes: ReadonlyArray<string> }>
  /** `docker volume inspect VOLUME`: Get. */
  readonly volumeInspect: (volume: string) => Effect.Effect<Action & { readonly volume?: VolumeDriver.Volume }>
  /** `docker run -v VOLUME:/path`: Get → Mount with a fresh 64-hex ID; `stop` sends Get → Unmount. */
  readonly run: (volume: string) => Effect.Effect<Container>
  /** `docker volume rm VOLUME`: Get → Get → Remove. */
  readonly volumeRm: (volume: string) => Effect.Effect<Action>
  /** Every action so far, in order. */
  readonly history: Effect.Effect<ReadonlyArray<Action>>
}

const E = VolumeDriver.Api.endpoints

/**
 * A fresh mount ID: 64 lowercase hex characters, like the daemon's per-mount random ID.
 *
 * @since 0.1.0
 */
export const mountId = (): string =>
  Array.from(crypto.getRandomValues(new Uint8Array(32)), (b) => b.toString(16).padStart(2, "0")).join("")

/**
 * One call as the daemon makes it: sent raw, answered, read like the daemon (`interpretJson`), and recorded.
 *
 * @since 0.1.0
 */
export type Step<A> = { readonly call: Call; readonly result: Result.Result<A, CallError> }

/**
 * Sends one call of `endpoint` and reads the answer like the daemon; `show` words a failure as the daemon shows
 * it (default: `DaemonText.message`).
 *
 * @since 0.1.0
 */
export const exchangeStep = <E extends Endpoint.Any>(
  client: PluginClient.PluginClient,
  name: string,
  endpoint: E,
  body?: unknown,
  show: (error: CallError) => string = DaemonText.message
): Effect.Effect<Step<Endpoint.Output<E>>> =>
  Effect.match(client.exchange(endpoint, body), {
    onFailure: (error): Step<Endpoint.Output<E>> => ({
      call: {
        step: name,
        request: { path: endpoint.path, body: body === undefined ? "" : `${JSON.stringify(body)}\n` },
        outcome: `error: ${error.message}`
      },
      result: Result.fail(error)
    }),
    onSuccess: (exchange): Step<Endpoint.Output<E>> => {
      const schema = endpoint.response._tag === "Json" ? endpoint.response.schema : VolumeDriver.GetResponse
      const result = PluginClient.interpretJson(
        endpoint.path,
        exchange.response.status,
        exchange.response.text,
        schema,
        "Err"
      ) as Result.Result<Endpoint.Output<E>, CallError>
      return {
        call: {
          step: name,
          request: exchange.request,
          response: exchange.response,
          outcome: Result.isSuccess(result) ? "ok" : `error: ${show(result.failure)}`
        },
        result
      }
    }
  })

/**
 * A fake daemon talking to `client`. `driverName` only shapes messages (`-d NAME`).
 *
 * @since 0.1.0
 */
export const make = (client: PluginClient.PluginClient, driverName: string = client.name): Effect.Effect<FakeDaemon> =>
  Effect.sync(() => {
    const history: Array<Action> = []
    let activated = false
    let scopeKnown = false

    /** One call, recorded, interpreted like the daemon. */
    const step = <E extends Endpoint.Any>(name: string, endpoint: E, body?: unknown) =>
      exchangeStep(client, name, endpoint, body)

    /** Runs a command: collects its calls, records the action. */
    const command = <A extends object>(
      text: string,
      body: (record: (call: Call) => void, warn: (w: string) => void) => Effect.Effect<{ error?: string } & A>
    ): Effect.Effect<Action & A> =>
      Effect.suspend(() => {
        const calls: Array<Call> = []
        const warnings: Array<string> = []
        return Effect.map(
          body(
            (c) => calls.push(c),
            (w) => warnings.push(w)
          ),
          (result) => {
            const action = { command: text, calls, warnings, ...result } as Action & A
            history.push(action)
            return action
          }
        )
      })

    /** First use of the plugin: activate (cached on success only) and check it is a volume driver. */
    const lookup = (record: (call: Call) => void, withCapabilities: boolean) =>
      Effect.gen(function* () {
        if (!activated) {
          const activate = yield* step("Activate", Manifest.Activate)
          record(activate.call)
          if (Result.isFailure(activate.result))
            return `error looking up volume plugin ${driverName}: ${activate.result.failure.message}`
          if (!(activate.result.success.Implements ?? []).includes("VolumeDriver")) {
            return `error looking up volume plugin ${driverName}: Plugin does not implement the requested driver`
          }
          activated = true
        }
        // The first lookup of a driver asks for its scope; any error means "local" and is asked again next time.
        if (withCapabilities && !scopeKnown) {
          const capabilities = yield* step("Capabilities", E.capabilities, {})
          record(capabilities.call)
          scopeKnown = Result.isSuccess(capabilities.result)
        }
        return undefined
      })

    /** Get, read like the daemon: found, not found (any plugin error), or unreachable. */
    const get = (record: (call: Call) => void, volume: string) =>
      Effect.map(step("Get", E.get, { Name: volume }), ({ call, result }) => {
        record(call)
        if (Result.isSuccess(result)) {
          return result.success.Volume === null
            ? ({ _tag: "NotFound" } as const)
            : ({ _tag: "Found", volume: result.success.Volume } as const)
        }
        const error = result.failure
        return error._tag === "PluginUnreachable" || error._tag === "CallTimeout"
          ? ({ _tag: "Unreachable", message: error.message } as const)
          : ({ _tag: "NotFound" } as const)
      })

    const volumeCreate = (volume: string, opts: Record<string, string> | null = null) =>
      command(
        `docker volume create -d ${driverName}${Object.entries(opts ?? {})
          .map(([k, v]) => ` -o ${k}=${v}`)
          .join("")} ${volume}`,
        (record) =>
          Effect.gen(function* () {
            const failed = yield* lookup(record, true)
            if (failed !== undefined) return { error: failed }
            const found = yield* get(record, volume)
            if (found._tag === "Found") return {}
            if (found._tag === "Unreachable") {
              return {
                error: `error while checking if volume "${volume}" exists in driver "${driverName}": ${found.message}`
              }
            }
            const create = yield* step("Create", E.create, { Name: volume, Opts: opts })
            record(create.call)
            return Result.isFailure(create.result)
              ? { error: `create ${volume}: ${create.result.failure.message}` }
              : {}
          })
      )

    const volumeLs = command("docker volume ls", (record, warn) =>
      Effect.gen(function* () {
        const failed = yield* lookup(record, false)
        if (failed !== undefined) return { error: failed, volumes: [] as ReadonlyArray<string> }
        const list = yield* step("List", E.list, {})
        record(list.call)
        if (Result.isFailure(list.result)) {
          warn(`Failed to list volumes from ${driverName}: ${list.result.failure.message}`)
          return { volumes: [] as ReadonlyArray<string> }
        }
        return { volumes: (list.result.success.Volumes ?? []).map((v) => v.Name) }
      })
    )

    const volumeInspect = (volume: string) =>
      command(`docker volume inspect ${volume}`, (record) =>
        Effect.gen(function* () {
          const failed = yield* lookup(record, true)
          if (failed !== undefined) return { error: failed }
          const found = yield* get(record, volume)
          if (found._tag === "Found") return { volume: found.volume }
          return { error: found._tag === "Unreachable" ? found.message : `no such volume: ${volume}` }
        })
      )

    const run = (volume: string): Effect.Effect<Container> => {
      const id = mountId()
      return Effect.map(
        command(`docker run -v ${volume}:/data`, (record) =>
          Effect.gen(function* () {
            const failed = yield* lookup(record, true)
            if (failed !== undefined) return { error: failed }
            const found = yield* get(record, volume)
            if (found._tag !== "Found") {
              return { error: found._tag === "Unreachable" ? found.message : `no such volume: ${volume}` }
            }
            const mount = yield* step("Mount", E.mount, { Name: volume, ID: id })
            record(mount.call)
            return Result.isFailure(mount.result)
              ? { error: `error while mounting volume '${volume}': ${mount.result.failure.message}` }
              : { mountpoint: mount.result.success.Mountpoint }
          })
        ),
        (start): Container => ({
          start,
          mountId: id,
          ...(start.mountpoint === undefined ? {} : { mountpoint: start.mountpoint }),
          stop: command(`docker stop (volume ${volume})`, (record) =>
            Effect.gen(function* () {
              yield* get(record, volume)
              const unmount = yield* step("Unmount", E.unmount, { Name: volume, ID: id })
              record(unmount.call)
              return Result.isFailure(unmount.result)
                ? { error: `error while unmounting volume ${volume}: ${unmount.result.failure.message}` }
                : {}
            })
          )
        })
      )
    }

    const volumeRm = (volume: string) =>
      command(`docker volume rm ${volume}`, (record) =>
        Effect.gen(function* () {
          const failed = yield* lookup(record, true)
          if (failed !== undefined) return { error: failed }
          const first = yield* get(record, volume)
          if (first._tag !== "Found") {
            return { error: first._tag === "Unreachable" ? first.message : `no such volume: ${volume}` }
          }
          yield* get(record, volume)
          const remove = yield* step("Remove", E.remove, { Name: volume })
          record(remove.call)
          return Result.isFailure(remove.result) ? { error: `remove ${volume}: ${remove.result.failure.message}` } : {}
        })
      )

    return {
      volumeCreate,
      volumeLs,
      volumeInspect,
      run,
      volumeRm,
      history: Effect.sync(() => [...history])
    }
  })

/**
 * The calls of an action as short lines, e.g. `Get {"Name":"v1"} → 200 {"Err":"no such volume"}`.
 *
 * @since 0.1.0
 */
export const describeCalls = (action: Action): ReadonlyArray<string> =>
  action.calls.map(
    (c) =>
      `${c.step} ${c.request.body.trim() || "(empty)"} → ${c.response === undefined ? c.outcome : `${c.response.status} ${c.response.text.trim() || "(empty)"}`}`
  )
