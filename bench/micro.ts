/**
 * In-process companion of `pnpm bench`, for comparing versions of the server on a busy machine. The server under
 * test and a minimal raw-socket client (pre-built request bytes, responses counted by length) run in this one
 * process, on one core, with 16 connections and one call in flight on each. The figure is the time of one core per
 * call, client included; the minimum over many batches filters out the batches that another process pre-empted.
 *
 * Usage: node --conditions=@docker-plugin-kit/source bench/micro.ts [plugin|bare|SCRIPT] [--batch N] [--batches N]
 *
 * Compare versions of one server with it, not the plugin with the bare server: with the client in the same event
 * loop, a server that starts its handlers in the check phase (as the plugin's listener does) gets its calls in
 * batches, which flatters it here and not in `pnpm bench`.
 *
 * SCRIPT is a server script like bench/plugin-server.ts: it takes the socket path as its only argument. With
 * `valgrind --tool=cachegrind --cache-sim=no node …` and two values of --batches, the difference of the
 * instruction counts divided by the difference of calls is the user-space instructions per call: a measure that
 * other processes cannot disturb (see bench/README.md).
 */
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { parseArgs } from "node:util"
import { accept, path, requestBody, volumeName } from "./shared.ts"

const { values: flags, positionals } = parseArgs({
  options: {
    batch: { type: "string", default: "4000" },
    batches: { type: "string", default: "40" },
    warmup: { type: "string", default: "10" },
    connections: { type: "string", default: "16" }
  },
  allowPositionals: true
})
const batch = Number(flags.batch)
const batches = Number(flags.batches)
const warmupBatches = Number(flags.warmup)
const connections = Number(flags.connections)
const target = positionals[0] ?? "plugin"
const here = Path.dirname(new URL(import.meta.url).pathname)
const script =
  target === "plugin"
    ? Path.join(here, "plugin-server.ts")
    : target === "bare"
      ? Path.join(here, "bare-server.ts")
      : Path.resolve(target)

const tmp = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-micro-"))
const socketPath = Path.join(tmp, "server.sock")
process.on("exit", () => Fs.rmSync(tmp, { recursive: true, force: true }))

// The server scripts take the socket path as their argument.
process.argv[2] = socketPath
await import(script)

const connect = () =>
  new Promise<Net.Socket | undefined>((resolve) => {
    const socket = Net.connect({ path: socketPath })
    socket.once("connect", () => resolve(socket))
    socket.once("error", () => {
      socket.destroy()
      resolve(undefined)
    })
  })

for (let attempt = 0; ; attempt++) {
  const probe = await connect()
  if (probe !== undefined) {
    probe.destroy()
    break
  }
  if (attempt > 400) throw new Error("the server did not start")
  await new Promise((resolve) => setTimeout(resolve, 25))
}

const request = (callPath: string, body: string) =>
  Buffer.from(
    `POST ${callPath} HTTP/1.1\r\nHost: localhost\r\nAccept: ${accept}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  )

/** One call on a fresh connection; the whole response as latin1 text. */
const once = async (bytes: Buffer): Promise<string> => {
  const socket = (await connect())!
  return new Promise((resolve) => {
    let text = ""
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString("latin1")
      const end = text.indexOf("\r\n\r\n")
      if (end < 0) return
      const length = Number(/content-length: (\d+)/i.exec(text)?.[1] ?? "0")
      if (text.length >= end + 4 + length) {
        socket.destroy()
        resolve(text)
      }
    })
    socket.write(bytes)
  })
}

await once(request("/VolumeDriver.Create", `${JSON.stringify({ Name: volumeName, Opts: null })}\n`))
const first = await once(request(path, requestBody))
if (!first.startsWith("HTTP/1.1 200")) throw new Error(`unexpected answer:\n${first}`)
const responseLength = Buffer.byteLength(first, "latin1")
const get = request(path, requestBody)

let remaining = 0
let done: (() => void) | undefined
const sockets: Array<Net.Socket> = []
for (let i = 0; i < connections; i++) {
  const socket = (await connect())!
  let received = 0
  socket.on("data", (chunk: Buffer) => {
    received += chunk.length
    while (received >= responseLength) {
      received -= responseLength
      remaining--
      if (remaining === 0) done?.()
      else if (remaining >= connections) socket.write(get)
    }
  })
  sockets.push(socket)
}

/** Runs `calls` calls; resolves with the µs per call. */
const run = (calls: number) =>
  new Promise<number>((resolve) => {
    remaining = calls
    const started = process.hrtime.bigint()
    done = () => resolve(Number(process.hrtime.bigint() - started) / 1000 / calls)
    for (const socket of sockets) socket.write(get)
  })

for (let i = 0; i < warmupBatches; i++) await run(batch)
const times: Array<number> = []
for (let i = 0; i < batches; i++) times.push(await run(batch))
times.sort((a, b) => a - b)
const at = (q: number) => Math.round(times[Math.min(times.length - 1, Math.floor(q * times.length))]! * 100) / 100
console.log(
  JSON.stringify({
    server: Path.relative(process.cwd(), script),
    calls: batch * (warmupBatches + batches),
    min_us: at(0),
    p10_us: at(0.1),
    median_us: at(0.5),
    rss_mb: Math.round((process.memoryUsage().rss / 2 ** 20) * 10) / 10
  })
)
process.exit(0)
