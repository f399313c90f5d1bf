/**
 * `Nat` on the host: `iptables -S` listings are read right, and (as root) every operation does what the driver
 * relies on, in a chain named for this test only, leaving the `nat` table as it found it.
 */
import { NatNode } from "@docker-plugin-kit/drivers"
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
    "creates a chain with its jumps, publishes, masquerades and removes it all, leaving the table as it was",
    () => {
      const suffix = Math.random().toString(16).slice(2, 10)
      const chain = `DPKT-${suffix}`
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
        expect((yield* nat.list(chain, `dpk test ${suffix} `)).dnat).toBeUndefined()
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
        expect((yield* nat.list(chain, `dpk test ${suffix} `)).dnat).toEqual([rule, everywhere])
        yield* nat.addMasquerade(masquerade)
        expect((yield* nat.list(chain, `dpk test ${suffix} `)).masquerade).toEqual([masquerade])
        yield* nat.removeDnat(chain, rule)
        yield* nat.removeDnat(chain, rule) // missing: fine
        expect((yield* nat.list(chain, `dpk test ${suffix} `)).dnat).toEqual([everywhere])
        yield* nat.removeMasquerade(masquerade)
        yield* nat.removeMasquerade(masquerade)
        yield* nat.removeChain(chain) // its rules go with it
        yield* nat.removeChain(chain) // missing: fine
        expect((yield* nat.list(chain, `dpk test ${suffix} `)).dnat).toBeUndefined()
      }).pipe(
        Effect.ensuring(Effect.ignore(Effect.andThen(nat.removeMasquerade(masquerade), nat.removeChain(chain)))),
        Effect.andThen(Effect.sync(() => expect(table()).toBe(before)))
      )
    }
  )

  it.live("removing a rule removes every copy of it (iptables appends duplicates and deletes one per call)", () => {
    const suffix = Math.random().toString(16).slice(2, 10)
    const chain = `DPKT-${suffix}`
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
      expect((yield* nat.list(chain, `dpk test ${suffix} `)).dnat).toEqual([rule, rule])
      expect((yield* nat.list(chain, `dpk test ${suffix} `)).masquerade).toEqual([masquerade, masquerade])
      yield* nat.removeDnat(chain, rule)
      expect((yield* nat.list(chain, `dpk test ${suffix} `)).dnat).toEqual([])
      yield* nat.removeMasquerade(masquerade)
      expect((yield* nat.list(chain, `dpk test ${suffix} `)).masquerade).toEqual([])
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
