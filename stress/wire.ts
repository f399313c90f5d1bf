/**
 * Raw HTTP/1.1 over a Unix socket: the stress scenarios need what no HTTP client sends (bytes that are not JSON,
 * bodies cut short, pipelined and half-closed requests), and to count every answer the plugin gives.
 */
import * as Http from "node:http"
import * as Net from "node:net"

/** One answer as it came off the socket. */
export interface Answer {
  readonly status: number
  readonly body: string
}

/** A request as bytes: the daemon's headers, any body. */
export const request = (path: string, body: Uint8Array | string, headers: Record<string, string> = {}): Buffer => {
  const bytes = typeof body === "string" ? Buffer.from(body) : Buffer.from(body)
  const head = [
    `POST ${path} HTTP/1.1`,
    "Host: plugin",
    "Accept: application/vnd.docker.plugins.v1.2+json",
    "Content-Type: application/json",
    `Content-Length: ${bytes.length}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
    "",
    ""
  ].join("\r\n")
  return Buffer.concat([Buffer.from(head), bytes])
}

/** Parses as many complete answers as `data` holds; returns them and the bytes left over. */
const parseAnswers = (data: Buffer): { answers: Array<Answer>; rest: Buffer } => {
  const answers: Array<Answer> = []
  let rest = data
  for (;;) {
    const end = rest.indexOf("\r\n\r\n")
    if (end < 0) break
    const head = rest.subarray(0, end).toString("latin1")
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? Number.NaN)
    const length = /\r\ncontent-length: *(\d+)/i.exec(head)?.[1]
    if (length === undefined) {
      // Every answer of the plugin carries Content-Length; Node's own 400 for a request it cannot parse has no
      // body and closes the connection.
      answers.push({ status, body: "" })
      rest = Buffer.alloc(0)
      break
    }
    const total = end + 4 + Number(length)
    if (rest.length < total) break
    answers.push({ status, body: rest.subarray(end + 4, total).toString("utf8") })
    rest = rest.subarray(total)
  }
  return { answers, rest }
}

/** What one connection got back. */
export interface Exchange {
  readonly answers: ReadonlyArray<Answer>
  /** The plugin closed the connection before `expect` answers came (or reset it). */
  readonly closedEarly: boolean
}

/**
 * Writes `payload` on a fresh connection (optionally half-closing it afterwards) and waits for `expect` answers,
 * the connection's end, or `timeoutMs`.
 */
export const exchange = (
  socket: string,
  payload: ReadonlyArray<Buffer>,
  options: { readonly expect: number; readonly halfClose?: boolean; readonly timeoutMs?: number }
): Promise<Exchange> =>
  new Promise((resolve) => {
    const conn = Net.createConnection({ path: socket, allowHalfOpen: true })
    let buffered: Buffer = Buffer.alloc(0)
    const answers: Array<Answer> = []
    let settled = false
    const settle = (closedEarly: boolean) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      conn.destroy()
      resolve({ answers, closedEarly })
    }
    const timer = setTimeout(() => settle(true), options.timeoutMs ?? 10_000)
    conn.on("connect", () => {
      for (const chunk of payload) conn.write(chunk)
      if (options.halfClose) conn.end()
    })
    conn.on("data", (chunk: Buffer) => {
      const parsed = parseAnswers(Buffer.concat([buffered, chunk]))
      buffered = parsed.rest
      answers.push(...parsed.answers)
      if (answers.length >= options.expect) settle(false)
    })
    // The plugin ended its side (it closed the connection, or was killed): no answer can follow. With allowHalfOpen
    // no "close" comes until this side ends too, so waiting for it would sit out the whole timeout.
    conn.on("end", () => settle(answers.length < options.expect))
    conn.on("error", () => settle(true))
    conn.on("close", () => settle(answers.length < options.expect))
  })

/** A JSON call the ordinary way; rejects when the plugin does not answer. */
export const call = async (socket: string, path: string, body: unknown): Promise<{ status: number; json: any }> => {
  const { answers } = await exchange(socket, [request(path, JSON.stringify(body))], { expect: 1 })
  const answer = answers[0]
  if (answer === undefined) throw new Error(`${path}: no answer`)
  return { status: answer.status, json: answer.body === "" ? undefined : JSON.parse(answer.body) }
}

/** The answer to a call that should succeed: `ok` when it is 200 with no `Err`; otherwise `text` says what failed. */
export interface Attempt {
  readonly ok: boolean
  readonly text: string
  readonly json: any
}

/** Makes a JSON call (through `send`) and judges its answer; a call with no answer is a failure whose text says so. */
export const attempt = async (
  socket: string,
  path: string,
  body: unknown,
  send: typeof call = call
): Promise<Attempt> => {
  const shown = JSON.stringify(body)
  const what = `${path.replace(/^\/\w+\./, "")} ${shown.length > 100 ? `${shown.slice(0, 100)}…` : shown}`
  try {
    const { status, json } = await send(socket, path, body)
    const ok = status === 200 && json?.Err === undefined
    return { ok, text: ok ? "" : `${what}: ${json?.Err ?? status}`, json }
  } catch (e) {
    return { ok: false, text: `${what}: ${(e as Error).message}`, json: undefined }
  }
}

/**
 * Calls through a pool of `connections` keep-alive connections, as the daemon's HTTP client does: many calls in
 * flight, never more connections than the pool.
 */
export const pooled = (connections: number): { readonly call: typeof call; readonly close: () => void } => {
  const agent = new Http.Agent({ keepAlive: true, maxSockets: connections })
  return {
    close: () => agent.destroy(),
    call: (socket, path, body) =>
      new Promise((resolve, reject) => {
        const req = Http.request(
          { socketPath: socket, path, method: "POST", agent, headers: { "Content-Type": "application/json" } },
          (res) => {
            let text = ""
            res.setEncoding("utf8")
            res.on("data", (chunk: string) => {
              text += chunk
            })
            res.on("end", () =>
              resolve({ status: res.statusCode ?? 0, json: text === "" ? undefined : JSON.parse(text) })
            )
            res.on("error", reject)
          }
        )
        req.setTimeout(30_000, () => req.destroy(new Error(`${path}: no answer within 30 s`)))
        req.on("error", reject)
        req.end(JSON.stringify(body))
      })
  }
}
