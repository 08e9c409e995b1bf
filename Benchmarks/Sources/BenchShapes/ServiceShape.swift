import NFTables
import NetworkTypes

/// The "chain per Service, no per-Service sets" shape DESIGN.md's C floor was measured with:
/// one dispatch verdict map (`daddr . l4proto . dport : goto svc-N`) bound by one rule, and
/// per Service a chain of two dnat rules, the first taken for half the connections.
public enum ServiceShape {
    public static let table = TableID(.ip, "sluice")

    public static func serviceIP(_ i: Int) -> IPv4Address {
        IPv4Address(10, UInt8(96 + i >> 16), UInt8((i >> 8) & 0xff), UInt8(i & 0xff))
    }

    public static func endpointIP(_ i: Int, _ e: Int) -> IPv4Address {
        let n = 2 * i + e
        return IPv4Address(10, UInt8(128 + n >> 16), UInt8((n >> 8) & 0xff), UInt8(n & 0xff))
    }

    public static func chainName(_ i: Int) -> String { "svc-\(i)" }

    /// The two dnat rules of Service `i`'s chain.
    public static func rules(_ i: Int, endpoints: [IPv4Address]? = nil) -> [Rule] {
        let chain = ChainID(table, chainName(i))
        let eps = endpoints ?? [endpointIP(i, 0), endpointIP(i, 1)]
        return [
            Rule(chain, Match.l4proto(IPProtocol.tcp)
                + [.numgen(.random, modulus: 2, offset: 0, into: .r1), .cmp(.eq, .r1, Value.u32(0).bytes)]
                + Statement.dnat(to: .v4(eps[0]), port: 8080)),
            Rule(chain, Match.l4proto(IPProtocol.tcp) + Statement.dnat(to: .v4(eps[1]), port: 8080)),
        ]
    }

    /// The whole ruleset for `n` Services as one transaction (endpoints per Service, or the same for all).
    public static func transaction(services n: Int, endpoints: [IPv4Address]? = nil) -> Transaction {
        var t = Transaction()
        t.add(Table(.ip, "sluice"))
        t.add(Chain(table, "prerouting", base: BaseChain(type: .nat, hook: .prerouting, priority: BaseChain.dstnat)))
        var elements: [SetElement] = []
        elements.reserveCapacity(n)
        for i in 0..<n {
            let chain = ChainID(table, chainName(i))
            t.add(Chain(table, chain.name, comment: "bench/svc-\(i):http"))
            for r in rules(i, endpoints: endpoints) { t.add(r) }
            elements.append(SetElement([.ipv4(serviceIP(i)), .proto(IPProtocol.tcp), .port(80)], verdict: .goto(chain.name)))
        }
        t.add(NFSet(table, "services", key: [.ipv4Address, .inetProto, .inetService], data: .verdict, elements: elements))
        t.add(Rule(ChainID(table, "prerouting"), Statement.vmap([.ipDaddr, .l4proto, .thDport], .named("services"))))
        return t
    }

    /// The same ruleset as an `nft -f` script.
    public static func nftScript(services n: Int) -> String {
        var s = "add table ip sluice\n"
        s += "add chain ip sluice prerouting { type nat hook prerouting priority dstnat; policy accept; }\n"
        for i in 0..<n {
            let c = chainName(i)
            s += "add chain ip sluice \(c) { comment \"bench/svc-\(i):http\"; }\n"
            s += "add rule ip sluice \(c) meta l4proto tcp numgen random mod 2 0 dnat to \(endpointIP(i, 0)):8080\n"
            s += "add rule ip sluice \(c) meta l4proto tcp dnat to \(endpointIP(i, 1)):8080\n"
        }
        s += "add map ip sluice services { type ipv4_addr . inet_proto . inet_service : verdict; }\n"
        var i = 0
        while i < n {
            let end = min(n, i + 1000)
            s += "add element ip sluice services { "
            s += (i..<end).map { "\(serviceIP($0)) . tcp . 80 : goto \(chainName($0))" }.joined(separator: ", ")
            s += " }\n"
            i = end
        }
        s += "add rule ip sluice prerouting ip daddr . meta l4proto . th dport vmap @services\n"
        return s
    }
}
