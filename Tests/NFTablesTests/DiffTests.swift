import NetworkTypes
import NFTables
import Testing

/// Old and new rulesets, the exact transaction between them, and proof that applying it
/// (in memory with the kernel's refusals, and through real nft when available) gives new.
struct DiffTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var old: Ruleset
        var new: Ruleset
        var commands: String
        var testDescription: String { name }
    }

    static let t = Fixtures.ip
    static func c(_ n: String) -> ChainID { ChainID(t, n) }
    static func key(_ ip: String, _ proto: UInt8, _ port: UInt16) -> [Value] { [.ipv4(Fixtures.v4(ip)), .proto(proto), .port(port)] }
    static func endpoint(_ chain: String, _ ip: String, _ proto: UInt8 = IPProtocol.tcp, port: UInt16 = 8080) -> Rule {
        Rule(c(chain), Match.l4proto(proto) + Statement.dnat(to: Fixtures.addr(ip), port: port))
    }

    static var base: Ruleset {
        Ruleset(
            tables: [Table(.ip, "sluice")],
            chains: [
                Chain(t, "prerouting", base: BaseChain(type: .nat, hook: .prerouting, priority: BaseChain.dstnat)),
                Chain(t, "svc-a"), Chain(t, "svc-b"),
            ],
            sets: [
                NFSet(t, "svc", key: [.ipv4Address, .inetProto, .inetService], data: .verdict, elements: [
                    SetElement(key("10.0.0.1", 6, 80), verdict: .goto("svc-a")),
                    SetElement(key("10.0.0.2", 6, 80), verdict: .goto("svc-b")),
                ])
            ],
            rules: [
                Rule(c("prerouting"), Statement.vmap(Fixtures.dispatch, .named("svc"))),
                endpoint("svc-a", "10.1.0.1"), endpoint("svc-b", "10.1.0.2"),
            ])
    }

    static func modified(_ change: (inout Ruleset) -> Void) -> Ruleset {
        var r = base
        change(&r)
        return r
    }

    static let cases: [Case] = [
        Case(name: "unchanged", old: base, new: base, commands: ""),
        Case(
            name: "a chain emptied behind our back (nft flush chain) gets its rules back",
            old: modified { $0.rules.removeAll { $0.chain.name == "svc-b" } },
            new: base,
            commands: "add rule ip sluice svc-b meta l4proto tcp dnat to 10.1.0.2:8080\n"),
        Case(
            name: "reordered but equal",
            old: base,
            new: modified {
                $0.chains.reverse()
                $0.sets[0].elements.reverse()
            },
            commands: ""),
        Case(
            name: "from empty",
            old: Ruleset(), new: base,
            commands: """
                add table ip sluice
                add chain ip sluice prerouting { type nat hook prerouting priority dstnat; policy accept; }
                add chain ip sluice svc-a
                add chain ip sluice svc-b
                add map ip sluice svc { type ipv4_addr . inet_proto . inet_service : verdict; elements = { 10.0.0.1 . tcp . 80 : goto svc-a, 10.0.0.2 . tcp . 80 : goto svc-b }; }
                add rule ip sluice prerouting ip daddr . meta l4proto . th dport vmap @svc
                add rule ip sluice svc-a meta l4proto tcp dnat to 10.1.0.1:8080
                add rule ip sluice svc-b meta l4proto tcp dnat to 10.1.0.2:8080

                """),
        Case(name: "to empty", old: base, new: Ruleset(), commands: "delete table ip sluice\n"),
        Case(
            name: "endpoint replaced",
            old: base,
            new: modified { $0.rules[1] = endpoint("svc-a", "10.1.0.9") },
            commands: """
                flush chain ip sluice svc-a
                add rule ip sluice svc-a meta l4proto tcp dnat to 10.1.0.9:8080

                """),
        Case(
            name: "element data changed, chain removed",
            old: base,
            new: modified {
                $0.sets[0].elements[1] = SetElement(key("10.0.0.2", 6, 80), verdict: .goto("svc-a"))
                $0.chains.removeLast()
                $0.rules.removeLast()
            },
            commands: """
                delete element ip sluice svc { 10.0.0.2 . tcp . 80 }
                flush chain ip sluice svc-b
                add element ip sluice svc { 10.0.0.2 . tcp . 80 : goto svc-a }
                delete chain ip sluice svc-b

                """),
        Case(
            name: "service added",
            old: base,
            new: modified {
                $0.chains.append(Chain(t, "svc-c", comment: "ns/c:dns"))
                $0.sets[0].elements.append(SetElement(key("10.0.0.3", 17, 53), verdict: .goto("svc-c"), comment: "ns/c:dns"))
                $0.rules.append(endpoint("svc-c", "10.1.0.3", IPProtocol.udp, port: 53))
            },
            commands: """
                add chain ip sluice svc-c { comment "ns/c:dns"; }
                add element ip sluice svc { 10.0.0.3 . udp . 53 comment "ns/c:dns" : goto svc-c }
                add rule ip sluice svc-c meta l4proto udp dnat to 10.1.0.3:53

                """),
        Case(
            name: "policy changed in place",
            old: base,
            new: modified { $0.chains[0].base?.policy = .drop },
            commands: "add chain ip sluice prerouting { type nat hook prerouting priority dstnat; policy drop; }\n"),
        Case(
            name: "map definition changed: re-created around its users",
            old: base,
            new: modified { $0.sets[0].comment = "dispatch" },
            commands: """
                flush chain ip sluice prerouting
                delete map ip sluice svc
                add map ip sluice svc { type ipv4_addr . inet_proto . inet_service : verdict; comment "dispatch"; elements = { 10.0.0.1 . tcp . 80 : goto svc-a, 10.0.0.2 . tcp . 80 : goto svc-b }; }
                add rule ip sluice prerouting ip daddr . meta l4proto . th dport vmap @svc

                """),
        Case(
            name: "chain comment changed: re-created, elements jumping to it moved",
            old: base,
            new: modified { $0.chains[1].comment = "ns/a:http" },
            commands: """
                delete element ip sluice svc { 10.0.0.1 . tcp . 80 }
                flush chain ip sluice svc-a
                delete chain ip sluice svc-a
                add chain ip sluice svc-a { comment "ns/a:http"; }
                add element ip sluice svc { 10.0.0.1 . tcp . 80 : goto svc-a }
                add rule ip sluice svc-a meta l4proto tcp dnat to 10.1.0.1:8080

                """),
        Case(
            name: "set removed with its user; another table added",
            old: modified {
                $0.sets.append(NFSet(t, "aff", key: [.ipv4Address], flags: [.dynamic], timeoutMillis: 10_800_000, size: 65535))
                $0.rules.insert(Rule(c("svc-a"), Statement.update("aff", [.ipSaddr], timeoutMillis: 10_800_000)), at: 1)
            },
            new: modified { $0.tables.append(Table(.ip6, "sluice", comment: "v6")) },
            commands: """
                add table ip6 sluice { comment "v6"; }
                flush chain ip sluice svc-a
                add rule ip sluice svc-a meta l4proto tcp dnat to 10.1.0.1:8080
                delete set ip sluice aff

                """),
        Case(
            name: "interval set elements",
            old: Ruleset(
                tables: [Table(.ip, "sluice")],
                sets: [NFSet(t, "nets", key: [.ipv4Address], flags: [.interval], elements: SetElement.intervals([
                    (Fixtures.prefix("10.0.0.0/8").address.bytes, Fixtures.prefix("10.0.0.0/8").end, nil),
                ]))]),
            new: Ruleset(
                tables: [Table(.ip, "sluice")],
                sets: [NFSet(t, "nets", key: [.ipv4Address], flags: [.interval], elements: SetElement.intervals([
                    (Fixtures.prefix("10.0.0.0/8").address.bytes, Fixtures.prefix("10.0.0.0/8").end, nil),
                    (Fixtures.prefix("192.168.0.0/16").address.bytes, Fixtures.prefix("192.168.0.0/16").end, nil),
                ]))]),
            commands: "add element ip sluice nets { 192.168.0.0/16 }\n"),
    ]

    @Test(arguments: cases)
    func commands(_ c: Case) {
        #expect(Ruleset.diff(from: c.old, to: c.new).nftText == c.commands)
    }

    @Test(arguments: cases)
    func applyingGivesNew(_ c: Case) throws {
        let tx = Ruleset.diff(from: c.old, to: c.new)
        #expect(try tx.validated().count == tx.commands.count)
        let applied = try c.old.applying(tx)
        #expect(applied.normalized == c.new.normalized)
        #expect(Ruleset.diff(from: applied, to: c.new).isEmpty)
    }

    /// The diff as an `nft -f` script, loaded over the old ruleset, lists as the new one
    /// (in the kernel's order: re-created objects move to the end, as `applying` models).
    @Test(.enabled(if: LiveNFT.isAvailable, "needs root and nft"), arguments: cases)
    func nftAcceptsTheScript(_ c: Case) throws {
        let tx = Ruleset.diff(from: c.old, to: c.new)
        let listed = try LiveNFT.load([c.old.nftText, tx.nftText].filter { !$0.isEmpty })
        #expect(listed == (try c.old.applying(tx)).nftText)
    }

    /// Affinity entries belong to the packet path: a sync neither deletes nor re-adds them.
    @Test func dynamicSetElementsAreNotDiffed() {
        let aff = NFSet(Self.t, "aff", key: [.ipv4Address], flags: [.dynamic], timeoutMillis: 10_800_000, size: 65535)
        var kernel = Self.base
        var withEntry = aff
        withEntry.elements = [SetElement([.ipv4(Fixtures.v4("192.0.2.1"))])]
        kernel.sets.append(withEntry)
        var desired = Self.base
        desired.sets.append(aff)
        #expect(Ruleset.diff(from: kernel, to: desired).isEmpty)
    }

    /// DESIGN.md requirement 3: one Service's change costs the same at 10,000 Services as at one.
    @Test func oneServiceChangeAtScale() throws {
        var old = Self.base
        for i in 0..<10_000 {
            let name = "svc-\(i)"
            old.chains.append(Chain(Self.t, name))
            old.sets[0].elements.append(SetElement(Self.key("10.\(i / 256 + 100).\(i % 256).1", 6, 80), verdict: .goto(name)))
            old.rules.append(Self.endpoint(name, "10.2.\(i / 256).\(i % 256)"))
        }
        var new = old
        new.rules[new.rules.count - 1] = Self.endpoint("svc-9999", "10.3.0.1")
        let tx = Ruleset.diff(from: old, to: new)
        #expect(tx.nftText == "flush chain ip sluice svc-9999\nadd rule ip sluice svc-9999 meta l4proto tcp dnat to 10.3.0.1:8080\n")
        #expect(old.nftText.split(separator: "\n").count > 30_000)
    }

    @Test func kernelRefusals() throws {
        var deleteUsed = Transaction()
        deleteUsed.append(.deleteSet(Self.t, "svc"))
        #expect(throws: ApplyError.self) { try Self.base.applying(deleteUsed) }

        var deleteJumpedTo = Transaction()
        deleteJumpedTo.append(.flushChain(Self.c("svc-a")))
        deleteJumpedTo.append(.deleteChain(Self.c("svc-a")))
        #expect(throws: ApplyError.self) { try Self.base.applying(deleteJumpedTo) }

        var overwrite = Transaction()
        overwrite.add([SetElement(Self.key("10.0.0.1", 6, 80), verdict: .goto("svc-b"))], to: "svc", in: Self.t)
        #expect(throws: ApplyError.self) { try Self.base.applying(overwrite) }

        var missing = Transaction()
        missing.delete([SetElement(Self.key("10.9.9.9", 6, 80))], from: "svc", in: Self.t)
        #expect(throws: ApplyError.self) { try Self.base.applying(missing) }
    }
}
