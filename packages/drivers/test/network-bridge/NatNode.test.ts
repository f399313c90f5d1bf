/**
 * `Nat` on the host: `iptables -S` listings are read right, and (as root) every operation does what the driver
 * relies on, in a chain named for this test only, leaving the `nat` table as it found it.
 */
import { Nat, NatNode } from "@docker-plugin-kit/drivers"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"

const canRun =
  process.getuid?.() === 0 && ChildProcess.spawnSync(NatNode.iptablesPath, ["-w", "-t", "nat", "-S"]).status === 0
if (!canRun) console.warn("SKIPPING host NAT tests of network-bridge: they need root and iptables")

describe("NatNode listings", () => {
  it("reads DNAT rules of one chain, quoted comments included, and nothing else", () => {
    const output = [
      "-N DPK-0123abcd",
      '-A DPK-0123abcd -p tcp -m tcp --dport 8080 -m comment --comment "dpk 0123abcd e1" -j DNAT --to-destination 10.0.0.2:80',
      '-A DPK-0123abcd -d 192.168.1.5/32 -p udp -m udp --dport 5300 -m comment --comment "dpk 0123abcd \\"odd\\"" -j DNAT --to-destination 10.0.0.2:53',
      "-A DPK-0123abcd -p tcp -j RETURN",
      '-A DOCKER -p tcp -m tcp --dport 9000 -m comment --comment "dpk 0123abcd e9" -j DNAT --to-destination 10.0.0.9:80'
    ].join("\n")
    expect(NatNode.parseDnat(output, "DPK-0123abcd")).toEqual([
      { proto: "tcp", hostPort: 8080, destination: "10.0.0.2:80", comment: "dpk 0123abcd e1" },
      { proto: "udp", hostIp: "192.168.1.5", hostPort: 5300, destination: "10.0.0.2:53", comment: 'dpk 0123abcd "odd"' }
    ])
  })

  it("reads MASQUERADE rules of POSTROUTING with their bridge", () => {
    const output = [
      "-P POSTROUTING ACCEPT",
      '-A POSTROUTING -s 10.0.0.0/24 ! -o br-n1 -m comment --comment "dpk 0123abcd network n1" -j MASQUERADE',
      "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE"
    ].join("\n")
    expect(NatNode.parseMasquerade(output)).toEqual([
      { source: "10.0.0.0/24", bridge: "br-n1", comment: "dpk 0123abcd network n1" }
    ])
  })

  it("a rule with other matches, a negation or another chain is not read as one of the driver's", () => {
    // The driver writes exactly one shape per rule; a rule with more to it (someone's copy restricted to a source,
    // a negated address, a subnet, an option without a value, or a chain whose name starts like ours) is not its, so
    // start-up neither counts it as the driver's rule in place nor reads a narrower rule as the driver's.
    const dnat = (matches: string) =>
      `-A DPK-0123abcd ${matches} -m comment --comment "dpk 0123abcd e1" -j DNAT --to-destination 10.0.0.2:80`
    const output = [
      "-N DPK-0123abcd",
      dnat("-s 10.1.0.0/16 -p tcp -m tcp --dport 8080"),
      dnat("! -d 192.0.2.7/32 -p tcp -m tcp --dport 8080"),
      dnat("-d 192.0.2.0/24 -p tcp -m tcp --dport 8080"),
      dnat("-p tcp -m tcp ! --dport 8080"),
      dnat("-p tcp -m tcp --dport 8080 -m conntrack --ctstate NEW"),
      `${dnat("-p tcp -m tcp --dport 8080")} --random`,
      dnat("-p tcp -m tcp --dport 8080").replace("-A DPK-0123abcd ", "-A DPK-0123abcd0 ")
    ].join("\n")
    expect(NatNode.parseDnat(output, "DPK-0123abcd")).toEqual([])
    const masquerade = [
      '-A POSTROUTING -s 10.0.0.0/24 ! -o br-n1 -o eth1 -m comment --comment "dpk 0123abcd network n1" -j MASQUERADE',
      '-A POSTROUTING -s 10.0.0.0/24 ! -o br-n1 -p tcp -m comment --comment "dpk 0123abcd network n1" -j MASQUERADE',
      '-A POSTROUTING ! -s 10.0.0.0/24 ! -o br-n1 -m comment --comment "dpk 0123abcd network n1" -j MASQUERADE',
      '-A POSTROUTING -s 10.0.0.0/24 ! -o br-n1 -m comment --comment "dpk 0123abcd network n1" -j MASQUERADE --random'
    ].join("\n")
    expect(NatNode.parseMasquerade(masquerade)).toEqual([])
  })

  it("reads the forward rules of one filter chain, each kind in the shape the driver writes, and nothing else", () => {
    const c = (n: string) => `-m comment --comment "dpk 0123abcd ${n}" -j ACCEPT`
    const output = [
      "-P FORWARD DROP",
      "-N DPK-0123abcd-FWD",
      "-A FORWARD -j DOCKER-USER",
      "-A FORWARD -j DPK-0123abcd-FWD",
      `-A DPK-0123abcd-FWD -i br-n1 ! -o br-n1 ${c("network n1")}`,
      `-A DPK-0123abcd-FWD -o br-n1 -m conntrack --ctstate RELATED,ESTABLISHED ${c("network n1")}`,
      `-A DPK-0123abcd-FWD -i br-n1 -o br-n1 ${c("network n1")}`,
      `-A DPK-0123abcd-FWD -i br-n2 ! -o br-n2 -m conntrack --ctstate RELATED,ESTABLISHED ${c("network n2")}`,
      `-A DPK-0123abcd-FWD -d 10.0.0.2/32 ! -i br-n1 -o br-n1 -p tcp -m tcp --dport 80 ${c("e1")}`,
      // Not the driver's: another chain, another target, no comment, two bridges, another state, more matches.
      `-A FORWARD -i br-n1 ! -o br-n1 ${c("network n1")}`,
      `-A DPK-0123abcd-FWD -i br-n1 ! -o br-n1 -m comment --comment "dpk 0123abcd network n1" -j DROP`,
      "-A DPK-0123abcd-FWD -i br-n1 ! -o br-n1 -j ACCEPT",
      `-A DPK-0123abcd-FWD -i br-n1 -o br-n9 ${c("network n1")}`,
      `-A DPK-0123abcd-FWD -o br-n1 -m conntrack --ctstate NEW ${c("network n1")}`,
      `-A DPK-0123abcd-FWD -s 10.9.0.0/16 -i br-n1 ! -o br-n1 ${c("network n1")}`,
      `-A DPK-0123abcd-FWD -d 10.0.0.0/24 ! -i br-n1 -o br-n1 -p tcp -m tcp --dport 80 ${c("e1")}`,
      `-A DPK-0123abcd-FWD -d 10.0.0.2/32 -i br-n1 -o br-n1 -p tcp -m tcp --dport 80 ${c("e1")}`
    ].join("\n")
    expect(NatNode.parseForward(output, "DPK-0123abcd-FWD")).toEqual([
      { kind: "outbound", bridge: "br-n1", comment: "dpk 0123abcd network n1" },
      { kind: "return", bridge: "br-n1", comment: "dpk 0123abcd network n1" },
      { kind: "within", bridge: "br-n1", comment: "dpk 0123abcd network n1" },
      { kind: "reply", bridge: "br-n2", comment: "dpk 0123abcd network n2" },
      { kind: "port", bridge: "br-n1", destination: "10.0.0.2", proto: "tcp", port: 80, comment: "dpk 0123abcd e1" }
    ])
  })

  it("the jump to the forward chain goes right after the jump to DOCKER-USER, else at the top, and only once", () => {
    const chain = "DPK-0123abcd-FWD"
    expect(Nat.forwardJumpPosition([], chain)).toBe(1)
    expect(Nat.forwardJumpPosition(["-i br0 -j ACCEPT", "-j DOCKER-FORWARD"], chain)).toBe(1)
    expect(Nat.forwardJumpPosition(["-j DOCKER-USER", "-j DOCKER-FORWARD"], chain)).toBe(2)
    expect(Nat.forwardJumpPosition(["-i br0 -j ACCEPT", "-j DOCKER-USER", "-j DOCKER-FORWARD"], chain)).toBe(3)
    // There already, wherever it is: not moved, not added twice.
    expect(Nat.forwardJumpPosition(["-j DOCKER-USER", "-j DOCKER-FORWARD", `-j ${chain}`], chain)).toBeUndefined()
    // A jump with more to it is someone else's rule.
    expect(Nat.forwardJumpPosition([`-i br0 -j ${chain}`], chain)).toBe(1)
  })

  it("a rule, chain or jump target that is not there counts as missing, as nft and legacy iptables say it", () => {
    // Verbatim error output of iptables 1.8.9: deleting a jump to a chain that is gone (removed behind the plugin's
    // back) on legacy iptables fails loading the target, so removing the forward chain (or the nat chain) again
    // failed there, and with it every DeleteNetwork or DeleteEndpoint that removes the last rule.
    for (const reason of [
      "iptables v1.8.9 (legacy): Couldn't load target `DPK-0123abcd-FWD':No such file or directory\n\nTry `iptables -h' or 'iptables --help' for more information.",
      "iptables: No chain/target/match by that name.",
      "iptables v1.8.9 (nf_tables): Chain 'DPK-0123abcd-FWD' does not exist",
      "iptables: Bad rule (does a matching rule exist in that chain?)."
    ]) {
      expect(NatNode.isMissing(reason)).toBe(true)
    }
    for (const reason of ["iptables: Chain already exists.", "iptables: Permission denied (you must be root)."]) {
      expect(NatNode.isMissing(reason)).toBe(false)
    }
  })

  it.effect("a missing program is a failure saying what is missing", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(NatNode.iptables("check", "nat table", ["-S"], "/nonexistent/iptables"))
      expect(error.message).toBe(
        "check nat table: /nonexistent/iptables not found: publishing ports and masquerading need iptables on the host"
      )
    })
  )
})

