import { MetricsProxy, MetricsSource } from "@docker-plugin-kit/drivers"
import { FreePort, InProcess } from "@docker-plugin-kit/testkit"
import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect, Exit, Layer, Result, Scope } from "effect"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import * as MetricsProxyCli from "../../src/metrics-proxy/descriptor.ts"

const freePort = () => Effect.promise(() => FreePort.tcp())

const scrape = (port: number, path = "/metrics", method = "GET") =>
  Effect.promise(
    () =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        Http.get({ host: "127.0.0.1", port, path, method }, (res) => {
          let body = ""
          res.on("data", (c: Buffer) => {
            body += c.toString()
          })
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }))
        }).on("error", reject)
      })
  )

/** A stand-in for the engine's metrics socket, in a temp folder of its own, answering each request with `answer`. */
const engineSocket = (answer: (socket: Net.Socket) => void) =>
  Effect.acquireRelease(
    Effect.promise(() => {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "metrics-proxy-"))
      const server = Net.createServer((socket) => {
        socket.on("error", () => {})
        socket.once("data", () => answer(socket))
      })
      return new Promise<{ dir: string; path: string; server: Net.Server }>((resolve) =>
        server.listen(Path.join(dir, "metrics.sock"), () =>
          resolve({ dir, path: Path.join(dir, "metrics.sock"), server })
        )
      )
    }),
    ({ dir, server }) =>
      Effect.sync(() => {
        server.close()
        Fs.rmSync(dir, { recursive: true, force: true })
      })
  ).pipe(Effect.map(({ path }) => path))

/** One read of `source`, as the proxy makes it. */
const readOnce = (source: Layer.Layer<MetricsSource.MetricsSource>) =>
  Effect.gen(function* () {
    return yield* Effect.flip((yield* MetricsSource.MetricsSource).scrape)
  }).pipe(Effect.provide(source))

/** A source whose scrape never ends, telling when it is interrupted. */
const endlessSource = () => {
  const state = { interrupted: false }
  const layer = Layer.succeed(MetricsSource.MetricsSource, {
    scrape: Effect.onInterrupt(Effect.never, () =>
      Effect.sync(() => {
        state.interrupted = true
      })
    )
  })
  return { state, layer }
}

