/**
 * Test plugin drivers: in-process, over real sockets, and against a real Docker Engine.
 *
 * @since 0.1.0
 */
export * as DockerEngine from "./DockerEngine.ts"
export * as InProcess from "./InProcess.ts"
