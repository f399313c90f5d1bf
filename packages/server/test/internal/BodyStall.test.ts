// The stall check of request bodies, on a fake clock and sweeps run by hand: a body that stops arriving is answered
// 408 and closed; one that keeps arriving, however slowly, and one the server is slow to read are left alone.
import { describe, expect, it } from "@effect/vitest"
import { Wire } from "@docker-plugin-kit/protocol"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Https from "node:https"
import * as Net from "node:net"
import * as Path from "node:path"
import * as Tls from "node:tls"
import * as BodyStall from "../../src/internal/BodyStall.ts"
import { certificates, tempDir, waitFor } from "../support.ts"

interface Served {
  readonly path: string
  readonly watcher: BodyStall.Watcher
  readonly advance: (ms: number) => void
  /** Bytes of body the handler has read so far, by request. */
  readonly read: () => number
  /** The request the handler is on. */
  readonly current: () => Http.IncomingMessage | undefined
}

/**
 * A plain Node server whose handler reads the whole body and answers 200; `paused`: it does not read until told;
 * `answer-first`: it answers at once without reading (as `Activate` does), and Node discards the body as it comes.
 */
const serve = (timeoutMs: number, mode: "read" | "paused" | "answer-first" = "read") =>
  Effect.gen(function* () {
    const path = Path.join(yield* tempDir, "stall.sock")
    let clock = 0
    let read = 0
    let current: Http.IncomingMessage | undefined
    const server = Http.createServer((request, response) => {
      current = request
      if (mode === "answer-first") return void response.end("answered")
      if (mode === "read") request.on("data", (chunk: Buffer) => (read += chunk.length))
      request.on("end", () => response.end(`read ${read}`))
    })
    const watcher = BodyStall.make(server, timeoutMs, () => clock)
    yield* Effect.acquireRelease(
      Effect.callback<void>((resume) => {
        server.listen(path, () => resume(Effect.void))
      }),
      () =>
        Effect.callback<void>((resume) => {
          server.closeAllConnections()
          server.close(() => resume(Effect.void))
        })
    )
    return {
      path,
      watcher,
      advance: (ms: number) => {
        clock += ms
      },
      read: () => read,
      current: () => current
    } satisfies Served
  })

const head = (length: number) => `POST /VolumeDriver.Get HTTP/1.1\r\nHost: plugin\r\nContent-Length: ${length}\r\n\r\n`

/** A connection that collects what it receives until the server closes it. */
const connect = (path: string) => {
  const socket = Net.connect({ path })
  const received: Array<Buffer> = []
  let closed = false
  socket.on("data", (chunk: Buffer) => received.push(chunk))
  socket.on("error", () => {})
  socket.on("close", () => {
    closed = true
  })
  return { socket, text: () => Buffer.concat(received).toString("utf8"), closed: () => closed }
}

/** Swept from the moment the body stalls: the connection is still open 1 ms before the 1 s timeout, closed at it. */
const closesAtTimeout = (served: Served, client: ReturnType<typeof connect>) =>
  Effect.gen(function* () {
    served.watcher.sweep()
    served.advance(999)
    served.watcher.sweep()
    expect(client.closed()).toBe(false)
    served.advance(1)
    served.watcher.sweep()
    yield* waitFor(client.closed)
  })

