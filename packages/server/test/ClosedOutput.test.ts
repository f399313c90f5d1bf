// A closed output drops what is written to it; any other failure of the stream stays fatal.
import { ClosedOutput } from "@docker-plugin-kit/server"
import { describe, expect, it } from "@effect/vitest"
import * as Stream from "node:stream"

const failure = (code: string) => Object.assign(new Error(`write ${code}`), { code })

describe("ClosedOutput", () => {
  it("swallows EPIPE, rethrows anything else, and listens once however often it is called", () => {
    const stream = new Stream.PassThrough() as unknown as NodeJS.WriteStream
    ClosedOutput.tolerate([stream])
    ClosedOutput.tolerate([stream])
    expect(stream.listenerCount("error")).toBe(1)
    expect(() => stream.emit("error", failure("EPIPE"))).not.toThrow()
    expect(() => stream.emit("error", failure("EIO"))).toThrow("write EIO")
  })
})
