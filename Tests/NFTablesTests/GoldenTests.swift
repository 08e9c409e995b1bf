import NetworkTypes
import NFTables
import Testing

/// Golden texts: every expected string below is what `nft list ruleset` (nft 1.0.6) printed
/// after loading the equivalent nft input (the input is in each case's comment where it
/// differs from the output), and the models are built the way nft builds them (checked
/// against `nft --debug=netlink`).
struct GoldenTests {
    @Test func sluiceRuleset() {
        #expect(Fixtures.sluice.nftText == Golden.sluice)
    }

    @Test func sluiceRulesetIPv6() {
        #expect(Fixtures.sluice6.nftText == Golden.sluice6)
    }

    @Test(arguments: RuleCase.ip.indices)
    func ipRule(_ i: Int) {
        let c = RuleCase.ip[i]
        #expect(Rule(ChainID(Fixtures.ip, "c"), c.expressions, comment: c.comment).nftStatementText == c.text)
    }

    @Test(arguments: RuleCase.ip6.indices)
    func ip6Rule(_ i: Int) {
        let c = RuleCase.ip6[i]
        #expect(Rule(ChainID(Fixtures.ip6, "c"), c.expressions, comment: c.comment).nftStatementText == c.text)
    }

    @Test func typeofMap() {
        #expect(Fixtures.typeofBackends.nftText == """
            table ip sluice {
            \tmap backends {
            \t\ttypeof ip daddr . meta l4proto . th dport . numgen random mod 2 : ip daddr . th dport
            \t\telements = { 10.0.0.1 . tcp . 80 . 0 : 10.1.0.1 . 8080,
            \t\t\t     10.0.0.1 . tcp . 80 . 1 : 10.1.0.2 . 8080 }
            \t}

            \tchain ep2 {
            \t\tdnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @backends
            \t}
            }

            """)
    }

    @Test func setsAndElements() {
        #expect(Golden.setsRuleset.nftText == Golden.sets)
    }

    @Test func chainsAndPriorities() {
        #expect(Golden.chainsRuleset.nftText == Golden.chains)
    }

    @Test func emptyTable() {
        #expect(Ruleset(tables: [Table(.ip, "empty")]).nftText == "table ip empty {\n}\n")
    }

    /// Expressions nothing generates still print, the same way every time.
    @Test(arguments: [
        ([Expression.unknown("xt")], "[unknown xt]"),
        ([.cmp(.eq, .r1, [1, 2])], "reg 1 == 0x0102"),
        ([.payload(base: .network, offset: 0, length: 1, into: .r1), .cmp(.eq, .r1, [0x45])], "@nh,0,8 0x45"),
        ([.payload(base: .network, offset: 16, length: 4, into: .r1)], "ip daddr"),
        ([.meta(.mark, into: .r1), .meta(.l4proto, into: .r1), .verdict(.accept)], "accept meta mark meta l4proto"),
        ([.lookup(from: .r3, set: .named("s"), into: nil, invert: false)], "reg 3 @s"),
        ([.metaSet(.mark, from: .r2)], "meta mark set reg ?"),
    ])
    func unknownPatterns(_ expressions: [Expression], _ text: String) {
        let rule = Rule(ChainID(Fixtures.ip, "c"), expressions)
        #expect(rule.nftStatementText == text)
        #expect(rule.nftStatementText == rule.nftStatementText)
    }
}

struct RuleCase: Sendable {
    var text: String
    var expressions: [Expression]
    var comment: String? = nil
    /// Whether nft, loading `text`, builds `expressions` again. Not when nft moved a protocol
    /// match: its listing hides the match, and re-loading puts it next to the header field.
    var reloads = true

    init(_ text: String, _ expressions: [Expression], comment: String? = nil, reloads: Bool = true) {
        self.text = text
        self.expressions = expressions
        self.comment = comment
        self.reloads = reloads
    }

    static let t = Fixtures.ip
    static let tcp = IPProtocol.tcp
    static func a(_ s: String) -> Value { .ipv4(Fixtures.v4(s)) }
    static func vmap(_ table: TableID, _ key: TypeList, _ pairs: [([Value], Verdict)]) -> SetReference {
        .anonymous(NFSet.anonymous(table, key: key, data: .verdict, elements: pairs.map { SetElement($0.0, verdict: $0.1) }))
    }
    static func set(_ key: TypeList, _ values: [[Value]]) -> SetReference {
        .anonymous(NFSet.anonymous(t, key: key, elements: values.map { SetElement($0) }))
    }
    static let accept: [Expression] = [.verdict(.accept)]
    static let drop: [Expression] = [.verdict(.drop)]
    static let ret: [Expression] = [.verdict(.return)]
    static func mark(_ v: UInt32) -> [UInt8] { Value.u32(v).bytes }

    static let ip: [RuleCase] = [
        RuleCase("tcp dport 80 accept", Match.compare(.dport(tcp), .eq, .port(80)) + accept),
        RuleCase("udp sport 53 drop", Match.l4proto(IPProtocol.udp) + Match.compare(.thSport, .eq, .port(53)) + drop),
        // meta l4proto tcp th dport 80 accept
        RuleCase("tcp dport 80 accept", Match.l4proto(tcp) + Match.compare(.thDport, .eq, .port(80)) + accept),
        RuleCase("meta l4proto udp", Match.l4proto(IPProtocol.udp)),
        RuleCase("ip protocol tcp", [.payload(base: .network, offset: 9, length: 1, into: .r1), .cmp(.eq, .r1, [tcp])]),
        RuleCase("th dport 80", Match.compare(.thDport, .eq, .port(80))),
        RuleCase(
            "ip saddr 10.0.0.0/8 ip daddr != 10.0.0.0/16 accept",
            Match.prefix(.ipSaddr, Fixtures.prefix("10.0.0.0/8")) + Match.prefix(.ipDaddr, Fixtures.prefix("10.0.0.0/16"), .neq) + accept),
        RuleCase("ip saddr 10.0.0.0/12 accept", Match.prefix(.ipSaddr, Fixtures.prefix("10.0.0.0/12")) + accept),
        // ip saddr 10.1.2.3/32 accept
        RuleCase("ip saddr 10.1.2.3 accept", Match.prefix(.ipSaddr, Fixtures.prefix("10.1.2.3/32")) + accept),
        RuleCase("ip saddr != 10.1.2.3 accept", Match.compare(.ipSaddr, .neq, a("10.1.2.3")) + accept),
        RuleCase("ip saddr @aff accept", Match.inSet([.ipSaddr], .named("aff")) + accept),
        RuleCase("ip saddr != @aff accept", Match.inSet([.ipSaddr], .named("aff"), invert: true) + accept),
        RuleCase("ip saddr { 10.0.0.1, 10.0.0.2 } accept", Match.inSet([.ipSaddr], set([.ipv4Address], [[a("10.0.0.2")], [a("10.0.0.1")]])) + accept),
        RuleCase("tcp dport { 80, 443 } accept", Match.inSet([.dport(tcp)], set([.inetService], [[.port(443)], [.port(80)]])) + accept),
        RuleCase(
            "ip daddr . tcp dport { 10.0.0.1 . 80, 10.0.0.2 . 443 } accept",
            Match.inSet([.ipDaddr, .dport(tcp)], set([.ipv4Address, .inetService], [[a("10.0.0.1"), .port(80)], [a("10.0.0.2"), .port(443)]])) + accept),
        RuleCase("ip daddr . meta l4proto . th dport vmap @svc", Statement.vmap(Fixtures.dispatch, .named("svc"))),
        RuleCase("ip daddr . meta l4proto . th dport != @svc return", Match.inSet(Fixtures.dispatch, .named("svc"), invert: true) + ret),
        // meta mark & 0x4000 == 0 return
        RuleCase(
            "meta mark & 0x00004000 == 0x00000000 return",
            [.meta(.mark, into: .r1), .bitwise(from: .r1, into: .r1, length: 4, mask: mark(0x4000), xor: mark(0)), .cmp(.eq, .r1, mark(0))] + ret),
        RuleCase("meta mark & 0x00004000 != 0x00004000 return", Match.markBits(0x4000, set: false) + ret),
        RuleCase("meta mark 0x00004000 accept", Match.compare(.mark, .eq, .u32(0x4000)) + accept),
        RuleCase("meta mark set 0x00004000", [.immediate(mark(0x4000), into: .r1), .metaSet(.mark, from: .r1)]),
        RuleCase(
            "meta mark set meta mark & 0xffffbfff",
            [.meta(.mark, into: .r1), .bitwise(from: .r1, into: .r1, length: 4, mask: mark(0xffff_bfff), xor: mark(0)), .metaSet(.mark, from: .r1)]),
        RuleCase(
            "meta mark set meta mark ^ 0x00004000",
            [.meta(.mark, into: .r1), .bitwise(from: .r1, into: .r1, length: 4, mask: mark(0xffff_ffff), xor: mark(0x4000)), .metaSet(.mark, from: .r1)]),
        RuleCase("meta mark set meta mark | 0x00004000 counter packets 0 bytes 0", Statement.setMarkBits(0x4000) + [.counter]),
        // meta mark set meta mark & 0xffff00ff ^ 0x100
        RuleCase(
            "meta mark set meta mark & 0xffff01ff | 0x00000100",
            [.meta(.mark, into: .r1), .bitwise(from: .r1, into: .r1, length: 4, mask: mark(0xffff_00ff), xor: mark(0x100)), .metaSet(.mark, from: .r1)]),
        RuleCase("ct state established,related accept", Match.ctState([.established, .related]) + accept),
        RuleCase("ct state invalid drop", Match.ctState(.invalid) + drop),
        RuleCase("ct state != new drop", [.ct(.state, direction: nil, into: .r1), .cmp(.neq, .r1, mark(8))] + drop),
        RuleCase("ct direction reply accept", [.ct(.direction, direction: nil, into: .r1), .cmp(.eq, .r1, [1])] + accept),
        RuleCase(
            "ct status dnat accept",
            [.ct(.status, direction: nil, into: .r1), .bitwise(from: .r1, into: .r1, length: 4, mask: mark(32), xor: mark(0)), .cmp(.neq, .r1, mark(0))] + accept),
        RuleCase("fib daddr type local accept", Match.fibDaddrType(.local) + accept),
        RuleCase("fib daddr type != local accept", Match.fibDaddrType(.local, .neq) + accept),
        // numgen random mod 3 offset 5 vmap { 5 : goto c, 6 : goto c, 7 : drop }
        RuleCase(
            "numgen random mod 3 offset 5 vmap { 5 : goto c, 6 : goto c, 7 : drop }",
            [.numgen(.random, modulus: 3, offset: 5, into: .r1),
             .lookup(from: .r1, set: vmap(t, [.integer32], [([.u32(5)], .goto("c")), ([.u32(6)], .goto("c")), ([.u32(7)], .drop)]), into: .verdict, invert: false)]),
        RuleCase(
            "numgen inc mod 3 vmap { 0 : goto c }",
            [.numgen(.incremental, modulus: 3, offset: 0, into: .r1), .lookup(from: .r1, set: vmap(t, [.integer32], [([.u32(0)], .goto("c"))]), into: .verdict, invert: false)]),
        RuleCase("numgen random mod 2 vmap { 0 : goto a, 1 : goto b }", Statement.numgenVmap(t, [.goto("a"), .goto("b")])),
        RuleCase(
            "jhash ip saddr . tcp sport mod 2 seed 0x0 vmap { 0 : goto c, 1 : drop }",
            Match.l4proto(tcp) + [
                .payload(base: .network, offset: 12, length: 4, into: .r2), .payload(base: .transport, offset: 0, length: 2, into: .r32(5)),
                .hash(.jenkins, from: .r2, length: 8, modulus: 2, seed: 0, offset: 0, into: .r1),
                .lookup(from: .r1, set: vmap(t, [.integer32], [([.u32(0)], .goto("c")), ([.u32(1)], .drop)]), into: .verdict, invert: false),
            ]),
        RuleCase(
            "jhash ip saddr mod 2 seed 0xdeadbeef offset 3 vmap { 3 : goto c }",
            [.payload(base: .network, offset: 12, length: 4, into: .r2), .hash(.jenkins, from: .r2, length: 4, modulus: 2, seed: 0xdead_beef, offset: 3, into: .r1),
             .lookup(from: .r1, set: vmap(t, [.integer32], [([.u32(3)], .goto("c"))]), into: .verdict, invert: false)]),
        RuleCase("jhash ip saddr mod 2 seed 0x2a vmap { 0 : goto a, 1 : goto b }", Statement.jhashVmap(t, .ipSaddr, seed: 42, [.goto("a"), .goto("b")])),
        RuleCase(
            "symhash mod 3 offset 1 vmap { 1 : goto c }",
            [.hash(.symmetric, from: nil, length: 0, modulus: 3, seed: 0, offset: 1, into: .r1),
             .lookup(from: .r1, set: vmap(t, [.integer32], [([.u32(1)], .goto("c"))]), into: .verdict, invert: false)]),
        RuleCase("jump c", [.verdict(.jump("c"))]),
        RuleCase("goto c", [.verdict(.goto("c"))]),
        RuleCase("return", ret),
        RuleCase("continue", [.verdict(.continue)]),
        RuleCase("reject", Statement.reject(.ip)),
        RuleCase("reject with icmp admin-prohibited", [.reject(.icmpUnreachable, code: 13)]),
        // meta l4proto tcp reject with tcp reset
        RuleCase("reject with tcp reset", Match.l4proto(tcp) + Statement.rejectTCPReset),
        RuleCase("add @aff { ip saddr }", [.payload(base: .network, offset: 12, length: 4, into: .r1), .dynset(.add, key: .r1, data: nil, set: "aff", timeoutMillis: nil)]),
        RuleCase("update @aff { ip saddr }", Statement.update("aff", [.ipSaddr], timeoutMillis: nil)),
        // update @aff { ip saddr timeout 90s }
        RuleCase("update @aff { ip saddr timeout 1m30s }", Statement.update("aff", [.ipSaddr], timeoutMillis: 90_000)),
        RuleCase("dnat to 10.0.0.1", Statement.dnat(to: Fixtures.addr("10.0.0.1"))),
        RuleCase("meta l4proto tcp dnat to 10.0.0.1:80", Match.l4proto(tcp) + Statement.dnat(to: Fixtures.addr("10.0.0.1"), port: 80)),
        RuleCase("tcp dport 80 dnat to 10.0.0.1:8080", Match.compare(.dport(tcp), .eq, .port(80)) + Statement.dnat(to: Fixtures.addr("10.0.0.1"), port: 8080)),
        RuleCase(
            "snat to 10.0.0.1",
            [.immediate(Fixtures.addr("10.0.0.1").bytes, into: .r1), .nat(.snat, family: .ip, addressMin: .r1, addressMax: nil, portMin: nil, portMax: nil, flags: [])]),
        RuleCase("dnat to ip daddr map @dm", Statement.dnatMap(.ip, [.ipDaddr], .named("dm")).dropLast() + [
            .nat(.dnat, family: .ip, addressMin: .r1, addressMax: nil, portMin: nil, portMax: nil, flags: []),
        ]),
        RuleCase("dnat ip to ip daddr . meta l4proto . th dport map @backends", Statement.dnatMap(.ip, Fixtures.dispatch, .named("backends"))),
        RuleCase("masquerade", Statement.masquerade()),
        RuleCase("masquerade random", [.masquerade(flags: .protoRandom, portMin: nil, portMax: nil)]),
        RuleCase("masquerade fully-random,persistent", [.masquerade(flags: [.protoRandomFully, .persistent], portMin: nil, portMax: nil)]),
        RuleCase("masquerade random,persistent", [.masquerade(flags: [.protoRandom, .persistent], portMin: nil, portMax: nil)]),
        RuleCase("counter packets 0 bytes 0 accept comment \"with comment\"", [.counter] + accept, comment: "with comment"),
        RuleCase(
            "iifname \"eth0\" oifname \"lo\" accept",
            [.meta(.iifname, into: .r1), .cmp(.eq, .r1, Array("eth0".utf8) + [UInt8](repeating: 0, count: 12)),
             .meta(.oifname, into: .r1), .cmp(.eq, .r1, Array("lo".utf8) + [UInt8](repeating: 0, count: 14))] + accept),
        // meta l4proto tcp ip daddr 10.0.0.1 tcp dport 80 accept
        RuleCase(
            "ip daddr 10.0.0.1 tcp dport 80 accept",
            Match.l4proto(tcp) + Match.compare(.ipDaddr, .eq, a("10.0.0.1")) + Match.compare(.thDport, .eq, .port(80)) + accept,
            reloads: false),
        RuleCase(
            "tcp dport 80-90 accept",
            Match.l4proto(tcp) + [.payload(base: .transport, offset: 2, length: 2, into: .r1), .cmp(.gte, .r1, [0, 80]), .cmp(.lte, .r1, [0, 90])] + accept),
        RuleCase("tcp dport != 80 accept", Match.compare(.dport(tcp), .neq, .port(80)) + accept),
        RuleCase("tcp dport < 1024 accept", Match.compare(.dport(tcp), .lt, .port(1024)) + accept),
        RuleCase("tcp dport >= 1024 accept", Match.compare(.dport(tcp), .gte, .port(1024)) + accept),
        RuleCase(
            "ip daddr 10.0.0.1-10.0.0.9 accept",
            [.payload(base: .network, offset: 16, length: 4, into: .r1), .cmp(.gte, .r1, [10, 0, 0, 1]), .cmp(.lte, .r1, [10, 0, 0, 9])] + accept),
        RuleCase(
            "meta l4proto { tcp, udp } th dport 53 accept",
            Match.inSet([.l4proto], set([.inetProto], [[.proto(IPProtocol.udp)], [.proto(tcp)]])) + Match.compare(.thDport, .eq, .port(53)) + accept),
        RuleCase(
            "ip saddr . ip daddr vmap { 10.0.0.1 . 10.0.0.2 : accept }",
            Statement.vmap([.ipSaddr, .ipDaddr], vmap(t, [.ipv4Address, .ipv4Address], [([a("10.0.0.1"), a("10.0.0.2")], .accept)]))),
        RuleCase(
            "fib daddr type local meta l4proto . th dport vmap { tcp . 30000 : goto svc-a } comment \"hi\"",
            Match.fibDaddrType(.local) + Statement.vmap([.l4proto, .thDport], vmap(t, [.inetProto, .inetService], [([.proto(tcp), .port(30000)], .goto("svc-a"))])),
            comment: "hi"),
        RuleCase("ct state new ct direction original accept", Match.ctState(.new) + [.ct(.direction, direction: nil, into: .r1), .cmp(.eq, .r1, [0])] + accept),
    ]

    /// Every case as one loadable ruleset: a regular chain `d` holding the rules, and the
    /// chains and sets they refer to.
    static let rulesets: [String: Ruleset] = [
        "rule cases ip": Ruleset(
            tables: [Table(.ip, "sluice")],
            chains: ["a", "b", "c", "svc-a", "d"].map { Chain(t, $0) },
            sets: [
                NFSet(t, "aff", key: [.ipv4Address], flags: [.dynamic], timeoutMillis: 10_800_000, size: 65535),
                NFSet(t, "svc", key: [.ipv4Address, .inetProto, .inetService], data: .verdict),
                NFSet(t, "dm", key: [.ipv4Address], data: .value([.ipv4Address])),
                NFSet(t, "backends", key: [.ipv4Address, .inetProto, .inetService], data: .value([.ipv4Address, .inetService])),
            ],
            rules: ip.filter(\.reloads).map { Rule(ChainID(t, "d"), $0.expressions, comment: $0.comment) }),
        "rule cases ip6": Ruleset(
            tables: [Table(.ip6, "sluice")],
            chains: [Chain(t6, "d")],
            sets: [
                NFSet(t6, "svc6", key: [.ipv6Address, .inetProto, .inetService], data: .verdict),
                NFSet(t6, "bk6", key: [.ipv6Address, .inetProto, .inetService, .mark], data: .value([.ipv6Address, .inetService])),
            ],
            rules: ip6.map { Rule(ChainID(t6, "d"), $0.expressions, comment: $0.comment) }),
    ]

    static let t6 = Fixtures.ip6
    static func a6(_ s: String) -> IPAddress { .v6(Fixtures.v6(s)) }

    static let ip6: [RuleCase] = [
        RuleCase("ip6 daddr . meta l4proto . th dport vmap @svc6", Statement.vmap([.ip6Daddr, .l4proto, .thDport], .named("svc6"))),
        RuleCase("ip6 saddr fd00::/64 accept", Match.prefix(.ip6Saddr, Fixtures.prefix("fd00::/64")) + accept),
        RuleCase("ip6 saddr fd00::/60 accept", Match.prefix(.ip6Saddr, Fixtures.prefix("fd00::/60")) + accept),
        RuleCase("ip6 daddr fd00::1 accept", Match.compare(.ip6Daddr, .eq, .ipv6(Fixtures.v6("fd00::1"))) + accept),
        RuleCase("reject", Statement.reject(.ip6)),
        RuleCase("reject with icmpv6 admin-prohibited", [.reject(.icmpUnreachable, code: 1)]),
        RuleCase("reject with icmpv6 addr-unreachable", [.reject(.icmpUnreachable, code: 3)]),
        RuleCase("reject with tcp reset", Match.l4proto(tcp) + Statement.rejectTCPReset),
        RuleCase("dnat to fd00::1", Statement.dnat(to: a6("fd00::1"))),
        RuleCase("meta l4proto tcp dnat to [fd00::1]:80", Match.l4proto(tcp) + Statement.dnat(to: a6("fd00::1"), port: 80)),
        RuleCase(
            "snat to fd00::1",
            [.immediate(a6("fd00::1").bytes, into: .r1), .nat(.snat, family: .ip6, addressMin: .r1, addressMax: nil, portMin: nil, portMax: nil, flags: [])]),
        RuleCase("masquerade", Statement.masquerade()),
        RuleCase(
            "dnat ip6 to ip6 daddr . meta l4proto . th dport . meta mark map @bk6",
            Statement.dnatMap(.ip6, [.ip6Daddr, .l4proto, .thDport, .mark], .named("bk6"))),
        RuleCase("jhash ip6 saddr mod 2 seed 0x1 vmap { 0 : accept, 1 : drop }", Statement.jhashVmap(t6, .ip6Saddr, seed: 1, [.accept, .drop])),
    ]
}
