/**
 * The name a plugin is served under: what the daemon is told (`--volume-driver NAME`, `--authorization-plugin NAME`)
 * and what names its files in the discovery folders (`NAME.sock`, `NAME.spec`, `NAME.json`). A name holding `/` or
 * `..` would put those files elsewhere, and one the daemon cannot be given would never be found, so both are refused
 * before anything is written.
 *
 * @since 0.1.0
 */

/**
 * What a name may hold: letters, digits, `.`, `_` and `-`, starting with a letter or a digit.
 *
 * @since 0.1.0
 */
export const pattern: RegExp = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

/**
 * Why `name` cannot name a plugin (to follow the name in a message), or `undefined` when it can.
 *
 * @since 0.1.0
 */
export const check = (name: string): string | undefined =>
  pattern.test(name)
    ? undefined
    : `must be letters, digits, ".", "_" and "-", starting with a letter or a digit (it names the socket and spec files)`
