/**
 * In-process companion of `pnpm bench log`: the log plugin's per-line CPU without a daemon. N entries shaped like
 * `busybox seq 1 N`'s (stdout, increasing times, short lines) are framed as the daemon frames them and cut into
 * chunks of `--chunk` bytes (the daemon writes one frame per write; the reader gets what the pipe held); each chunk
 * goes through the driver's per-line path: the frame decoder, the bounded buffer, the records and the bytes written
 * (into a file under a temporary folder). The figure is the best of `--repeat` passes, in µs per line.
 *
 * Usage: node --conditions=@docker-plugin-kit/source --max-semi-space-size=2 bench/log-micro.ts [--lines N]
 * [--chunk BYTES] [--repeat N] [--profile FILE.cpuprofile] (a V8 CPU profile of the passes only, not of the setup;
 * summarise it with bench/profile-summary.ts)
 */
import { LogFile } from "@docker-plugin-kit/drivers"
import { LogEntry, LogFifo, LogFraming } from "@docker-plugin-kit/helpers"
import { LogDriver } from "@docker-plugin-kit/protocol"
import { Effect, Layer, ManagedRuntime } from "effect"
import * as Fs from "node:fs"
import * as Inspector from "node:inspector/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { parseArgs } from "node:util"

const { values: flags } = parseArgs({
  options: {
    lines: { type: "string", default: "1000000" },
    chunk: { type: "string", default: "4096" },
    repeat: { type: "string", default: "5" },
    profile: { type: "string" }
  },
  allowPositionals: false
})
const lines = Number(flags.lines)
const chunkSize = Number(flags.chunk)
const repeat = Number(flags.repeat)

const t0 = 1_764_244_800_123_456_789n
const frames = Buffer.concat(
  Array.from({ length: Math.ceil(lines / 10_000) }, (_, block) =>
    LogFraming.encodeFrames(
      Array.from({ length: Math.min(10_000, lines - block * 10_000) }, (_, j) => {
        const i = block * 10_000 + j
        return LogEntry.make({ source: "stdout", timeNano: t0 + BigInt(i) * 7_919n, line: String(i + 1) })
      })
    )
  )
)
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "dpk-log-micro-"))
const runtime = ManagedRuntime.make(LogFile.layerNode({ dir: Path.join(dir, "logs") }).pipe(Layer.orDie))

const pass = (n: number) =>
  Effect.scoped(
    Effect.gen(function* () {
      const driver = yield* LogDriver.LogDriver
      const fifo = Path.join(dir, `fifo-${n}`)
      const writer = yield* LogFifo.create(fifo)
      const id = `${n}`.padStart(64, "0")
      yield* driver.startLogging({ File: fifo, Info: { ContainerID: id, Config: {} } as never })
      const cpu = process.cpuUsage()
      const faults = process.resourceUsage().minorPageFault
      const started = performance.now()
      // The daemon's side: one chunk per write, waiting for the reader (a turn of the event loop) when the pipe is full.
      const turn = () => new Promise((resolve) => setImmediate(resolve))
      for (let at = 0; at < frames.length; ) {
        const n = writer.tryWrite(frames.subarray(at, Math.min(frames.length, at + chunkSize)))
        at += n
        if (n === 0 || (at / chunkSize) % 8 === 0) yield* Effect.promise(turn)
      }
      yield* driver.stopLogging({ File: fifo })
      const used = process.cpuUsage(cpu)
      const seconds = (performance.now() - started) / 1000
      const file = Path.join(dir, "logs", `${id}.log`)
      const size = Fs.statSync(file).size
      Fs.rmSync(file)
      const pageFaults = process.resourceUsage().minorPageFault - faults
      return { usPerLine: (used.user + used.system) / lines, seconds, size, pageFaults }
    })
  )

const results: Array<number> = []
const session = flags.profile === undefined ? undefined : new Inspector.Session()
if (session !== undefined) {
  session.connect()
  await session.post("Profiler.enable")
  await session.post("Profiler.start")
}
for (let n = 0; n < repeat; n++) {
  const r = await runtime.runPromise(
    pass(n) as Effect.Effect<{ usPerLine: number; seconds: number; size: number; pageFaults: number }>
  )
  results.push(r.usPerLine)
  console.error(
    `pass ${n + 1}: ${r.usPerLine.toFixed(2)} µs/line CPU, ${r.seconds.toFixed(2)} s, ${r.size} bytes, ${r.pageFaults} page faults`
  )
}
if (session !== undefined && flags.profile !== undefined) {
  const { profile } = await session.post("Profiler.stop")
  Fs.writeFileSync(flags.profile, JSON.stringify(profile))
  session.disconnect()
}
await runtime.dispose()
Fs.rmSync(dir, { recursive: true, force: true })
console.log(JSON.stringify({ lines, chunk: chunkSize, best_us_per_line: Number(Math.min(...results).toFixed(2)) }))