describe.skipIf(!canRun)("NatNode on the host", () => {
  it.live(
    "a forward chain jumped to from FORWARD at the top (after DOCKER-USER), its rules, all removed, the table as it was",
    () => {
      const suffix = Math.random().toString(16).slice(2, 10)
      const chain = `DPKT-${suffix}`
      const fwd = `DPKT-${suffix}-FWD`
      const nat = NatNode.make
      const run = (args: ReadonlyArray<string>) =>
        ChildProcess.execFileSync(NatNode.iptablesPath, ["-w", "-t", "filter", ...args], { encoding: "utf8" })
      const forwardRules = () =>
        run(["-S", "FORWARD"])
          .split("\n")
          .filter((l) => l.startsWith("-A FORWARD "))
      const before = run(["-S"])
      const bridge = `dpkt-f${suffix.slice(0, 6)}`
      const comment = `dpk test ${suffix} network n1`
      const rules: ReadonlyArray<Nat.ForwardRule> = [
        { kind: "outbound", bridge, comment },
        { kind: "return", bridge, comment },
        { kind: "within", bridge, comment },
        { kind: "reply", bridge, comment },
        { kind: "port", bridge, destination: "10.254.77.2", proto: "udp", port: 53, comment: `dpk test ${suffix} e1` }
      ]
      // Someone else's rule at the top of FORWARD (for an interface that does not exist): the jump goes above it,
      // unless the host has a DOCKER-USER jump, which stays above the jump.
      const foreign = ["-i", bridge, "-m", "comment", "--comment", `dpk test ${suffix} someone`, "-j", "ACCEPT"]
      return Effect.gen(function* () {
        run(["-I", "FORWARD", "1", ...foreign])
        expect((yield* nat.list(chain, `dpk test ${suffix} `, fwd)).forward).toBeUndefined()
        yield* nat.ensureForwardChain(fwd)
        yield* nat.ensureForwardChain(fwd) // there already: fine, no second jump
        const jumps = forwardRules().filter((l) => l === `-A FORWARD -j ${fwd}`)
        expect(jumps).toHaveLength(1)
        const all = forwardRules()
        const user = all.indexOf("-A FORWARD -j DOCKER-USER")
        expect(all.indexOf(`-A FORWARD -j ${fwd}`)).toBe(user + 1)
        for (const rule of rules) yield* nat.addForward(fwd, rule)
        yield* nat.addForward(fwd, rules[0]!) // there already: fine
        expect((yield* nat.list(chain, `dpk test ${suffix} `, fwd)).forward).toEqual(rules)
        expect(run(["-S", fwd])).toBe(
          [
            `-N ${fwd}`,
            `-A ${fwd} -i ${bridge} ! -o ${bridge} -m comment --comment "${comment}" -j ACCEPT`,
            `-A ${fwd} -o ${bridge} -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "${comment}" -j ACCEPT`,
            `-A ${fwd} -i ${bridge} -o ${bridge} -m comment --comment "${comment}" -j ACCEPT`,
            `-A ${fwd} -i ${bridge} ! -o ${bridge} -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment "${comment}" -j ACCEPT`,
            `-A ${fwd} -d 10.254.77.2/32 ! -i ${bridge} -o ${bridge} -p udp -m udp --dport 53 -m comment --comment "dpk test ${suffix} e1" -j ACCEPT`,
            ""
          ].join("\n")
        )
        yield* nat.removeForward(fwd, rules[4]!)
        yield* nat.removeForward(fwd, rules[4]!) // missing: fine
        expect((yield* nat.list(chain, `dpk test ${suffix} `, fwd)).forward).toEqual(rules.slice(0, 4))
        yield* nat.removeForwardChain(fwd) // its rules go with it
        yield* nat.removeForwardChain(fwd) // missing: fine
        yield* nat.removeForward(fwd, rules[0]!) // no chain: fine
        expect((yield* nat.list(chain, `dpk test ${suffix} `, fwd)).forward).toBeUndefined()
        expect(forwardRules().filter((l) => l.includes(fwd))).toEqual([])
      }).pipe(
        Effect.ensuring(
          Effect.andThen(
            Effect.ignore(nat.removeForwardChain(fwd)),
            Effect.sync(() => ChildProcess.spawnSync(NatNode.iptablesPath, ["-w", "-D", "FORWARD", ...foreign]))
          )
        ),
        Effect.andThen(Effect.sync(() => expect(run(["-S"])).toBe(before)))
      )
    }
  )

  it.live(
    "creates a chain with its jumps, publishes, masquerades and removes it all, leaving the table as it was",
    () => {
      const suffix = Math.random().toString(16).slice(2, 10)
      const chain = `DPKT-${suffix}`
      const fwd = `DPKT-${suffix}-FWD`
      const nat = NatNode.make
      const table = () =>
        ChildProcess.execFileSync(NatNode.iptablesPath, ["-w", "-t", "nat", "-S"], { encoding: "utf8" })
      const before = table()
      const rule = {
        proto: "tcp" as const,
        hostIp: "192.0.2.7",
        hostPort: 40000 + Math.floor(Math.random() * 20000),
        destination: "10.254.78.2:80",
        comment: `dpk test ${suffix} e1`
      }
      const masquerade = {
        source: "10.254.78.0/24",
        bridge: `dpkt-m${suffix.slice(0, 6)}`,
        comment: `dpk test ${suffix} network n1`
      }
      return Effect.gen(function* () {
        yield* nat.check
        expect((yield* nat.list(chain, `dpk test ${suffix} `, fwd)).dnat).toBeUndefined()
        yield* nat.ensureChain(chain)
        yield* nat.ensureChain(chain) // there already: fine, no second jump
        expect(
          table()
            .split("\n")
            .filter((l) => l.endsWith(`-j ${chain}`))
        ).toEqual([
          `-A PREROUTING -m addrtype --dst-type LOCAL -j ${chain}`,
          `-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j ${chain}`
        ])
        yield* nat.addDnat(chain, rule)
        yield* nat.addDnat(chain, rule) // there already: fine
        const { hostIp: _, ...everywhere } = { ...rule, proto: "udp" as const }
        yield* nat.addDnat(chain, everywhere)
        expect((yield* nat.list(chain, `dpk test ${suffix} `, fwd)).dnat).toEqual([rule, everywhere])
        yield* nat.addMasquerade(masquerade)
        expect((yield* nat.list(chain, `dpk test ${suffix} `, fwd)).masquerade).toEqual([masquerade])
        yield* nat.removeDnat(chain, rule)
        yield* nat.removeDnat(chain, rule) // missing: fine
        expect((yield* nat.list(chain, `dpk test ${suffix} `, fwd)).dnat).toEqual([everywhere])
        yield* nat.removeMasquerade(masquerade)
        yield* nat.removeMasquerade(masquerade)
        yield* nat.removeChain(chain) // its rules go with it
        yield* nat.removeChain(chain) // missing: fine
        expect((yield* nat.list(chain, `dpk test ${suffix} `, fwd)).dnat).toBeUndefined()
      }).pipe(
        Effect.ensuring(Effect.ignore(Effect.andThen(nat.removeMasquerade(masquerade), nat.removeChain(chain)))),
        Effect.andThen(Effect.sync(() => expect(table()).toBe(before)))
      )
    }
  )

  it.live("removing a rule removes every copy of it (iptables appends duplicates and deletes one per call)", () => {
    const suffix = Math.random().toString(16).slice(2, 10)
    const chain = `DPKT-${suffix}`
    const fwd = `DPKT-${suffix}-FWD`
    const nat = NatNode.make
    const run = (args: ReadonlyArray<string>) =>
      ChildProcess.execFileSync(NatNode.iptablesPath, ["-w", "-t", "nat", ...args], { encoding: "utf8" })
    const table = () => run(["-S"])
    const before = table()
    const rule = {
      proto: "tcp" as const,
      hostPort: 40000 + Math.floor(Math.random() * 20000),
      destination: "10.254.79.2:80",
      comment: `dpk test ${suffix} e1`
    }
    const masquerade = {
      source: "10.254.79.0/24",
      bridge: `dpkt-d${suffix.slice(0, 6)}`,
      comment: `dpk test ${suffix} network n1`
    }
    return Effect.gen(function* () {
      yield* nat.ensureChain(chain)
      // Copies appended behind the driver's back (by hand, or by another program copying the rule).
      const dnatArgs = ["-p", "tcp", "--dport", String(rule.hostPort), "-m", "comment", "--comment", rule.comment]
      for (let i = 0; i < 2; i++) {
        run(["-A", chain, ...dnatArgs, "-j", "DNAT", "--to-destination", rule.destination])
        run(
          ["-A", "POSTROUTING", "-s", masquerade.source, "!", "-o", masquerade.bridge, "-m", "comment"].concat([
            "--comment",
            masquerade.comment,
            "-j",
            "MASQUERADE"
          ])
        )
      }
      expect((yield* nat.list(chain, `dpk test ${suffix} `, fwd)).dnat).toEqual([rule, rule])
      expect((yield* nat.list(chain, `dpk test ${suffix} `, fwd)).masquerade).toEqual([masquerade, masquerade])
      yield* nat.removeDnat(chain, rule)
      expect((yield* nat.list(chain, `dpk test ${suffix} `, fwd)).dnat).toEqual([])
      yield* nat.removeMasquerade(masquerade)
      expect((yield* nat.list(chain, `dpk test ${suffix} `, fwd)).masquerade).toEqual([])
      yield* nat.removeChain(chain)
    }).pipe(
      Effect.ensuring(
        Effect.ignore(
          Effect.andThen(
            Effect.forEach([1, 2, 3], () => Effect.ignore(nat.removeMasquerade(masquerade))),
            nat.removeChain(chain)
          )
        )
      ),
      Effect.andThen(Effect.sync(() => expect(table()).toBe(before)))
    )
  })
})
