/**
 * `Nat` on the host, through `iptables` (`nat` and `filter` tables), run without a shell. Needs CAP_NET_ADMIN. Every call waits for
 * the xtables lock (`-w`): other programs (the daemon's own bridge driver, other plugins) change the same tables.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as RunProgram from "../shared/RunProgram.ts"
import {
  type DnatRule,
  type ForwardRule,
  forwardJumpPosition,
  type MasqueradeRule,
  Nat,
  NatError,
  type Service
} from "./Nat.ts"

/**
 * The program run: a fixed path, not a `PATH` lookup (the plugin runs as root).
 *
 * @since 0.1.0
 */
export const iptablesPath = "/usr/sbin/iptables"

/**
 * Runs `iptables -w -t TABLE` with arguments; fails with its error output (or with what is missing when the program
 * is not there).
 *
 * @since 0.1.0
 */
export const iptablesIn = (
  table: "nat" | "filter",
  operation: string,
  name: string,
  args: ReadonlyArray<string>,
  program: string = iptablesPath
): Effect.Effect<string, NatError> =>
  RunProgram.run(
    program,
    ["-w", "-t", table, ...args],
    (reason, code) =>
      new NatError({
        operation,
        name,
        reason:
          code === "ENOENT"
            ? `${program} not found: publishing ports and masquerading need iptables on the host`
            : reason
      })
  )

/**
 * Runs `iptables -w -t nat` with arguments, as `iptablesIn`.
 *
 * @since 0.1.0
 */
export const iptables = (
  operation: string,
  name: string,
  args: ReadonlyArray<string>,
  program: string = iptablesPath
): Effect.Effect<string, NatError> => iptablesIn("nat", operation, name, args, program)

/** Runs `iptables -w -t filter` with arguments. */
const filter = (operation: string, name: string, args: ReadonlyArray<string>) =>
  iptablesIn("filter", operation, name, args)

/**
 * Splits one line of `iptables -S` into its words: a word in double quotes (a comment with spaces) is one word.
 *
 * @since 0.1.0
 */
export const words = (line: string): ReadonlyArray<string> => {
  const out: Array<string> = []
  let current: string | undefined
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (quoted) {
      if (c === "\\" && i + 1 < line.length) current += line[++i]!
      else if (c === '"') quoted = false
      else current += c
    } else if (c === '"') {
      quoted = true
      current ??= ""
    } else if (c === " " || c === "\t") {
      if (current !== undefined) out.push(current)
      current = undefined
    } else current = (current ?? "") + c
  }
  if (current !== undefined) out.push(current)
  return out
}

/**
 * The options of each rule of `chain` (`! -o` as `!-o`), when the rule has the one shape the driver writes: only
 * the options in `allowed`, each once but `-m`, every `-m` one of `modules`, each with a value. Any other rule (more
 * matches, a negation the driver does not write, an option without a value) is not the driver's and is left out, so
 * it is neither counted as one of the driver's rules in place nor removed as one.
 */
const rulesOf = (
  output: string,
  chain: string,
  allowed: ReadonlySet<string>,
  modules: ReadonlySet<string>
): ReadonlyArray<ReadonlyMap<string, string>> =>
  output.split("\n").flatMap((line) => {
    const w = words(line.trim())
    if (w[0] !== "-A" || w[1] !== chain) return []
    const options = new Map<string, string>()
    for (let i = 2; i < w.length; i++) {
      const negated = w[i] === "!"
      const key = negated ? `!${w[i + 1] ?? ""}` : w[i]!
      const value = w[negated ? i + 2 : i + 1]
      if (!allowed.has(key) || value === undefined || value.startsWith("-")) return []
      if (key === "-m" ? !modules.has(value) : options.has(key)) return []
      options.set(key, value)
      i += negated ? 2 : 1
    }
    return [options]
  })

const dnatOptions = new Set(["-d", "-p", "-m", "--dport", "--comment", "-j", "--to-destination"])
const dnatModules = new Set(["tcp", "udp", "comment"])
const masqueradeOptions = new Set(["-s", "!-o", "-m", "--comment", "-j"])
const masqueradeModules = new Set(["comment"])
const forwardOptions = new Set(["-d", "-i", "!-i", "-o", "!-o", "-p", "-m", "--dport", "--ctstate", "--comment", "-j"])
const forwardModules = new Set(["tcp", "udp", "conntrack", "comment"])
const established = "RELATED,ESTABLISHED"

