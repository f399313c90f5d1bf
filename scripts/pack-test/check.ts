// Calls a running volume plugin over its socket the way the daemon would, with the installed testkit: the
// VolumeDriver conformance suite. Usage: node check.ts SOCKET
import { Conformance, ConformanceReport, ConformanceSuites, ConformanceVolume } from "@docker-plugin-kit/testkit"
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"

class CheckFailed extends Data.TaggedError("CheckFailed")<{ readonly report: string }> {}

const socket = process.argv[2]
if (socket === undefined) throw new Error("usage: node check.ts SOCKET")

const check = Effect.scoped(
  Effect.gen(function* () {
    const client = yield* ConformanceSuites.running(socket)
    const manifest = yield* client.activate
    console.log(`activated: implements ${(manifest.Implements ?? []).join(", ")}`)
    const report = yield* Conformance.run(ConformanceVolume.suite, client)
    const text = ConformanceReport.format(report)
    console.log(text)
    if (!report.passed) return yield* new CheckFailed({ report: text })
  })
)

NodeRuntime.runMain(check)
