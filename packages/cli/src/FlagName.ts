/**
 * The name a flag is given on the command line, for messages and descriptions that name flags as users type them.
 *
 * @since 0.1.0
 */
import type * as Flag from "effect/cli/Flag"

/**
 * The name of `flag` without its dashes (`root`, `state-dir`), through the combinators wrapped around it (default,
 * optional, description).
 *
 * @since 0.1.0
 */
export const cliName = (flag: Flag.Flag<any>): string => {
  let param: any = flag
  while (param._tag !== "Single") param = param.param
  return param.name
}