/**
 * Reads the DNAT rules of `chain` from `iptables -t nat -S CHAIN`; other rules, and rules with more to them than the
 * driver writes, are left out.
 *
 * @since 0.1.0
 */
export const parseDnat = (output: string, chain: string): ReadonlyArray<DnatRule> =>
  rulesOf(output, chain, dnatOptions, dnatModules).flatMap((o): ReadonlyArray<DnatRule> => {
    const proto = o.get("-p")
    const hostPort = Number(o.get("--dport"))
    const destination = o.get("--to-destination")
    const comment = o.get("--comment")
    const address = o.get("-d")
    // One address (`/32`), as the driver writes it; a subnet is someone else's.
    if (address !== undefined && !address.endsWith("/32")) return []
    const hostIp = address?.slice(0, -3)
    if (o.get("-j") !== "DNAT" || (proto !== "tcp" && proto !== "udp") || !Number.isInteger(hostPort)) return []
    if (destination === undefined || comment === undefined) return []
    return [{ proto, ...(hostIp === undefined ? {} : { hostIp }), hostPort, destination, comment }]
  })

/**
 * Reads the MASQUERADE rules of `POSTROUTING` from `iptables -t nat -S POSTROUTING`; rules with more to them than the
 * driver writes are left out.
 *
 * @since 0.1.0
 */
export const parseMasquerade = (output: string): ReadonlyArray<MasqueradeRule> =>
  rulesOf(output, "POSTROUTING", masqueradeOptions, masqueradeModules).flatMap((o): ReadonlyArray<MasqueradeRule> => {
    const source = o.get("-s")
    const bridge = o.get("!-o")
    const comment = o.get("--comment")
    if (o.get("-j") !== "MASQUERADE" || source === undefined || bridge === undefined || comment === undefined) return []
    return [{ source, bridge, comment }]
  })

/** The options of each kind of forward rule but `-m`, `--comment` and `-j`, sorted: a rule has exactly these. */
const forwardShapes: ReadonlyArray<readonly [ForwardRule["kind"], string]> = [
  ["outbound", "!-o -i"],
  ["return", "--ctstate -o"],
  ["within", "-i -o"],
  ["reply", "!-o --ctstate -i"],
  ["port", "!-i --dport -d -o -p"]
]

/**
 * Reads the forward rules of the `filter` chain `chain` from `iptables -t filter -S`; other rules, and rules with more
 * to them than the driver writes (or with two different bridges), are left out.
 *
 * @since 0.1.0
 */
export const parseForward = (output: string, chain: string): ReadonlyArray<ForwardRule> =>
  rulesOf(output, chain, forwardOptions, forwardModules).flatMap((o): ReadonlyArray<ForwardRule> => {
    const comment = o.get("--comment")
    if (o.get("-j") !== "ACCEPT" || comment === undefined) return []
    const shape = [...o.keys()]
      .filter((k) => k !== "-m" && k !== "--comment" && k !== "-j")
      .sort()
      .join(" ")
    const kind = forwardShapes.find(([, keys]) => keys === shape)?.[0]
    const bridges = new Set(["-i", "!-i", "-o", "!-o"].flatMap((k) => (o.has(k) ? [o.get(k)!] : [])))
    const bridge = [...bridges][0]
    if (kind === undefined || bridge === undefined || bridges.size !== 1) return []
    const ctstate = o.get("--ctstate")
    if (ctstate !== undefined && ctstate !== established) return []
    if (kind !== "port") return [{ kind, bridge, comment }]
    const proto = o.get("-p")
    const port = Number(o.get("--dport"))
    const address = o.get("-d")!
    if ((proto !== "tcp" && proto !== "udp") || !Number.isInteger(port) || !address.endsWith("/32")) return []
    return [{ kind, bridge, destination: address.slice(0, -3), proto, port, comment }]
  })

