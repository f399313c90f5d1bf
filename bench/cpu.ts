/**
 * CPU time of a process, as the benches report it beside their rates: on a busy host it moves much less than wall
 * time does with other work.
 */
import * as Fs from "node:fs"

/**
 * CPU seconds (user + system) process `pid` has used so far, from /proc/PID/stat (clock ticks of 10 ms), or with
 * `children`, those of the children it has waited for.
 */
export const cpuSeconds = (pid: number | "self", children = false): number => {
  // utime 14, stime 15, cutime 16, cstime 17 (1-based, man 5 proc).
  const fields = statFields(pid)
  const at = children ? 13 : 11
  return (Number(fields[at]) + Number(fields[at + 1])) / 100
}

/**
 * The fields of /proc/PID/stat after the command, which may hold spaces and parentheses: index 0 is field 3
 * (state), index N is field N + 3 (1-based, man 5 proc).
 */
const statFields = (pid: number | "self"): ReadonlyArray<string> => {
  const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")
}

/**
 * Minor page faults process `pid` has taken so far (/proc/PID/stat field 10). On a virtual machine each one costs a
 * trip through the hypervisor, so a process that keeps touching fresh memory pays for it in system time.
 */
export const minorFaults = (pid: number | "self"): number => Number(statFields(pid)[7])
