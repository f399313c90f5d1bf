/**
 * Test plugin drivers: in-process, over real sockets, and against a real Docker Engine.
 *
 * @since 0.1.0
 */
export * as DockerEngine from "./engine/DockerEngine.ts"
export * as EtcdServer from "./engine/EtcdServer.ts"
export * as RemapUser from "./engine/RemapUser.ts"
export * as Swarm from "./engine/Swarm.ts"
export * as FreePort from "./engine/FreePort.ts"
export * as InProcess from "./harness/InProcess.ts"
export * as Conformance from "./conformance/Conformance.ts"
export * as ConformanceGeneric from "./conformance/ConformanceGeneric.ts"
export * as ConformanceReport from "./conformance/ConformanceReport.ts"
export * as ConformanceSuites from "./conformance/ConformanceSuites.ts"
export * as ConformanceLog from "./conformance/ConformanceLog.ts"
export * as ConformanceVolume from "./conformance/ConformanceVolume.ts"
export * as ConformanceNetwork from "./conformance/ConformanceNetwork.ts"
export * as ConformanceIpam from "./conformance/ConformanceIpam.ts"
export * as SocketHarness from "./harness/SocketHarness.ts"
export * as FakeDaemon from "./daemon/FakeDaemon.ts"
export * as NetworkSequences from "./daemon/NetworkSequences.ts"
export * as ConformanceGraph from "./conformance/ConformanceGraph.ts"
export * as LogSequences from "./daemon/LogSequences.ts"
export * as ConformanceAuthz from "./conformance/ConformanceAuthz.ts"
export * as ConformanceSecret from "./conformance/ConformanceSecret.ts"
export * as AuthzSequences from "./daemon/AuthzSequences.ts"