const forwardArgs = (rule: ForwardRule): ReadonlyArray<string> => {
  const b = rule.bridge
  const match: ReadonlyArray<string> =
    rule.kind === "port"
      ? ["-d", rule.destination, "!", "-i", b, "-o", b, "-p", rule.proto, "--dport", String(rule.port)]
      : {
          outbound: ["-i", b, "!", "-o", b],
          return: ["-o", b, "-m", "conntrack", "--ctstate", established],
          within: ["-i", b, "-o", b],
          reply: ["-i", b, "!", "-o", b, "-m", "conntrack", "--ctstate", established]
        }[rule.kind]
  return [...match, "-m", "comment", "--comment", rule.comment, "-j", "ACCEPT"]
}

const dnatArgs = (rule: DnatRule): ReadonlyArray<string> => [
  "-p",
  rule.proto,
  ...(rule.hostIp === undefined ? [] : ["-d", rule.hostIp]),
  "--dport",
  String(rule.hostPort),
  "-m",
  "comment",
  "--comment",
  rule.comment,
  "-j",
  "DNAT",
  "--to-destination",
  rule.destination
]

const masqueradeArgs = (rule: MasqueradeRule): ReadonlyArray<string> => [
  "-s",
  rule.source,
  "!",
  "-o",
  rule.bridge,
  "-m",
  "comment",
  "--comment",
  rule.comment,
  "-j",
  "MASQUERADE"
]

/** The jumps to a chain: traffic to the host's own addresses, from outside and from the host itself. */
const jumps = (chain: string): ReadonlyArray<readonly [string, ReadonlyArray<string>]> => [
  ["PREROUTING", ["-m", "addrtype", "--dst-type", "LOCAL", "-j", chain]],
  // Not to loopback: DNAT of 127.0.0.1 to a container needs route_localnet, which a plugin does not turn on.
  ["OUTPUT", ["!", "-d", "127.0.0.0/8", "-m", "addrtype", "--dst-type", "LOCAL", "-j", chain]]
]

/**
 * Whether iptables' error output says the rule or chain to remove (or check) is not there: nft and legacy spell it
 * differently, and legacy iptables, asked to delete a jump to a chain that is gone (`-D FORWARD -j DPK-x-FWD`, a
 * chain removed behind the plugin's back), cannot even load the jump's target.
 *
 * @since 0.1.0
 */
