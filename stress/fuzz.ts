/**
 * Fuzzing over the socket: many requests per API spread over every JSON endpoint, pipelined on keep-alive
 * connections (some half-closed after writing), plus requests Node itself must refuse (garbage request lines,
 * bodies past any sane size). Every request must be answered, invalid ones with an error, bad fields by name.
 */
import { type Endpoint, PluginApi } from "@docker-plugin-kit/protocol"
import { generator, type Input } from "./inputs.ts"
import { exchange, request } from "./wire.ts"

/** The tally of one fuzz run. */
export interface FuzzTally {
  requests: number
  unanswered: number
  /** Invalid inputs answered 200 without an error field. */
  accepted: number
  /** Invalid inputs whose error did not name the bad field. */
  unnamed: number
  /** A few examples of each kind of problem. */
  examples: Record<"unanswered" | "accepted" | "unnamed", Array<string>>
}

const emptyTally = (): FuzzTally => ({
  requests: 0,
  unanswered: 0,
  accepted: 0,
  unnamed: 0,
  examples: { unanswered: [], accepted: [], unnamed: [] }
})

const errorOf = (body: string): string | undefined => {
  try {
    const json = JSON.parse(body) as Record<string, unknown>
    const err = json.Err ?? json.Error
    return typeof err === "string" && err !== "" ? err : undefined
  } catch {
    return undefined
  }
}

const note = (tally: FuzzTally, kind: keyof FuzzTally["examples"], text: string) => {
  tally[kind]++
  if (tally.examples[kind].length < 3) tally.examples[kind].push(text)
}

/** Sends `total` fuzz requests to the plugin at `socket`, spread over every JSON endpoint of `apis`. */
export const fuzz = async (
  socket: string,
  apis: ReadonlyArray<PluginApi.Any>,
  total: number,
  options: { readonly connections?: number; readonly onlyInvalid?: boolean } = {}
): Promise<FuzzTally> => {
  const targets: Array<{ endpoint: Endpoint.Any; next: () => Input }> = []
  for (const api of apis) {
    for (const endpoint of PluginApi.endpointList(api)) {
      const next = await generator(endpoint, total)
      if (next !== undefined) targets.push({ endpoint, next })
    }
  }
  const tally = emptyTally()
  const draw = (): { endpoint: Endpoint.Any; input: Input } | undefined => {
    // Bounded: an API whose calls take no input (MetricsCollector) has no invalid requests to draw.
    for (let attempt = 0; attempt < 1_000; attempt++) {
      const target = targets[Math.floor(Math.random() * targets.length)]!
      const input = target.next()
      if (!options.onlyInvalid || input.expect._tag === "invalid") return { endpoint: target.endpoint, input }
    }
    return undefined
  }
  let left = targets.length === 0 || draw() === undefined ? 0 : total
  const worker = async () => {
    while (left > 0) {
      const size = Math.min(left, 1 + Math.floor(Math.random() * 8))
      left -= size
      const batch = Array.from({ length: size }, draw).filter((d) => d !== undefined)
      const halfClose = Math.random() < 0.1
      const result = await exchange(
        socket,
        batch.map(({ endpoint, input }) => request(endpoint.path, input.body)),
        // The daemon's plugin client waits 30 s for an answer.
        { expect: size, halfClose, timeoutMs: 30_000 }
      )
      tally.requests += size
      batch.forEach(({ endpoint, input }, i) => {
        const answer = result.answers[i]
        if (answer === undefined) {
          note(tally, "unanswered", `${endpoint.path} ${input.kind}: no answer${halfClose ? " (half-closed)" : ""}`)
          return
        }
        if (input.expect._tag !== "invalid") return
        const err = errorOf(answer.body)
        if (answer.status === 200 && err === undefined) {
          note(
            tally,
            "accepted",
            `${endpoint.path} ${input.kind}: answered 200 to ${input.body.toString().slice(0, 80)}`
          )
        } else if (input.expect.field !== undefined && !(err ?? answer.body).includes(input.expect.field)) {
          note(
            tally,
            "unnamed",
            `${endpoint.path} ${input.kind}: error "${(err ?? answer.body).slice(0, 120)}" names no ${input.expect.field}`
          )
        }
      })
    }
  }
  await Promise.all(Array.from({ length: options.connections ?? 16 }, worker))
  return tally
}

/** Requests Node's HTTP parser refuses, and bodies of several MiB: each must still get an answer. */
export const malformed = async (socket: string, count: number): Promise<FuzzTally> => {
  const tally = emptyTally()
  const payloads: ReadonlyArray<() => Buffer> = [
    () => Buffer.from("GARBAGE /x HTTP/1.1\r\n\r\n"),
    () => Buffer.from("POST /VolumeDriver.Get HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
    // Node answers 431 as soon as the headers pass 16 KiB and closes: a client still writing may see the close
    // (EPIPE) before the answer, so the headers stop just past the limit and the answer is read.
    () => Buffer.from(`POST /VolumeDriver.Get HTTP/1.1\r\nX: ${"y".repeat(17_000)}\r\n\r\n`),
    () => request("/VolumeDriver.Get", Buffer.alloc(4 * 1024 * 1024, 0x7b)),
    // JSON.parse needs ~100 ms for this on a 2-core machine: bounded by the body limit, not by depth.
    () => request("/VolumeDriver.Get", `${"[".repeat(100_000)}${"]".repeat(100_000)}`)
  ]
  for (let i = 0; i < count; i++) {
    const payload = payloads[i % payloads.length]!()
    const result = await exchange(socket, [payload], { expect: 1, timeoutMs: 30_000 })
    tally.requests++
    const answer = result.answers[0]
    if (answer === undefined) note(tally, "unanswered", `malformed #${i % payloads.length}: no answer`)
    else if (answer.status === 200) note(tally, "accepted", `malformed #${i % payloads.length}: answered 200`)
  }
  return tally
}
