import { MetricsProxy, MetricsSource } from "@docker-plugin-kit/drivers"
import { InProcess } from "@docker-plugin-kit/testkit"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Result } from "effect"
import * as Http from "node:http"
import * as Net from "node:net"
import * as MetricsProxyCli from "../../src/metrics-proxy/descriptor.ts"

const freePort = () =>
  Effect.promise(
    () =>
      new Promise<number>((resolve) => {
        const server = Net.createServer().listen(0, "127.0.0.1", () => {
          const { port } = server.address() as Net.AddressInfo
          server.close(() => resolve(port))
        })
      })
  )

const scrape = (port: number, path = "/metrics") =>
  Effect.promise(
    () =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        Http.get({ host: "127.0.0.1", port, path }, (res) => {
          let body = ""
          res.on("data", (c: Buffer) => {
            body += c.toString()
          })
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }))
        }).on("error", reject)
      })
  )

describe("metrics-proxy", () => {
  it("answers 503 until started, the scrape once started, 502 naming the source when it fails", () => {
    expect(MetricsProxy.answer(false, { ok: true, text: "m 1\n" }).status).toBe(503)
    expect(MetricsProxy.answer(true, { ok: true, text: "m 1\n" })).toEqual({ status: 200, body: "m 1\n" })
    expect(MetricsProxy.answer(true, { ok: false, reason: "cannot read x" })).toEqual({
      status: 502,
      body: "cannot read x\n"
    })
  })

  it.effect("serves the engine's metrics between StartMetrics and StopMetrics", () =>
    Effect.gen(function* () {
      const port = yield* freePort()
      const plugin = yield* InProcess.make(
        MetricsProxy.layer({ host: "127.0.0.1", port }).pipe(
          Layer.provide(MetricsSource.layerFixed("engine_daemon_engine_info 1\n"))
        )
      )
      expect((yield* scrape(port)).status).toBe(503)
      expect((yield* plugin.call("/MetricsCollector.StartMetrics")).body).toEqual({})
      expect(yield* scrape(port)).toEqual({ status: 200, body: "engine_daemon_engine_info 1\n" })
      expect((yield* scrape(port, "/other")).status).toBe(404)
      expect((yield* plugin.call("/MetricsCollector.StopMetrics")).status).toBe(200)
      expect((yield* scrape(port)).status).toBe(503)
    })
  )

  it.effect("reports a metrics socket it cannot read, naming it", () =>
    Effect.gen(function* () {
      const port = yield* freePort()
      const plugin = yield* InProcess.make(
        MetricsProxy.layer({ host: "127.0.0.1", port }).pipe(
          Layer.provide(MetricsSource.layerSocket("/nonexistent/metrics.sock"))
        )
      )
      yield* plugin.call("/MetricsCollector.StartMetrics")
      const answer = yield* scrape(port)
      expect(answer.status).toBe(502)
      expect(answer.body).toContain("cannot read the engine's metrics from /nonexistent/metrics.sock")
    })
  )

  it("reads --listen as HOST:PORT (IPv6 in brackets, no host meaning 127.0.0.1) and refuses anything else", () => {
    expect(MetricsProxyCli.parseListen("0.0.0.0:9323")).toEqual(Result.succeed({ host: "0.0.0.0", port: 9323 }))
    expect(MetricsProxyCli.parseListen(":9323")).toEqual(Result.succeed({ host: "127.0.0.1", port: 9323 }))
    expect(MetricsProxyCli.parseListen("[::1]:9323")).toEqual(Result.succeed({ host: "::1", port: 9323 }))
    for (const bad of ["9323", "127.0.0.1:", "127.0.0.1:abc", ":99999", "", "[::1]"]) {
      const parsed = MetricsProxyCli.parseListen(bad)
      expect(Result.isFailure(parsed) && parsed.failure.message, bad).toContain(`--listen ${JSON.stringify(bad)}`)
    }
  })

  it.effect("a bad --listen fails the driver's Layer with that error, before anything is served", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        Layer.build(MetricsProxyCli.descriptor.layer({ listen: "127.0.0.1:abc", metricsSocket: "/nonexistent" }))
      )
      expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(false)
      expect(String(Exit.findErrorOption(exit))).toContain('--listen "127.0.0.1:abc"')
    }).pipe(Effect.scoped)
  )

  it.effect("a port Node refuses fails the Layer with the error naming the address, not a defect", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        Layer.build(
          MetricsProxy.layer({ host: "127.0.0.1", port: 70000 }).pipe(Layer.provide(MetricsSource.layerFixed("")))
        )
      )
      expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(false)
      expect(String(Exit.findErrorOption(exit))).toContain("cannot serve metrics on 127.0.0.1:70000")
    }).pipe(Effect.scoped)
  )
})