export const isMissing = (reason: string): boolean =>
  /does a matching rule exist|Bad rule|No chain\/target\/match|does not exist|doesn't exist|Couldn't load target `[^']*':No such file or directory/.test(
    reason
  )

const missing = (e: NatError) => isMissing(e.reason)

/** Runs iptables on one table. */
type Run = (operation: string, name: string, args: ReadonlyArray<string>) => Effect.Effect<string, NatError>

/** Appends a rule unless the same rule is there (`-C` answers non-zero when it is not, or when the chain is missing). */
const ensureRule = (operation: string, name: string, chain: string, args: ReadonlyArray<string>, run: Run = iptables) =>
  run(operation, name, ["-C", chain, ...args]).pipe(
    Effect.catchIf(missing, () => run(operation, name, ["-A", chain, ...args])),
    Effect.asVoid
  )

/**
 * Deletes every copy of a rule: iptables appends a rule that is there already (by hand, or by another program
 * copying it) and `-D` deletes one copy per call; a copy left would keep sending the port to an old address.
 */
const removeRule = (operation: string, name: string, chain: string, args: ReadonlyArray<string>, run: Run = iptables) =>
  run(operation, name, ["-D", chain, ...args]).pipe(
    Effect.as(true),
    Effect.catchIf(missing, () => Effect.succeed(false)),
    // Bounded: an iptables that answered success without deleting would otherwise be run forever.
    Effect.repeat({ while: (deleted) => deleted, times: 64 }),
    Effect.asVoid
  )

/** Creates `chain` in the table `run` works on, unless it is there. */
const createChain = (chain: string, run: Run) =>
  run("create chain", chain, ["-N", chain]).pipe(
    Effect.catchIf(
      (e) => /already exists/.test(e.reason),
      () => Effect.succeed("")
    )
  )

/** Removes `chain` and its rules from the table `run` works on; one that is not there is fine. */
const deleteChain = (chain: string, run: Run) =>
  Effect.andThen(
    run("flush chain", chain, ["-F", chain]).pipe(Effect.catchIf(missing, () => Effect.succeed(""))),
    run("delete chain", chain, ["-X", chain]).pipe(Effect.catchIf(missing, () => Effect.succeed("")))
  )

/** Whether an `iptables -S` listing of a table holds `chain`. */
const hasChain = (output: string, chain: string) => output.split("\n").some((line) => line.trim() === `-N ${chain}`)

/** A forward rule as named in errors: its kind and bridge, and the port's destination. */
const forwardName = (rule: ForwardRule) =>
  rule.kind === "port"
    ? `${rule.bridge} ${rule.kind} ${rule.destination}:${rule.port}/${rule.proto}`
    : `${rule.bridge} ${rule.kind}`

/**
 * The service on the host.
 *
 * @since 0.1.0
 */
export const make: Service = Nat.of({
  check: Effect.asVoid(iptables("check", "nat table", ["-S", "PREROUTING"])),
  // The whole table, once: `-S CHAIN` of a missing chain fails with a message that differs between nft and legacy
  // (nft says the chain is "incompatible"), and the listing holds `POSTROUTING` too.
  list: (chain, commentPrefix, forwardChain) =>
    Effect.gen(function* () {
      const out = yield* iptables("list", chain, ["-S"])
      const filtered = yield* filter("list", forwardChain, ["-S"])
      return {
        dnat: hasChain(out, chain) ? parseDnat(out, chain) : undefined,
        masquerade: parseMasquerade(out).filter((r) => r.comment.startsWith(commentPrefix)),
        forward: hasChain(filtered, forwardChain) ? parseForward(filtered, forwardChain) : undefined
      }
    }),
  ensureChain: (chain) =>
    Effect.gen(function* () {
      yield* createChain(chain, iptables)
      for (const [from, args] of jumps(chain)) yield* ensureRule("add jump", `${from} -> ${chain}`, from, args)
    }),
  removeChain: (chain) =>
    Effect.gen(function* () {
      for (const [from, args] of jumps(chain)) yield* removeRule("remove jump", `${from} -> ${chain}`, from, args)
      yield* deleteChain(chain, iptables)
    }),
  addDnat: (chain, rule) => ensureRule("publish", `${rule.proto}/${rule.hostPort}`, chain, dnatArgs(rule)),
  removeDnat: (chain, rule) => removeRule("unpublish", `${rule.proto}/${rule.hostPort}`, chain, dnatArgs(rule)),
  addMasquerade: (rule) => ensureRule("masquerade", rule.source, "POSTROUTING", masqueradeArgs(rule)),
  removeMasquerade: (rule) => removeRule("stop masquerading", rule.source, "POSTROUTING", masqueradeArgs(rule)),
  ensureForwardChain: (chain) =>
    Effect.gen(function* () {
      yield* createChain(chain, filter)
      const rules = (yield* filter("add jump", `FORWARD -> ${chain}`, ["-S", "FORWARD"]))
        .split("\n")
        .flatMap((line) => (line.startsWith("-A FORWARD ") ? [line.slice("-A FORWARD ".length)] : []))
      const at = forwardJumpPosition(rules, chain)
      if (at !== undefined) yield* filter("add jump", `FORWARD -> ${chain}`, ["-I", "FORWARD", String(at), "-j", chain])
    }),
  removeForwardChain: (chain) =>
    Effect.gen(function* () {
      yield* removeRule("remove jump", `FORWARD -> ${chain}`, "FORWARD", ["-j", chain], filter)
      yield* deleteChain(chain, filter)
    }),
  addForward: (chain, rule) => ensureRule("accept forwarding", forwardName(rule), chain, forwardArgs(rule), filter),
  removeForward: (chain, rule) =>
    removeRule("stop accepting forwarding", forwardName(rule), chain, forwardArgs(rule), filter)
})

/**
 * The host Layer.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<Nat> = Layer.succeed(Nat, make)
