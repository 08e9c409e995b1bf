import NetworkTypes
import NFTables

/// A ruleset with every shape Sluice relies on: base chains at the nat and filter hooks, a
/// `daddr . l4proto . dport` verdict map dispatching to per-service chains, numgen and jhash
/// selection, dnat to address and port, masquerade, reject, a dynamic set with timeout, an
/// interval map, and a data map used by dnat.
enum Fixtures {
    static let table = TableID(.ip, "sluice")
    static func chain(_ name: String) -> ChainID { ChainID(table, name) }
    static func ip(_ s: String) -> IPv4Address { IPv4Address(s)! }

    static var representative: Transaction {
        var t = Transaction()
        t.add(Table(.ip, "sluice", comment: "sluice test"))
        t.add(Chain(table, "svc-web", comment: "default/web:http"))
        t.add(Chain(table, "svc-dns", comment: "kube-system/dns:dns"))
        t.add(Chain(table, "ep-web-1"))
        t.add(Chain(table, "ep-web-2"))
        t.add(Chain(table, "prerouting", base: BaseChain(type: .nat, hook: .prerouting, priority: BaseChain.dstnat)))
        t.add(Chain(table, "output", base: BaseChain(type: .nat, hook: .output, priority: BaseChain.dstnat)))
        t.add(Chain(table, "postrouting", base: BaseChain(type: .nat, hook: .postrouting, priority: BaseChain.srcnat)))
        t.add(Chain(table, "filter", base: BaseChain(type: .filter, hook: .forward, priority: BaseChain.filterPriority, policy: .accept)))
        // Chains before the sets whose elements jump to them: the kernel resolves verdicts at once.
        t.add(NFSet(table, "services", key: [.ipv4Address, .inetProto, .inetService], data: .verdict, comment: "dispatch",
                    elements: [
                        SetElement([.ipv4(ip("10.96.0.1")), .proto(IPProtocol.tcp), .port(80)], verdict: .goto("svc-web"), comment: "default/web:http"),
                        SetElement([.ipv4(ip("10.96.0.2")), .proto(IPProtocol.udp), .port(53)], verdict: .goto("svc-dns"), comment: "kube-system/dns:dns"),
                    ]))
        t.add(NFSet(table, "backends", typeof: [.ipDaddr, .l4proto, .thDport, .numgenRandom(modulus: 2)], dataTypeof: [.ipDaddr, .thDport],
                    elements: [
                        SetElement([.ipv4(ip("10.96.0.3")), .proto(IPProtocol.tcp), .port(443), .u32(0)], value: [.ipv4(ip("10.1.0.1")), .port(8443)]),
                        SetElement([.ipv4(ip("10.96.0.3")), .proto(IPProtocol.tcp), .port(443), .u32(1)], value: [.ipv4(ip("10.1.0.2")), .port(8443)]),
                    ]))
        t.add(NFSet(table, "affinity", key: [.ipv4Address], flags: [.dynamic], timeoutMillis: 10_800_000, size: 65535))
        t.add(NFSet(table, "source-ranges", key: [.ipv4Address], data: .verdict, flags: [.interval],
                    elements: SetElement.intervals([
                        (start: IPPrefix("10.2.0.0/16")!.address.bytes, end: IPPrefix("10.2.0.0/16")!.end, data: .verdict(.accept)),
                        (start: IPPrefix("192.168.1.0/24")!.address.bytes, end: IPPrefix("192.168.1.0/24")!.end, data: .verdict(.drop)),
                    ])))


        t.add(Rule(chain("svc-web"), Statement.numgenVmap(table, [.goto("ep-web-1"), .goto("ep-web-2")]), comment: "default/web:http"))
        t.add(Rule(chain("svc-dns"), Statement.jhashVmap(table, .ipSaddr, seed: 0x5eed, [.goto("ep-web-1"), .goto("ep-web-2")])))
        t.add(Rule(chain("ep-web-1"), Match.prefix(.ipSaddr, IPPrefix("10.0.0.0/8")!) + [.counter] + Statement.setMarkBits(0x4000)))
        t.add(Rule(chain("ep-web-1"), Match.l4proto(IPProtocol.tcp) + Statement.dnat(to: .v4(ip("10.1.0.1")), port: 8080)))
        t.add(Rule(chain("ep-web-2"), Statement.update("affinity", [.ipSaddr], timeoutMillis: 10_800_000)))
        t.add(Rule(chain("ep-web-2"), Match.l4proto(IPProtocol.tcp) + Statement.dnat(to: .v4(ip("10.1.0.2")), port: 8080)))
        t.add(Rule(chain("prerouting"), Statement.vmap([.ipDaddr, .l4proto, .thDport], .named("services"))))
        t.add(Rule(chain("prerouting"), Statement.dnatMap(.ip, [.ipDaddr, .l4proto, .thDport, .numgenRandom(modulus: 2)], .named("backends")),
                   comment: "weighted backends"))
        t.add(Rule(chain("output"), Statement.vmap([.ipDaddr, .l4proto, .thDport], .named("services"))))
        t.add(Rule(chain("postrouting"), Match.markBits(0x4000) + Statement.masquerade(fullyRandom: true)))
        t.add(Rule(chain("filter"), Match.ctState(.new) + Statement.vmap([.ipSaddr], .named("source-ranges"))))
        t.add(Rule(chain("filter"), Match.compare(.ipDaddr, .eq, .ipv4(ip("10.96.0.9"))) + Match.compare(.dport(IPProtocol.tcp), .eq, .port(80)) + Statement.rejectTCPReset))
        t.add(Rule(chain("filter"), Match.compare(.ipDaddr, .eq, .ipv4(ip("10.96.0.10"))) + Statement.reject(.ip)))
        t.add(Rule(chain("filter"), Match.fibDaddrType(.local) + Match.compare(.ipDaddr, .eq, .ipv4(ip("10.96.0.11"))) + [.verdict(.drop)]))
        return t
    }
}
