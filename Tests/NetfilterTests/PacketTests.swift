import NFTables
import Netfilter
import SluiceTestSupport
import Testing

/// Real TCP through rules Sluice wrote: a client namespace, a node namespace holding the rules
/// and routing, and a pod namespace with two endpoint addresses and a listener.
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
        let client = try NetworkNamespace("sl-c"), node = try NetworkNamespace("sl-n"), pod = try NetworkNamespace("sl-p")
        defer { [client, node, pod].forEach { $0.delete() } }
        let tag = String(client.name.suffix(8)).filter { $0.isNumber || $0 == "-" }
        let (vc, vn, vp, vq) = ("c\(tag)", "n\(tag)", "p\(tag)", "q\(tag)")
        try run(["ip", "link", "add", vc, "netns", client.name, "type", "veth", "peer", "name", vn, "netns", node.name])
        try run(["ip", "link", "add", vp, "netns", pod.name, "type", "veth", "peer", "name", vq, "netns", node.name])
        for (ns, cmds) in [
            (client, [["ip", "addr", "add", "10.0.0.2/24", "dev", vc], ["ip", "link", "set", vc, "up"],
                      ["ip", "route", "add", "10.96.0.0/12", "via", "10.0.0.1"]]),
            (node, [["ip", "addr", "add", "10.0.0.1/24", "dev", vn], ["ip", "link", "set", vn, "up"],
                    ["ip", "addr", "add", "10.1.0.1/24", "dev", vq], ["ip", "link", "set", vq, "up"],
                    ["sysctl", "-qw", "net.ipv4.ip_forward=1"],
                    // Service addresses route somewhere (to a neighbour that never answers), as on a
                    // real node, so packets no rule handles reach the forward hook and then vanish.
                    ["ip", "route", "add", "10.96.0.0/12", "via", "10.1.0.254"]]),
            (pod, [["ip", "addr", "add", "10.1.0.2/24", "dev", vp], ["ip", "addr", "add", "10.1.0.3/24", "dev", vp],
                   ["ip", "link", "set", vp, "up"], ["ip", "route", "add", "default", "via", "10.1.0.1"]]),
        ] {
            for cmd in cmds { try ns.exec(cmd) }
        }
        try node.enter { try NFTablesConnection().apply(Self.serviceRules) }
        try pod.spawn(["python3", "-c", Probe.tcpEchoAddress, "0.0.0.0", "8080"])
        // Wait for the listener: connect to the pod directly until it answers.
        var ready = false
        for _ in 0..<50 where !ready {
            let r = try client.exec(["python3", "-c", Probe.tcpConnect, "10.96.0.1", "80", "1", "0.2"])
            ready = r.stdout.contains("8080")
        }
        #expect(ready)

        let answers = try client.exec(["python3", "-c", Probe.tcpConnect, "10.96.0.1", "80", "40", "2"]).stdout
            .split(separator: "\n").map(String.init)
        #expect(answers.count == 40)
        // Each answer: the endpoint address and port reached, and the client address it saw (no masquerade here).
        #expect(Set(answers) == ["10.1.0.2:8080 10.0.0.2", "10.1.0.3:8080 10.0.0.2"])

        let refused = try client.exec(["python3", "-c", Probe.tcpConnect, "10.96.0.2", "80", "1", "2"]).stdout
        #expect(refused == "REFUSED\n")
        // An address no rule handles: nothing listens, routing sends it nowhere; it times out.
        let untouched = try client.exec(["python3", "-c", Probe.tcpConnect, "10.96.0.3", "80", "1", "0.5"]).stdout
        #expect(untouched == "TIMEOUT\n")
    }
}
