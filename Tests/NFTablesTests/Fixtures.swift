import NetworkTypes
import NFTables

/// Models shared by the golden, round-trip and diff tests: each is built only with the
/// builders, the way the Proxier builds rulesets.
enum Fixtures {
    static let ip = TableID(.ip, "sluice")
    static let ip6 = TableID(.ip6, "sluice")

    static func v4(_ s: String) -> IPv4Address {
        IPv4Address(s) ?? IPv4Address(0, 0, 0, 0)
    }
    static func v6(_ s: String) -> IPv6Address {
        IPv6Address(s) ?? IPv6Address(bytes: [UInt8](repeating: 0, count: 16))!
    }
    static func addr(_ s: String) -> IPAddress { IPAddress(s) ?? .v4(v4("0.0.0.0")) }
    static func prefix(_ s: String) -> IPPrefix { IPPrefix(s) ?? IPPrefix("0.0.0.0/0")! }

    static let dispatch: [Key] = [.ipDaddr, .l4proto, .thDport]

    static let all: [String: Ruleset] = [
        "ip": sluice, "ip6": sluice6, "sets": Golden.setsRuleset, "chains": Golden.chainsRuleset, "typeof": typeofBackends,
    ]

    /// DESIGN.md's data map keyed by `daddr . l4proto . dport . slot`: the numgen slot is an
    /// integer, which only a `typeof` declaration names.
    static var typeofBackends: Ruleset {
        let t = ip
        let key = dispatch + [.numgenRandom(modulus: 2)]
        return Ruleset(
            tables: [Table(.ip, "sluice")],
            chains: [Chain(t, "ep2")],
            sets: [
                NFSet(
                    t, "backends", typeof: key, dataTypeof: [.ipDaddr, .thDport],
                    elements: (0..<2).map { slot in
                        SetElement(
                            [.ipv4(v4("10.0.0.1")), .proto(IPProtocol.tcp), .port(80), .u32(UInt32(slot))],
                            value: [.ipv4(v4("10.1.0.\(slot + 1)")), .port(8080)])
                    })
            ],
            rules: [Rule(ChainID(t, "ep2"), Statement.dnatMap(.ip, key, .named("backends")))])
    }

    /// The shape DESIGN.md describes: a dispatch verdict map, per-service chains picking an
    /// endpoint, a data map for dnat, masquerade by mark, reject, affinity.
    static var sluice: Ruleset {
        let t = ip
        let chain = { (name: String) in ChainID(t, name) }
        var r = Ruleset()
        r.tables = [Table(.ip, "sluice", comment: "sluice test")]
        r.sets = [
            NFSet(
                t, "svc", key: [.ipv4Address, .inetProto, .inetService], data: .verdict, comment: "dispatch",
                elements: [
                    SetElement([.ipv4(v4("10.0.0.1")), .proto(IPProtocol.tcp), .port(80)], verdict: .goto("svc-a"), comment: "ns/a:http"),
                    SetElement([.ipv4(v4("10.0.0.2")), .proto(IPProtocol.udp), .port(53)], verdict: .goto("svc-a")),
                ]),
            NFSet(
                t, "backends", key: [.ipv4Address, .inetProto, .inetService], data: .value([.ipv4Address, .inetService]),
                elements: [SetElement([.ipv4(v4("10.0.0.1")), .proto(IPProtocol.tcp), .port(80)], value: [.ipv4(v4("10.1.0.1")), .port(8080)])]),
            NFSet(t, "aff", key: [.ipv4Address], flags: [.dynamic], timeoutMillis: 3 * 3_600_000, size: 65535),
            NFSet(
                t, "ranges", key: [.ipv4Address], data: .verdict, flags: [.interval],
                elements: SetElement.intervals([(prefix("10.2.0.0/16").address.bytes, prefix("10.2.0.0/16").end, .verdict(.accept))])),
        ]
        r.chains = [
            Chain(t, "svc-a", comment: "ns/a:http"),
            Chain(t, "ep1"),
            Chain(t, "ep2"),
            Chain(t, "prerouting", base: BaseChain(type: .nat, hook: .prerouting, priority: BaseChain.dstnat)),
            Chain(t, "postrouting", base: BaseChain(type: .nat, hook: .postrouting, priority: BaseChain.srcnat)),
            Chain(t, "filter", base: BaseChain(type: .filter, hook: .forward, priority: BaseChain.filterPriority)),
        ]
        r.rules = [
            Rule(chain("svc-a"), Statement.numgenVmap(t, [.goto("ep1"), .goto("ep2")])),
            Rule(chain("ep1"), Match.prefix(.ipSaddr, prefix("10.0.0.0/8")) + [.counter] + Statement.setMarkBits(0x4000)),
            Rule(chain("ep1"), Match.l4proto(IPProtocol.tcp) + Statement.dnat(to: addr("10.1.0.1"), port: 8080)),
            Rule(chain("ep2"), Statement.update("aff", [.ipSaddr], timeoutMillis: 3 * 3_600_000)),
            Rule(chain("ep2"), Statement.dnatMap(.ip, dispatch, .named("backends"))),
            Rule(chain("prerouting"), Statement.vmap(dispatch, .named("svc"))),
            Rule(
                chain("prerouting"),
                Match.fibDaddrType(.local)
                    + Statement.vmap(
                        [.l4proto, .thDport],
                        .anonymous(
                            NFSet.anonymous(
                                t, key: [.inetProto, .inetService], data: .verdict,
                                elements: [SetElement([.proto(IPProtocol.tcp), .port(30000)], verdict: .goto("svc-a"))]))),
                comment: "nodeports"),
            Rule(chain("prerouting"), Statement.jhashVmap(t, .ipSaddr, seed: 1, [.accept, .drop, .goto("ep1"), .goto("ep2")])),
            Rule(chain("prerouting"), Match.ctState([.established, .related]) + [.verdict(.accept)]),
            Rule(chain("prerouting"), Match.ctState(.new) + [.ct(.direction, direction: nil, into: .r1), .cmp(.eq, .r1, [0]), .verdict(.accept)]),
            Rule(chain("postrouting"), Match.markBits(0x4000) + Statement.masquerade(fullyRandom: true)),
            Rule(chain("postrouting"), Match.markBits(0x4000, set: false) + [.verdict(.return)]),
            Rule(chain("filter"), Match.compare(.ipDaddr, .eq, .ipv4(v4("10.0.0.2"))) + Match.compare(.dport(IPProtocol.tcp), .eq, .port(80)) + Statement.rejectTCPReset),
            Rule(chain("filter"), Match.compare(.ipDaddr, .eq, .ipv4(v4("10.0.0.3"))) + [.reject(.icmpUnreachable, code: 1)]),
            Rule(chain("filter"), Match.compare(.ipDaddr, .eq, .ipv4(v4("10.0.0.4"))) + Statement.reject(.ip)),
            Rule(chain("filter"), Match.prefix(.ipSaddr, prefix("10.0.0.0/12"), .neq) + Match.inSet([.ipSaddr], .named("aff"), invert: true) + [.verdict(.drop)]),
        ]
        return r
    }

