import Agent
import Netfilter
import NetworkTypes
import NFTables
import Proxier
import ProxyCore
import SluiceTestSupport
import Testing

@Suite("UDP conntrack cleanup when endpoints go away", .serialized)
struct ConntrackTests {
    static func dns(_ endpoints: [String]) -> ServicePortInfo {
        ServicePortInfo(
            name: ServicePortName(namespace: "kube-system", name: "dns", port: "dns", protocol: .udp), family: .v4,
            clusterIP: IPAddress("10.96.0.20"), port: 53, nodePort: 30053,
            clusterEndpoints: endpoints.map { Services.ep($0, 5353) }, externalEndpoints: endpoints.map { Services.ep($0, 5353) },
            hasEndpoints: !endpoints.isEmpty)
    }

    @Test("the stale flows: entries to removed endpoints, on every frontend; none for TCP")
    func staleFlows() {
        let flows = ConntrackFlow.stale(old: Self.dns(["10.1.0.2", "10.1.0.3"]), new: Self.dns(["10.1.0.3"]))
        #expect(flows.map(\.arguments) == [
            ["-D", "-p", "udp", "-f", "ipv4", "--orig-port-dst", "30053", "--dst-nat", "10.1.0.2"],
            ["-D", "-p", "udp", "-f", "ipv4", "--orig-dst", "10.96.0.20", "--orig-port-dst", "53", "--dst-nat", "10.1.0.2"],
        ])
        #expect(ConntrackFlow.stale(old: Services.web, new: nil) == [])
        #expect(ConntrackFlow.revived(old: Self.dns([]), new: Self.dns(["10.1.0.2"])).map(\.arguments)
                == [["-D", "-p", "udp", "-f", "ipv4", "--orig-dst", "10.96.0.20", "--orig-port-dst", "53"]])
    }

    @Test("from a live and a desired ruleset: the endpoints each UDP frontend lost, NodePorts in their family")
    func staleFromRulesets() {
        func dns6(_ endpoints: [String]) -> ServicePortInfo {
            var p = Self.dns(endpoints)
            (p.family, p.clusterIP) = (.v6, IPAddress("fd02::20"))
            return p
        }
        func rules(_ ports: [ServicePortInfo]) -> Ruleset {
            NFTProxier.desiredRuleset(ports, families: [.v4, .v6], options: Services.options)
        }
        var web = Services.web
        web.clusterEndpoints = [Services.ep("10.1.0.7")]
        let live = rules([Self.dns(["10.1.0.2", "10.1.0.3"]), dns6(["fd01::2", "fd01::3"]), Services.web])
        let desired = rules([Self.dns(["10.1.0.3"]), dns6(["fd01::3", "fd01::4"]), web])
        #expect(ConntrackFlow.stale(live: live, desired: desired).map(\.arguments) == [
            ["-D", "-p", "udp", "-f", "ipv4", "--orig-port-dst", "30053", "--dst-nat", "10.1.0.2"],
            ["-D", "-p", "udp", "-f", "ipv6", "--orig-port-dst", "30053", "--dst-nat", "fd01::2"],
            ["-D", "-p", "udp", "-f", "ipv4", "--orig-dst", "10.96.0.20", "--orig-port-dst", "53", "--dst-nat", "10.1.0.2"],
            ["-D", "-p", "udp", "-f", "ipv6", "--orig-dst", "fd02::20", "--orig-port-dst", "53", "--dst-nat", "fd01::2"],
        ])
        #expect(ConntrackFlow.stale(live: live, desired: live) == [])
        // A Service that goes away loses every endpoint.
        #expect(ConntrackFlow.stale(live: live, desired: rules([dns6(["fd01::2", "fd01::3"])])).count == 4)
        // A UDP Service that gets endpoints: every entry to its frontends goes (NodePorts in their family),
        // but not on a node's first sync.
        #expect(ConntrackFlow.stale(live: rules([Services.web, dns6([])]), desired: rules([Self.dns(["10.1.0.2"]), dns6(["fd01::2"])]))
                .map(\.arguments) == [
            ["-D", "-p", "udp", "-f", "ipv4", "--orig-port-dst", "30053"],
            ["-D", "-p", "udp", "-f", "ipv4", "--orig-dst", "10.96.0.20", "--orig-port-dst", "53"],
            ["-D", "-p", "udp", "-f", "ipv6", "--orig-port-dst", "30053"],
            ["-D", "-p", "udp", "-f", "ipv6", "--orig-dst", "fd02::20", "--orig-port-dst", "53"],
        ])
        #expect(ConntrackFlow.stale(live: Ruleset(), desired: rules([Self.dns(["10.1.0.2"])])) == [])
    }

    @Test("a client that sent before the UDP Service existed reaches its endpoint once the Service is applied")
    func udpBeforeTheService() throws {
        let rig = try ProxyRig()
        defer { rig.delete() }
        try rig.pods.spawn(["python3", "-c", Probe.udpEchoAddress, "5353", "10.1.0.2"])
        // No Service CIDR: with one, the datagram to an unallocated ClusterIP is dropped before
        // conntrack confirms an entry, and the problem cannot arise there.
        var proxier = NFTProxier(families: [.v4], options: ProxierOptions(clusterCIDRs: Services.options.clusterCIDRs))
        let conn = try rig.node.enter { try NFTablesConnection() }
        try conn.apply(proxier.fullSync([], live: Ruleset()))
        // No Service yet: the datagram goes where the route says (nowhere), and conntrack keeps an
        // entry without dnat for this client's port.
        let send = ["python3", "-c", Probe.udpSend, "10.96.0.20", "53", "40001", "1"]
        #expect(try rig.client.exec(send).stdout == "TIMEOUT\n")

        // As `sluice apply` does: a full sync from the live ruleset, then the conntrack cleanup.
        let live = try conn.ruleset(tables: proxier.tableIDs)
        try conn.apply(proxier.fullSync([Self.dns(["10.1.0.2"])], live: live))
        #expect(try rig.client.exec(send).stdout == "TIMEOUT\n", "the entry without dnat still holds")
        let flows = ConntrackFlow.stale(live: live, desired: proxier.currentRuleset)
        #expect(flows.map(\.description) == ["udp *:30053", "udp 10.96.0.20:53"])
        #expect(try rig.node.enter { ConntrackTool().clean(flows) }.isEmpty)
        #expect(try rig.client.exec(send).stdout == "10.1.0.2:5353 10.1.0.1\n")
    }

    @Test("after an endpoint is removed, a client's next datagram goes to the new endpoint")
    func udpFollowsTheChange() throws {
        let rig = try ProxyRig()
        defer { rig.delete() }
        try rig.pods.spawn(["python3", "-c", Probe.udpEchoAddress, "5353", "10.1.0.2", "10.1.0.3"])
        var proxier = NFTProxier(families: [.v4], options: Services.options)
        let conn = try rig.node.enter { try NFTablesConnection() }
        let before = Self.dns(["10.1.0.2"]), after = Self.dns(["10.1.0.3"])
        try conn.apply(proxier.fullSync([before], live: Ruleset()))
        var first: [String] = []
        for _ in 0..<50 where first.first?.contains("5353") != true {
            first = try rig.client.exec(["python3", "-c", Probe.udpSend, "10.96.0.20", "53", "40000", "1"]).stdout
                .split(separator: "\n").map(String.init)
        }
        #expect(first == ["10.1.0.2:5353 10.1.0.1"])

        try conn.apply(proxier.update([(after.key, after)]))
        // The entry made through the old rules still sends this client's datagrams to the old endpoint.
        let stale = try rig.client.exec(["python3", "-c", Probe.udpSend, "10.96.0.20", "53", "40000", "1"]).stdout
        #expect(stale == "10.1.0.2:5353 10.1.0.1\n")

        let failed = try rig.node.enter { ConntrackTool().clean(ConntrackFlow.stale(old: before, new: after)) }
        #expect(failed.isEmpty)
        let fresh = try rig.client.exec(["python3", "-c", Probe.udpSend, "10.96.0.20", "53", "40000", "2"]).stdout
        #expect(fresh == "10.1.0.3:5353 10.1.0.1\n10.1.0.3:5353 10.1.0.1\n")
    }
}
