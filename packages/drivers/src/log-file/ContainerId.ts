/**
 * Container IDs as file names: the daemon sends 64 hex characters, but the ID comes from a request, so it is
 * checked before it becomes part of a path (no `/`, no `..`, nothing hidden).
 *
 * @since 0.1.0
 */
import * as Data from "effect/Data"
import * as Result from "effect/Result"
import * as Path from "node:path"

/**
 * An ID that cannot be a file name under the log folder.
 *
 * @since 0.1.0
 */
export class ContainerIdInvalid extends Data.TaggedError("ContainerIdInvalid")<{ readonly id: string }> {
  override get message() {
    return `invalid container ID ${JSON.stringify(this.id)}: expected letters, digits, '_', '.' or '-' (not first), at most 128`
  }
}

const pattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/

/**
 * The path of a container's current log file under `dir`, or why the ID cannot be used.
 *
 * @since 0.1.0
 */
export const logPath = (dir: string, id: string): Result.Result<string, ContainerIdInvalid> => {
  if (!pattern.test(id)) return Result.fail(new ContainerIdInvalid({ id }))
  const path = Path.resolve(dir, `${id}.log`)
  // The pattern already rules out separators; this keeps the guarantee if it is ever loosened.
  return Path.dirname(path) === Path.resolve(dir) ? Result.succeed(path) : Result.fail(new ContainerIdInvalid({ id }))
}