    /// The IPv6 side: registers after a 16-byte field, prefixes, `[addr]:port`.
    static var sluice6: Ruleset {
        let t = ip6
        var r = Ruleset()
        r.tables = [Table(.ip6, "sluice")]
        r.sets = [
            NFSet(
                t, "svc", key: [.ipv6Address, .inetProto, .inetService], data: .verdict,
                elements: [
                    SetElement([.ipv6(v6("fd00::1")), .proto(IPProtocol.tcp), .port(80)], verdict: .goto("svc-a")),
                    SetElement([.ipv6(v6("::ffff:10.0.0.1")), .proto(IPProtocol.sctp), .port(9)], verdict: .drop),
                ]),
            NFSet(
                t, "backends", key: [.ipv6Address, .inetProto, .inetService], data: .value([.ipv6Address, .inetService]),
                elements: [SetElement([.ipv6(v6("fd00::1")), .proto(IPProtocol.tcp), .port(80)], value: [.ipv6(v6("fd01::1")), .port(8080)])]),
            NFSet(
                t, "nets", key: [.ipv6Address], flags: [.interval],
                elements: SetElement.intervals([
                    (prefix("fd00::/64").address.bytes, prefix("fd00::/64").end, nil),
                    (v6("2001:db8::1").bytes, v6("2001:db8::6").bytes, nil),
                    (v6("::1").bytes, v6("::2").bytes, nil),
                ])),
        ]
        r.chains = [
            Chain(t, "svc-a"),
            Chain(t, "prerouting", base: BaseChain(type: .nat, hook: .prerouting, priority: BaseChain.dstnat - 5)),
            Chain(t, "input", base: BaseChain(type: .filter, hook: .input, priority: -200, policy: .drop), comment: "in"),
        ]
        r.rules = [
            Rule(ChainID(t, "svc-a"), Match.l4proto(IPProtocol.tcp) + Statement.dnat(to: addr("fd00::5"), port: 80)),
            Rule(ChainID(t, "svc-a"), Statement.dnat(to: addr("fd00::6"))),
            Rule(ChainID(t, "svc-a"), Statement.dnatMap(.ip6, [.ip6Daddr, .l4proto, .thDport], .named("backends"))),
            Rule(ChainID(t, "prerouting"), Statement.vmap([.ip6Daddr, .l4proto, .thDport], .named("svc"))),
            Rule(ChainID(t, "input"), Match.prefix(.ip6Saddr, prefix("fd00::/64")) + [.verdict(.accept)]),
            Rule(ChainID(t, "input"), Match.prefix(.ip6Saddr, prefix("fd00::/60")) + [.verdict(.accept)]),
            Rule(ChainID(t, "input"), Match.inSet([.ip6Saddr], .named("nets")) + Statement.reject(.ip6)),
            Rule(ChainID(t, "input"), Statement.jhashVmap(t, .ip6Saddr, seed: 0xdeadbeef, [.accept, .drop])),
            Rule(ChainID(t, "input"), [.reject(.icmpUnreachable, code: 3)]),
        ]
        return r
    }
}
