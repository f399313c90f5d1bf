/**
 * Test plugin drivers: in-process, over real sockets, and against a real Docker Engine.
 *
 * @since 0.1.0
 */
export * as DockerEngine from "./DockerEngine.ts"
export * as InProcess from "./InProcess.ts"
export * as Conformance from "./Conformance.ts"
export * as ConformanceReport from "./ConformanceReport.ts"
export * as ConformanceSuites from "./ConformanceSuites.ts"
export * as ConformanceVitest from "./ConformanceVitest.ts"
export * as ConformanceVolume from "./ConformanceVolume.ts"
export * as SocketHarness from "./SocketHarness.ts"
export * as FakeDaemon from "./FakeDaemon.ts"