describe("BodyStall", () => {
  it.live("a body that stops arriving is answered 408 with Err, and its connection closed", () =>
    Effect.gen(function* () {
      const served = yield* serve(1_000)
      const client = connect(served.path)
      client.socket.write(`${head(100)}${"x".repeat(10)}`)
      yield* waitFor(() => served.read() === 10)
      yield* closesAtTimeout(served, client)
      const [status, ...rest] = client.text().split("\r\n")
      expect(status).toBe("HTTP/1.1 408 Request Timeout")
      expect(rest).toContain("Connection: close")
      expect(rest).toContain(`Content-Type: ${Wire.ResponseContentType}`)
      expect(JSON.parse(rest.at(-1)!)).toEqual({
        Err: "/VolumeDriver.Get: the request body stalled: nothing received for 1s (Content-Length 100)"
      })
    })
  )

  it.live("a slow body that keeps arriving is never cut off, however long it takes in all", () =>
    Effect.gen(function* () {
      const served = yield* serve(1_000)
      const client = connect(served.path)
      client.socket.write(head(10))
      for (let i = 1; i <= 10; i++) {
        client.socket.write("x")
        yield* waitFor(() => served.read() === i)
        // Each byte arrives 900 ms (fake) after the previous one: 9 s in all, against a 1 s timeout.
        served.watcher.sweep()
        served.advance(900)
        served.watcher.sweep()
      }
      yield* waitFor(() => client.text().includes("read 10"))
      expect(client.text()).toMatch(/^HTTP\/1\.1 200 OK/)
      expect(client.closed()).toBe(false)
      client.socket.destroy()
    })
  )

  it.live("a body the server is not reading (its buffer is full) is not the client's stall", () =>
    Effect.gen(function* () {
      const served = yield* serve(1_000, "paused")
      const client = connect(served.path)
      const size = 1024 * 1024
      client.socket.write(head(size))
      client.socket.write(Buffer.alloc(size, 0x78))
      yield* waitFor(() => {
        const request = served.current()
        return request !== undefined && request.readableLength >= request.readableHighWaterMark
      })
      served.watcher.sweep()
      served.advance(10_000)
      served.watcher.sweep()
      served.advance(10_000)
      served.watcher.sweep()
      expect(client.closed()).toBe(false)
      let read = 0
      served.current()!.on("data", (chunk: Buffer) => (read += chunk.length))
      yield* waitFor(() => read === size)
      yield* waitFor(() => client.text().startsWith("HTTP/1.1 200 OK"))
      client.socket.destroy()
    })
  )

  it.live(
    "a body still owed after its answer went out: the connection is closed when it stalls, with nothing more written",
    () =>
      Effect.gen(function* () {
        const served = yield* serve(1_000, "answer-first")
        const client = connect(served.path)
        client.socket.write(`${head(100)}${"x".repeat(10)}`)
        yield* waitFor(() => client.text().endsWith("answered"))
        const answered = client.text()
        yield* closesAtTimeout(served, client)
        expect(client.text()).toBe(answered)
      })
  )

  it.live("idle connections between requests and bodies already complete are not watched", () =>
    Effect.gen(function* () {
      const served = yield* serve(1_000)
      const client = connect(served.path)
      client.socket.write(`${head(2)}xx`)
      yield* waitFor(() => client.text().includes("read 2"))
      served.watcher.sweep()
      served.advance(60_000)
      served.watcher.sweep()
      expect(client.closed()).toBe(false)
      client.socket.destroy()
    })
  )

  it.live("an HTTPS server's stalled body is found on its TLS sockets (where Node keeps the request)", () =>
    Effect.gen(function* () {
      const certs = certificates(yield* tempDir)
      let clock = 0
      let read = 0
      const server = Https.createServer(
        { cert: Fs.readFileSync(certs.server.cert), key: Fs.readFileSync(certs.server.key) },
        (request, response) => {
          request.on("data", (chunk: Buffer) => (read += chunk.length))
          request.on("end", () => response.end("read"))
        }
      )
      const watcher = BodyStall.make(server, 1_000, () => clock)
      const port = yield* Effect.acquireRelease(
        Effect.callback<number>((resume) => {
          server.listen(0, "127.0.0.1", () => resume(Effect.succeed((server.address() as Net.AddressInfo).port)))
        }),
        () =>
          Effect.callback<void>((resume) => {
            server.closeAllConnections()
            server.close(() => resume(Effect.void))
          })
      )
      const socket = Tls.connect({ host: "127.0.0.1", port, ca: Fs.readFileSync(certs.ca) })
      const received: Array<Buffer> = []
      let closed = false
      socket.on("data", (chunk: Buffer) => received.push(chunk))
      socket.on("error", () => {})
      socket.on("close", () => (closed = true))
      socket.write(`${head(100)}${"x".repeat(10)}`)
      yield* waitFor(() => read === 10)
      watcher.sweep()
      clock += 1_000
      watcher.sweep()
      yield* waitFor(() => closed)
      expect(Buffer.concat(received).toString("utf8")).toMatch(/^HTTP\/1\.1 408 Request Timeout/)
    })
  )

  it("sweeps a quarter of the timeout apart, at most once a second", () => {
    expect(BodyStall.sweepInterval(30_000)).toBe(1_000)
    expect(BodyStall.sweepInterval(200)).toBe(50)
    expect(BodyStall.sweepInterval(1)).toBe(1)
  })
})