/** A raw connection to the proxy, sending `text` once connected. */
const connect = (port: number, text: string) =>
  Effect.promise(
    () =>
      new Promise<Net.Socket>((resolve) => {
        const socket = Net.connect(port, "127.0.0.1", () => {
          if (text !== "") socket.write(text)
          resolve(socket)
        })
        socket.on("error", () => {})
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
      expect((yield* scrape(port, "/metrics/x")).status).toBe(404)
      // A Prometheus job's `params:` arrive as a query string.
      expect(yield* scrape(port, "/metrics?module=engine")).toEqual({
        status: 200,
        body: "engine_daemon_engine_info 1\n"
      })
      expect(yield* scrape(port, "/metrics", "HEAD")).toEqual({ status: 200, body: "" })
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

  it.live("a metrics socket that trickles its answer fails the scrape at the deadline, not never", () =>
    Effect.gen(function* () {
      const path = yield* engineSocket((socket) => {
        socket.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        const drip = setInterval(() => socket.write("2\r\nm\n\r\n"), 50)
        socket.on("close", () => clearInterval(drip))
      })
      const failure = yield* readOnce(MetricsSource.layerSocket(path, { timeoutMillis: 300 }))
      expect(failure.message).toBe(`cannot read the engine's metrics from ${path}: no complete answer within 300 ms`)
    }).pipe(Effect.scoped)
  )

  it.effect("an answer over the size bound fails the scrape, naming the bound, without reading the rest", () =>
    Effect.gen(function* () {
      const path = yield* engineSocket((socket) => {
        socket.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        const chunk = `${"m 1\n".repeat(4096)}`
        // Never ends: only the bound stops the read.
        const flood = setInterval(() => socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`), 1)
        socket.on("close", () => clearInterval(flood))
      })
      const failure = yield* readOnce(MetricsSource.layerSocket(path, { maxBytes: 100_000, timeoutMillis: 5_000 }))
      expect(failure.message).toContain(`${path}: the answer is over 100000 bytes`)
    }).pipe(Effect.scoped)
  )

  it.effect("a metrics socket that breaks its answer off fails the scrape with 502, naming the source", () =>
    Effect.gen(function* () {
      const port = yield* freePort()
      const path = yield* engineSocket((socket) => {
        socket.write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nengine_")
        setTimeout(() => socket.destroy(), 20)
      })
      const plugin = yield* InProcess.make(
        MetricsProxy.layer({ host: "127.0.0.1", port }).pipe(Layer.provide(MetricsSource.layerSocket(path)))
      )
      yield* plugin.call("/MetricsCollector.StartMetrics")
      const answer = yield* scrape(port)
      expect(answer.status).toBe(502)
      expect(answer.body).toContain(`cannot read the engine's metrics from ${path}`)
    }).pipe(Effect.scoped)
  )

  it.live("a scraper that leaves interrupts its scrape of the engine's socket", () =>
    Effect.gen(function* () {
      const port = yield* freePort()
      const source = endlessSource()
      const plugin = yield* InProcess.make(
        MetricsProxy.layer({ host: "127.0.0.1", port }).pipe(Layer.provide(source.layer))
      )
      yield* plugin.call("/MetricsCollector.StartMetrics")
      const socket = yield* connect(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
      yield* Effect.sleep("100 millis")
      expect(source.state.interrupted).toBe(false)
      socket.destroy()
      yield* Effect.sleep("100 millis")
      expect(source.state.interrupted).toBe(true)
    })
  )

  it.live("shutdown does not wait for a silent scraper, a half-sent request or a scrape in flight", () =>
    Effect.gen(function* () {
      const port = yield* freePort()
      const source = endlessSource()
      const scope = yield* Scope.make()
      const plugin = yield* InProcess.make(
        MetricsProxy.layer({ host: "127.0.0.1", port }).pipe(Layer.provide(source.layer))
      ).pipe(Scope.provide(scope))
      yield* plugin.call("/MetricsCollector.StartMetrics")
      const sockets = [
        yield* connect(port, ""),
        yield* connect(port, "GET /metrics HTTP/1.1\r\n"),
        yield* connect(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
      ]
      yield* Effect.sleep("100 millis")
      // Closing a scope is uninterruptible: race it outside the fiber to see a hang as a failure.
      const closed = yield* Effect.promise(() =>
        Promise.race([
          Effect.runPromise(Scope.close(scope, Exit.void)).then(() => "closed"),
          new Promise((resolve) => setTimeout(() => resolve("still waiting after 2 s"), 2_000))
        ])
      )
      for (const socket of sockets) socket.destroy()
      expect(closed).toBe("closed")
      yield* Effect.sleep("50 millis")
      expect(source.state.interrupted).toBe(true)
    })
  )

  it.live("a scraper that connects and sends nothing, or half a request, is closed after the request timeout", () =>
    Effect.gen(function* () {
      const port = yield* freePort()
      yield* InProcess.make(
        MetricsProxy.layer({ host: "127.0.0.1", port, requestTimeoutMillis: 200 }).pipe(
          Layer.provide(MetricsSource.layerFixed("m 1\n"))
        )
      )
      const closed = (socket: Net.Socket) =>
        new Promise<string>((resolve) => {
          let text = ""
          socket.on("data", (chunk: Buffer) => {
            text += chunk.toString()
          })
          socket.on("close", () => resolve(text.split("\r\n")[0] ?? ""))
        })
      const silent = yield* connect(port, "")
      const half = yield* connect(port, "GET /metrics HTTP/1.1\r\n")
      const answers = yield* Effect.promise(() =>
        Promise.race([
          Promise.all([closed(silent), closed(half)]),
          new Promise((resolve) => setTimeout(() => resolve("still open after 3 s"), 3_000))
        ])
      )
      silent.destroy()
      half.destroy()
      expect(answers).toEqual(["HTTP/1.1 408 Request Timeout", "HTTP/1.1 408 Request Timeout"])
    })
  )

  it.live("concurrent scrapes share one read of the engine's socket; a later scrape reads it again", () =>
    Effect.gen(function* () {
      const port = yield* freePort()
      let reads = 0
      const source = Layer.succeed(MetricsSource.MetricsSource, {
        scrape: Effect.suspend(() => {
          reads++
          return Effect.as(Effect.sleep("200 millis"), `engine_reads ${reads}\n`)
        })
      })
      const plugin = yield* InProcess.make(MetricsProxy.layer({ host: "127.0.0.1", port }).pipe(Layer.provide(source)))
      yield* plugin.call("/MetricsCollector.StartMetrics")
      const answers = yield* Effect.all(
        Array.from({ length: 20 }, () => scrape(port)),
        { concurrency: "unbounded" }
      )
      expect(answers.every((a) => a.status === 200 && a.body === "engine_reads 1\n")).toBe(true)
      expect(reads).toBe(1)
      expect(yield* scrape(port)).toEqual({ status: 200, body: "engine_reads 2\n" })
    })
  )

  it.effect("an empty --metrics-socket fails the driver's Layer naming the flag, instead of reading 127.0.0.1:80", () =>
    Effect.gen(function* () {
      const port = yield* freePort()
      const exit = yield* Effect.exit(
        Layer.build(MetricsProxyCli.descriptor.layer({ listen: `127.0.0.1:${port}`, metricsSocket: "" }))
      )
      expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(false)
      expect(String(Exit.findErrorOption(exit))).toContain('--metrics-socket "": expects a path')
    }).pipe(Effect.scoped)
  )

  it.live("a scraper that stops reading the answer is closed once nothing passed for the idle timeout", () =>
    Effect.gen(function* () {
      const port = yield* freePort()
      // More than loopback's socket buffers take, so that part of the answer stays unsent.
      const metrics = "engine_daemon_metric 1\n".repeat(1024 * 1024)
      const plugin = yield* InProcess.make(
        MetricsProxy.layer({ host: "127.0.0.1", port, idleTimeoutMillis: 300 }).pipe(
          Layer.provide(MetricsSource.layerFixed(metrics))
        )
      )
      yield* plugin.call("/MetricsCollector.StartMetrics")
      const socket = yield* connect(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
      socket.pause()
      yield* Effect.sleep("1 second")
      // A paused socket does not see the close: read what was sent before it, then the close (or a reset).
      let received = 0
      socket.on("data", (chunk: Buffer) => {
        received += chunk.length
      })
      socket.resume()
      const closed = yield* Effect.promise(() =>
        Promise.race([
          new Promise((resolve) => socket.on("close", () => resolve("closed"))),
          new Promise((resolve) => setTimeout(() => resolve("still open after 3 s"), 3_000))
        ])
      )
      socket.destroy()
      expect(closed).toBe("closed")
      expect(received).toBeLessThan(metrics.length)
    })
  )

  it.effect("a port in use fails the Layer with the error naming the address, not a defect", () =>
    Effect.gen(function* () {
      const taken = yield* Effect.acquireRelease(
        Effect.promise(
          () =>
            new Promise<Net.Server>((resolve) => {
              const server = Net.createServer().listen(0, "127.0.0.1", () => resolve(server))
            })
        ),
        (server) => Effect.sync(() => server.close())
      )
      const port = (taken.address() as Net.AddressInfo).port
      const exit = yield* Effect.exit(
        Layer.build(MetricsProxy.layer({ host: "127.0.0.1", port }).pipe(Layer.provide(MetricsSource.layerFixed(""))))
      )
      expect(Exit.isFailure(exit) && Cause.hasDies(exit.cause)).toBe(false)
      expect(String(Exit.findErrorOption(exit))).toContain(
        `cannot serve metrics on 127.0.0.1:${port}: listen EADDRINUSE`
      )
    }).pipe(Effect.scoped)
  )
})
