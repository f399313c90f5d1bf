import { MetricsProxy, MetricsSource } from "@docker-plugin-kit/drivers"
import { InProcess } from "@docker-plugin-kit/testkit"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Http from "node:http"
import * as Net from "node:net"

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
})
