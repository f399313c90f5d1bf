/**
 * Counted calls for the scenarios that judge each answer: how many were sent, how many got no answer, which
 * answers a correct plugin would not give (a refusal that names neither the field nor the value, an invalid name
 * accepted), with a few examples of each kept for the notes.
 */
import { exchange, request } from "./wire.ts"

/** One answer: its status, its body, and the body as JSON when it is JSON. */
export interface Reply {
  readonly status: number
  readonly text: string
  readonly json: any
}

/** Whether an answer is a refusal (the daemon reads `Err` on any status but 200, and on 200 when it is set). */
export const isError = (reply: Reply): boolean =>
  reply.status !== 200 || (typeof reply.json?.Err === "string" && reply.json.Err !== "")

/** The error text of an answer. */
export const errorOf = (reply: Reply): string => (typeof reply.json?.Err === "string" ? reply.json.Err : reply.text)

/** `value` as it may appear in a message: raw, JSON-escaped, or its first 40 characters (long names are cut). */
const mentions = (text: string, value: string): boolean => {
  if (value === "") return false
  const escaped = JSON.stringify(value).slice(1, -1)
  return [value, escaped, value.slice(0, 40), escaped.slice(0, 40)].some((v) => v.trim() !== "" && text.includes(v))
}

/** Whether an error names one of `fields` (case-insensitive) or the value itself. */
export const names = (text: string, fields: ReadonlyArray<string>, value: string): boolean =>
  fields.some((f) => text.toLowerCase().includes(f.toLowerCase())) || mentions(text, value)

const shown = (value: unknown): string => {
  const text = typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value)
  return text.length > 70 ? `${text.slice(0, 70)}…` : text
}

/** A counter of calls and of what went wrong, for one driver's row. */
export class Probe {
  count = 0
  unanswered = 0
  wrong = 0
  readonly notes: Array<string> = []
  private examples = 0

  readonly socket: string

  constructor(socket: string) {
    this.socket = socket
  }

  /** Notes something wrong (counted), keeping the first few as examples. */
  fault(text: string): void {
    this.wrong++
    if (this.examples++ < 6) this.notes.push(text)
  }

  /** One call with a JSON body (or raw bytes); `undefined` when the plugin did not answer. */
  async send(path: string, body: unknown, timeoutMs = 30_000): Promise<Reply | undefined> {
    this.count++
    const bytes = Buffer.isBuffer(body) ? body : JSON.stringify(body)
    const { answers } = await exchange(this.socket, [request(path, bytes)], { expect: 1, timeoutMs })
    const answer = answers[0]
    if (answer === undefined) {
      this.unanswered++
      if (this.examples++ < 6) this.notes.push(`${path} ${shown(body)}: no answer`)
      return undefined
    }
    let json: any
    try {
      json = answer.body === "" ? undefined : JSON.parse(answer.body)
    } catch {
      json = undefined
    }
    return { status: answer.status, text: answer.body, json }
  }

  /**
   * A call that carries a hostile `value` in a field: any refusal must name the field (one of `fields`) or the
   * value; with `mustRefuse`, acceptance is wrong too. Answers the reply.
   */
  async hostile(
    path: string,
    body: unknown,
    value: string,
    fields: ReadonlyArray<string>,
    mustRefuse: boolean
  ): Promise<Reply | undefined> {
    const reply = await this.send(path, body)
    if (reply === undefined) return undefined
    if (isError(reply)) {
      const err = errorOf(reply)
      if (!names(err, fields, value))
        this.fault(`${path} ${shown(value)}: the error names neither field nor value: ${err.slice(0, 160)}`)
    } else if (mustRefuse) this.fault(`${path} ${shown(value)}: accepted`)
    return reply
  }

  /** A call that must succeed; its reply, or `undefined` (noted as wrong) when it did not. */
  async ok(path: string, body: unknown): Promise<Reply | undefined> {
    const reply = await this.send(path, body)
    if (reply === undefined) return undefined
    if (isError(reply)) {
      this.fault(`${path} ${shown(body)}: ${errorOf(reply).slice(0, 160)}`)
      return undefined
    }
    return reply
  }
}
