import Netfilter
import NetworkTypes
import NFTables
import SluiceTestSupport
import Testing

/// Real TCP through rules Sluice wrote, on the test rig (`ProxyRig`): a client namespace, a
/// node namespace holding the rules and routing, and a pods namespace with the listeners.
@Suite("Netfilter: real packets follow the rules", .serialized)
struct PacketTests {
    static let table = TableID(.ip, "sluice")

    static var serviceRules: Transaction {
        var t = Transaction()
        let c = { (n: String) in ChainID(table, n) }
        t.add(Table(.ip, "sluice"))
        t.add(Chain(table, "svc-web", comment: "default/web:http"))
        t.add(Chain(table, "ep-1"))
        t.add(Chain(table, "ep-2"))
        t.add(Chain(table, "prerouting", base: BaseChain(type: .nat, hook: .prerouting, priority: BaseChain.dstnat)))
        t.add(NFSet(table, "services", key: [.ipv4Address, .inetProto, .inetService], data: .verdict, elements: [
            SetElement([.ipv4(IPv4Address(10, 96, 0, 1)), .proto(IPProtocol.tcp), .port(80)], verdict: .goto("svc-web")),
        ]))
        t.add(Rule(c("svc-web"), Statement.numgenVmap(table, [.goto("ep-1"), .goto("ep-2")])))
        t.add(Rule(c("ep-1"), Match.l4proto(IPProtocol.tcp) + Statement.dnat(to: .v4(IPv4Address(10, 1, 0, 2)), port: 8080)))
        t.add(Rule(c("ep-2"), Match.l4proto(IPProtocol.tcp) + Statement.dnat(to: .v4(IPv4Address(10, 1, 0, 3)), port: 8080)))
        t.add(Rule(c("prerouting"), Statement.vmap([.ipDaddr, .l4proto, .thDport], .named("services"))))
        // A second service whose only rule rejects: connections are refused at once.
        t.add(Chain(table, "filter", base: BaseChain(type: .filter, hook: .forward, priority: 0)))
        t.add(Rule(c("filter"), Match.compare(.ipDaddr, .eq, .ipv4(IPv4Address(10, 96, 0, 2))) + Match.l4proto(IPProtocol.tcp)
            + Statement.rejectTCPReset))
        return t
    }

    @Test("a TCP connect to the service address lands on one of its endpoints; reject refuses")
    func tcpThroughDnat() throws {
        let rig = try ProxyRig()
        defer { rig.delete() }
        try rig.node.enter { try NFTablesConnection().apply(Self.serviceRules) }

        let answers = try rig.connect(from: rig.client, to: "10.96.0.1", port: 80, count: 40, timeout: 2)
        #expect(answers.count == 40)
        // Each answer: the endpoint address and port reached, and the client address it saw (no masquerade here).
        #expect(Set(answers) == ["10.1.0.2:8080 10.0.0.2", "10.1.0.3:8080 10.0.0.2"])

        #expect(try rig.connect(from: rig.client, to: "10.96.0.2", port: 80, timeout: 2) == ["REFUSED"])
        // An address no rule handles goes to a neighbour that never answers: it times out.
        #expect(try rig.connect(from: rig.client, to: "10.96.0.3", port: 80, timeout: 0.5) == ["TIMEOUT"])
    }
}
