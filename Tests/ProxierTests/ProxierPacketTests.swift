import Foundation
import Netfilter
import NetworkTypes
import NFTables
import Proxier
import ProxyCore
import SluiceTestSupport
import Testing

/// Service ports as ProxyCore hands them to the proxier, over the rig's addresses.
enum Services {
    static func ip(_ s: String) -> IPAddress { IPAddress(s)! }
    static func ep(_ s: String, _ port: UInt16 = 8080, weight: UInt16 = 1) -> Endpoint {
        Endpoint(address: ip(s), port: port, isLocal: true, weight: weight)
    }
    static func name(_ n: String) -> ServicePortName { ServicePortName(namespace: "default", name: n, port: "http", protocol: .tcp) }

    static let web = ServicePortInfo(
        name: name("web"), family: .v4, clusterIP: ip("10.96.0.10"), port: 80, nodePort: 30080, externalIPs: [ip("192.168.50.1")],
        clusterEndpoints: [ep("10.1.0.2"), ep("10.1.0.3")], externalEndpoints: [ep("10.1.0.2"), ep("10.1.0.3")], hasEndpoints: true)
    static let local = ServicePortInfo(
        name: name("local"), family: .v4, clusterIP: ip("10.96.0.11"), port: 80, nodePort: 30081, externalPolicyLocal: true,
        clusterEndpoints: [ep("10.1.0.4")], externalEndpoints: [], hasEndpoints: true)
    static let empty = ServicePortInfo(name: name("empty"), family: .v4, clusterIP: ip("10.96.0.12"), port: 80, nodePort: 30082)
    static let canary = ServicePortInfo(
        name: name("canary"), family: .v4, clusterIP: ip("10.96.0.13"), port: 80,
        clusterEndpoints: [ep("10.1.0.5", weight: 3), ep("10.1.0.6", weight: 1)], hasEndpoints: true)
    static let selfService = ServicePortInfo(
        name: name("self"), family: .v4, clusterIP: ip("10.96.0.14"), port: 80,
        clusterEndpoints: [ep("10.1.0.2", 8443)], hasEndpoints: true)
    static let web6 = ServicePortInfo(
        name: name("web"), family: .v6, clusterIP: ip("fd02::10"), port: 80,
        clusterEndpoints: [ep("fd01::2"), ep("fd01::3")], hasEndpoints: true)

    static let ranged = ServicePortInfo(
        name: name("ranged"), family: .v4, clusterIP: ip("10.96.0.15"), port: 80, loadBalancerIPs: [ip("192.168.50.2")],
        loadBalancerSourceRanges: [IPPrefix("10.0.0.0/24")!, IPPrefix("172.16.0.0/12")!],
        clusterEndpoints: [ep("10.1.0.8")], externalEndpoints: [ep("10.1.0.8")], hasEndpoints: true)

    static let sticky = ServicePortInfo(
        name: name("sticky"), family: .v4, clusterIP: ip("10.96.0.16"), port: 80, nodePort: 30016, affinityTimeoutSeconds: 10800,
        clusterEndpoints: [ep("10.1.0.2"), ep("10.1.0.3"), ep("10.1.0.4")], externalEndpoints: [ep("10.1.0.2"), ep("10.1.0.3"), ep("10.1.0.4")],
        hasEndpoints: true)
    static let sticky6 = ServicePortInfo(
        name: name("sticky"), family: .v6, clusterIP: ip("fd02::16"), port: 80, affinityTimeoutSeconds: 10800,
        clusterEndpoints: [ep("fd01::2"), ep("fd01::3")], hasEndpoints: true)

    /// eTP Local with no endpoint on this node: outside clients are dropped, clients inside the
    /// cluster (and the node) are short-circuited to every endpoint.
    static let localExternal = ServicePortInfo(
        name: name("local-external"), family: .v4, clusterIP: ip("10.96.0.17"), port: 80, nodePort: 30083,
        externalIPs: [ip("192.168.50.3")], externalPolicyLocal: true,
        clusterEndpoints: [ep("10.1.0.4")], externalEndpoints: [], hasEndpoints: true, clusterPolicyEndpoints: [ep("10.1.0.4")])

    static let maglev = ServicePortInfo(
        name: name("maglev"), family: .v4, clusterIP: ip("10.96.0.19"), port: 80, nodePort: 30019,
        clusterEndpoints: [ep("10.1.0.2"), ep("10.1.0.3"), ep("10.1.0.4")], externalEndpoints: [ep("10.1.0.2"), ep("10.1.0.3"), ep("10.1.0.4")],
        hasEndpoints: true, balancing: .maglev(fiveTuple: false))
    static let maglev5 = ServicePortInfo(
        name: name("maglev5"), family: .v4, clusterIP: ip("10.96.0.20"), port: 80,
        clusterEndpoints: [ep("10.1.0.2"), ep("10.1.0.3"), ep("10.1.0.4")], hasEndpoints: true, balancing: .maglev(fiveTuple: true))
    static let maglev6 = ServicePortInfo(
        name: name("maglev"), family: .v6, clusterIP: ip("fd02::19"), port: 80,
        clusterEndpoints: [ep("fd01::2"), ep("fd01::3"), ep("fd01::4")], hasEndpoints: true, balancing: .maglev(fiveTuple: false))
    static let maglev56 = ServicePortInfo(
        name: name("maglev5"), family: .v6, clusterIP: ip("fd02::20"), port: 80,
        clusterEndpoints: [ep("fd01::2"), ep("fd01::3"), ep("fd01::4")], hasEndpoints: true, balancing: .maglev(fiveTuple: true))

    static let all = [web, local, empty, canary, selfService, web6, ranged, sticky, sticky6, localExternal,
                      maglev, maglev5, maglev6, maglev56]
    static let options = ProxierOptions(clusterCIDRs: [IPPrefix("10.1.0.0/16")!, IPPrefix("fd01::/48")!],
                                        serviceCIDRs: [IPPrefix("10.96.0.0/12")!, IPPrefix("fd02::/108")!, IPPrefix("fd03::/108")!])
}

@Suite("Proxier: Kubernetes Service semantics on real packets", .serialized)
struct ProxierPacketTests {
    /// One rig for the table of cases: building it costs more than the cases.
    @Test("each frontend lands where kube-proxy would send it, masqueraded or not")
    func packetFlows() throws {
        let rig = try ProxyRig()
        defer { rig.delete() }
        try rig.program(Services.all)

        // (from, address, port, count, the exact set of answers expected)
        let cases: [(String, NetworkNamespace, String, Int, Int, Set<String>)] = [
            ("ClusterIP from outside the cluster CIDR: both endpoints, masqueraded",
             rig.client, "10.96.0.10", 80, 30, ["10.1.0.2:8080 10.1.0.1", "10.1.0.3:8080 10.1.0.1"]),
            ("ClusterIP from a pod: both endpoints, source kept",
             rig.podClient, "10.96.0.10", 80, 30, ["10.1.0.2:8080 10.1.1.2", "10.1.0.3:8080 10.1.1.2"]),
            ("NodePort on the node IP, eTP Cluster: masqueraded",
             rig.client, "10.0.0.1", 30080, 20, ["10.1.0.2:8080 10.1.0.1", "10.1.0.3:8080 10.1.0.1"]),
            ("NodePort on the node's other IP",
             rig.podClient, "10.1.1.1", 30080, 20, ["10.1.0.2:8080 10.1.0.1", "10.1.0.3:8080 10.1.0.1"]),
            ("externalIP, eTP Cluster: masqueraded",
             rig.client, "192.168.50.1", 80, 20, ["10.1.0.2:8080 10.1.0.1", "10.1.0.3:8080 10.1.0.1"]),
            ("eTP Local without local endpoints: NodePort drops", rig.client, "10.0.0.1", 30081, 1, ["TIMEOUT"]),
            ("eTP Local without local endpoints: ClusterIP still serves",
             rig.client, "10.96.0.11", 80, 3, ["10.1.0.4:8080 10.1.0.1"]),
            ("no endpoints: ClusterIP rejects", rig.client, "10.96.0.12", 80, 1, ["REFUSED"]),
            ("no endpoints: NodePort rejects", rig.client, "10.0.0.1", 30082, 1, ["REFUSED"]),
            ("a pod reaching itself through its Service is masqueraded (hairpin)",
             rig.pods, "10.96.0.14", 80, 3, ["10.1.0.2:8443 10.1.0.1"]),
            ("ClusterIP from the node itself", rig.node, "10.96.0.10", 80, 20, ["10.1.0.2:8080 10.1.0.1", "10.1.0.3:8080 10.1.0.1"]),
            ("IPv6 ClusterIP from outside: masqueraded", rig.client, "fd02::10", 80, 20, ["fd01::2:8080 fd01::1", "fd01::3:8080 fd01::1"]),
            ("an address no Service has: untouched", rig.client, "10.96.0.99", 80, 1, ["TIMEOUT"]),
            ("LB IP with source ranges: a source inside them is served",
             rig.client, "192.168.50.2", 80, 3, ["10.1.0.8:8080 10.1.0.1"]),
            ("LB IP with source ranges: a source outside them is dropped", rig.podClient, "192.168.50.2", 80, 1, ["TIMEOUT"]),
            ("source ranges do not apply to the ClusterIP", rig.podClient, "10.96.0.15", 80, 2, ["10.1.0.8:8080 10.1.1.2"]),
            ("eTP Local external IP without local endpoints: outside clients dropped", rig.client, "192.168.50.3", 80, 1, ["TIMEOUT"]),
            ("… and its NodePort too", rig.client, "10.0.0.1", 30083, 1, ["TIMEOUT"]),
            ("… but a pod is short-circuited to every endpoint, source kept",
             rig.podClient, "192.168.50.3", 80, 3, ["10.1.0.4:8080 10.1.1.2"]),
            ("… on the NodePort too", rig.podClient, "10.1.1.1", 30083, 3, ["10.1.0.4:8080 10.1.1.2"]),
            ("… and the node itself, masqueraded", rig.node, "192.168.50.3", 80, 3, ["10.1.0.4:8080 10.1.0.1"]),
        ]
        for (what, from, address, port, count, expected) in cases {
            let answers = try rig.connect(from: from, to: address, port: port, count: count, timeout: 0.7)
            #expect(answers.count == count, "\(what)")
            #expect(Set(answers) == expected, "\(what)")
        }

        // ClientIP affinity: every connection of a client to a frontend lands on one endpoint, on
        // the ClusterIP and on the NodePort alike.
        for (from, address, port) in [(rig.client, "10.96.0.16", 80), (rig.podClient, "10.96.0.16", 80),
                                      (rig.client, "10.0.0.1", 30016), (rig.client, "fd02::16", 80)] {
            let answers = try rig.connect(from: from, to: address, port: port, count: 20, timeout: 1)
            #expect(answers.count == 20)
            #expect(Set(answers).count == 1, "affinity to \(address):\(port) gave \(Set(answers))")
            #expect(answers.allSatisfy { $0.contains(":8080 ") })
        }

        // Weights 3:1 become 4 slots, 3 for the first endpoint.
        let weighted = try rig.connect(from: rig.podClient, to: "10.96.0.13", port: 80, count: 200, timeout: 1)
        let first5 = weighted.filter { $0 == "10.1.0.5:8080 10.1.1.2" }.count
        let first6 = weighted.filter { $0 == "10.1.0.6:8080 10.1.1.2" }.count
        #expect(first5 + first6 == 200)
        #expect((120...180).contains(first5), "3:1 split gave \(first5):\(first6)")
    }

    @Test("an endpoint change is map elements only, and traffic follows it")
    func endpointChange() throws {
        let rig = try ProxyRig()
        defer { rig.delete() }
        var proxier = NFTProxier(families: [.v4], options: Services.options)
        let conn = try rig.node.enter { try NFTablesConnection() }
        try conn.apply(proxier.fullSync([Services.web], live: Ruleset()))
        #expect(Set(try rig.connect(from: rig.podClient, to: "10.96.0.10", port: 80, count: 20))
                == ["10.1.0.2:8080 10.1.1.2", "10.1.0.3:8080 10.1.1.2"])

        var changed = Services.web
        changed.clusterEndpoints = [Services.ep("10.1.0.2"), Services.ep("10.1.0.7")]
        let t = proxier.update([(changed.key, changed)])
        for c in t.commands {
            switch c {
            case .addElements, .deleteElements: break
            default: Issue.record("an endpoint change sent \(c)")
            }
        }
        try conn.apply(t)
        #expect(Set(try rig.connect(from: rig.podClient, to: "10.96.0.10", port: 80, count: 20))
                == ["10.1.0.2:8080 10.1.1.2", "10.1.0.7:8080 10.1.1.2"])
        // What the proxier believes is what the kernel holds.
        #expect(try conn.ruleset(tables: proxier.tableIDs).normalized == proxier.currentRuleset.normalized)

        // Removing the Service leaves the skeleton only; its class chain goes on the next sync.
        try conn.apply(proxier.update([(changed.key, nil)]))
        #expect(try rig.connect(from: rig.podClient, to: "10.96.0.10", port: 80) == ["TIMEOUT"])
        try conn.apply(proxier.update([]))
        #expect(try conn.ruleset(tables: proxier.tableIDs).normalized == proxier.currentRuleset.normalized)
        #expect(!(try conn.ruleset(tables: proxier.tableIDs)).chains.contains { $0.name == "lbc-2" })
    }

    @Test("ClientIP affinity: a client keeps its endpoint while it connects, loses it after the timeout or when the endpoint leaves")
    func affinityTimeout() throws {
        let rig = try ProxyRig()
        defer { rig.delete() }
        var sticky = ServicePortInfo(
            name: Services.name("sticky-short"), family: .v4, clusterIP: Services.ip("10.96.0.18"), port: 80, affinityTimeoutSeconds: 2,
            clusterEndpoints: [Services.ep("10.1.0.2"), Services.ep("10.1.0.3"), Services.ep("10.1.0.4")], hasEndpoints: true)
        var proxier = NFTProxier(families: [.v4], options: Services.options)
        let conn = try rig.node.enter { try NFTablesConnection() }
        try conn.apply(proxier.fullSync([sticky], live: Ruleset()))
        let table = Layout.table(.v4)
        let key = Value.bytes([Services.ip("10.0.0.2").value, Services.ip("10.96.0.18").value, .proto(6), .port(80)])
        /// (slot, timeout) of every affinity entry in the kernel.
        func entries() throws -> [(Int, UInt64?)] {
            let live = try conn.ruleset(tables: [table])
            return (0..<3).flatMap { i in
                (live.sets.first { $0.name == Layout.affinitySet(i) }?.elements ?? []).map { e in
                    #expect(e.key == key)
                    return (i, e.timeoutMillis)
                }
            }
        }
        func once() throws -> String {
            let a = try rig.connect(from: rig.client, to: "10.96.0.18", port: 80)
            #expect(a.count == 1)
            return a.first ?? ""
        }

        let first = try once()
        #expect(first.hasSuffix(":8080 10.1.0.1"))
        let recorded = try entries()
        #expect(recorded.count == 1)
        #expect(recorded.first?.1 == 2000)
        // The entry's slot is the one whose backend answered.
        if let slot = recorded.first?.0 {
            let live = try conn.ruleset(tables: [table])
            let backend = live.sets.first { $0.name == Layout.backends }?.elements.first {
                $0.key == Value.bytes([Services.ip("10.96.0.18").value, .proto(6), .port(80), .u32(UInt32(slot))])
            }
            let endpoint = String(first.prefix { $0 != ":" })
            #expect(backend?.data == .value(Value.bytes([Services.ip(endpoint).value, .port(8080)])))
        }
        // Every new connection refreshes the timeout: 2.4 s after the first, still the same endpoint.
        for _ in 0..<2 {
            Thread.sleep(forTimeInterval: 1.2)
            #expect(try once() == first)
        }
        #expect(try rig.connect(from: rig.client, to: "10.96.0.18", port: 80, count: 10) == Array(repeating: first, count: 10))
        // Two seconds without a new connection: forgotten.
        Thread.sleep(forTimeInterval: 2.6)
        #expect(try entries().isEmpty)

        // The endpoint leaves: the client moves to another one, and stays there.
        let now = try once()
        sticky.clusterEndpoints.removeAll { now.hasPrefix($0.address.description + ":") }
        #expect(sticky.clusterEndpoints.count == 2)
        try conn.apply(proxier.update([(sticky.key, sticky)]))
        let after = try rig.connect(from: rig.client, to: "10.96.0.18", port: 80, count: 10)
        #expect(Set(after).count == 1)
        #expect(after.first != now)
        #expect(after.allSatisfy { $0.hasSuffix(":8080 10.1.0.1") })
    }

    @Test("Maglev: two nodes send a client to the same endpoint; the five-tuple hash spreads one client's connections")
    func maglev() throws {
        let (a, b) = (try ProxyRig(), try ProxyRig())
        defer {
            a.delete()
            b.delete()
        }
        let ports = [Services.maglev, Services.maglev5, Services.maglev6, Services.maglev56]
        for rig in [a, b] {
            var proxier = NFTProxier(options: Services.options)
            try rig.node.enter {
                let conn = try NFTablesConnection()
                try conn.apply(proxier.fullSync(ports, live: Ruleset()))
            }
        }
        // Source-address Maglev: one endpoint per client, the same one through either node.
        for (from, to, port) in [("client", "10.96.0.19", 80), ("podClient", "10.96.0.19", 80), ("client", "10.0.0.1", 30019),
                                 ("podClient", "fd02::19", 80)] {
            let answers = try [a, b].map { rig in
                try rig.connect(from: from == "client" ? rig.client : rig.podClient, to: to, port: port, count: 10, timeout: 1)
            }
            #expect(Set(answers[0]).count == 1, "\(from) → \(to):\(port) gave \(Set(answers[0]))")
            #expect(answers[0].count == 10)
            #expect(answers[0] == answers[1], "the two nodes disagree for \(from) → \(to):\(port)")
        }
        // Five-tuple: every connection (a new source port) is placed on its own.
        for to in ["10.96.0.20", "fd02::20"] {
            let answers = try a.connect(from: a.podClient, to: to, port: 80, count: 40, timeout: 1)
            #expect(answers.count == 40)
            #expect(Set(answers).count == 3, "five-tuple Maglev to \(to) gave \(Set(answers))")
        }
    }

    @Test("two Services claiming one external IP: the first keeps it, the second takes over when the first goes")
    func conflictingFrontends() throws {
        let rig = try ProxyRig()
        defer { rig.delete() }
        let a = ServicePortInfo(name: Services.name("first"), family: .v4, clusterIP: Services.ip("10.96.0.21"), port: 80,
                                externalIPs: [Services.ip("192.168.50.9")], clusterEndpoints: [Services.ep("10.1.0.2")],
                                externalEndpoints: [Services.ep("10.1.0.2")], hasEndpoints: true)
        let b = ServicePortInfo(name: Services.name("second"), family: .v4, clusterIP: Services.ip("10.96.0.22"), port: 80,
                                externalIPs: [Services.ip("192.168.50.9")], clusterEndpoints: [Services.ep("10.1.0.3"), Services.ep("10.1.0.4")],
                                externalEndpoints: [Services.ep("10.1.0.3"), Services.ep("10.1.0.4")], hasEndpoints: true)
        var proxier = NFTProxier(families: [.v4], options: Services.options)
        let conn = try rig.node.enter { try NFTablesConnection() }
        try conn.apply(proxier.fullSync([a, b], live: Ruleset()))
        #expect(proxier.conflicts.map(\.description)
                == ["default/second:http: 192.168.50.9 tcp 80 is already default/first:http's; ignored while default/first:http has it"])
        #expect(Set(try rig.connect(from: rig.client, to: "192.168.50.9", port: 80, count: 10)) == ["10.1.0.2:8080 10.1.0.1"])
        #expect(Set(try rig.connect(from: rig.client, to: "10.96.0.22", port: 80, count: 20))
                == ["10.1.0.3:8080 10.1.0.1", "10.1.0.4:8080 10.1.0.1"])

        // The first goes: the second's elements take the frontend, in the same transaction.
        try conn.apply(proxier.update([(a.key, nil)]))
        #expect(proxier.conflicts.isEmpty)
        #expect(Set(try rig.connect(from: rig.client, to: "192.168.50.9", port: 80, count: 20))
                == ["10.1.0.3:8080 10.1.0.1", "10.1.0.4:8080 10.1.0.1"])
        try conn.apply(proxier.update([]))  // the first's class chains go
        #expect(try conn.ruleset(tables: proxier.tableIDs).normalized == proxier.currentRuleset.normalized)

        // It comes back: the second keeps what it holds now.
        try conn.apply(proxier.update([(a.key, a)]))
        #expect(proxier.conflicts.map(\.owner) == ["default/second:http"])
        #expect(Set(try rig.connect(from: rig.client, to: "192.168.50.9", port: 80, count: 20))
                == ["10.1.0.3:8080 10.1.0.1", "10.1.0.4:8080 10.1.0.1"])
        #expect(try conn.ruleset(tables: proxier.tableIDs).normalized == proxier.currentRuleset.normalized)
    }

    @Test("a port the ClusterIP's Service does not have is rejected; an unallocated address of the Service CIDRs is dropped")
    func unknownPortsAndAddresses() throws {
        let rig = try ProxyRig()
        defer { rig.delete() }
        // A Service CIDR over real pod addresses, so that a drop differs from leaving the packet alone.
        var options = Services.options
        options.serviceCIDRs = [IPPrefix("10.1.0.8/29")!]
        var proxier = NFTProxier(options: options)
        try rig.node.enter {
            let conn = try NFTablesConnection()
            try conn.apply(proxier.fullSync([Services.web, Services.web6, Services.empty], live: Ruleset()))
        }
        let cases: [(String, NetworkNamespace, String, Int, Double, [String])] = [
            ("the Service's port is served", rig.client, "10.96.0.10", 80, 1, ["10.1.0.2:8080 10.1.0.1", "10.1.0.3:8080 10.1.0.1"]),
            ("another port of its ClusterIP is rejected", rig.client, "10.96.0.10", 81, 1, ["REFUSED"]),
            ("… from a pod too", rig.podClient, "10.96.0.10", 8080, 1, ["REFUSED"]),
            ("… and from the node", rig.node, "10.96.0.10", 443, 1, ["REFUSED"]),
            ("a Service without endpoints: rejected on its port", rig.client, "10.96.0.12", 80, 1, ["REFUSED"]),
            ("… and on any other", rig.client, "10.96.0.12", 81, 1, ["REFUSED"]),
            ("IPv6: another port of the ClusterIP is rejected", rig.client, "fd02::10", 81, 1.5, ["REFUSED"]),
            ("an address in the Service CIDR that no Service has is dropped", rig.client, "10.1.0.9", 8080, 0.7, ["TIMEOUT"]),
            ("an address outside it is left alone", rig.client, "10.1.0.2", 8080, 1, ["10.1.0.2:8080 10.0.0.2"]),
        ]
        for (what, from, address, port, timeout, expected) in cases {
            let answers = try rig.connect(from: from, to: address, port: port, count: 1, timeout: timeout)
            #expect(answers.count == 1 && expected.contains(answers[0]), "\(what): \(answers)")
        }
    }

    @Test("what the proxier writes lists with nft as our rendering, and re-loads identically")
    func nftRoundTrip() throws {
        let ns = try NetworkNamespace(), fresh = try NetworkNamespace()
        defer {
            ns.delete()
            fresh.delete()
        }
        // Several CIDRs per family (adjacent ones too, which nft merges) make anonymous interval sets.
        var options = Services.options
        options.clusterCIDRs += [IPPrefix("10.2.0.0/16")!, IPPrefix("fd01:1::/48")!]
        options.serviceCIDRs += [IPPrefix("10.112.0.0/12")!]
        let desired = NFTProxier.desiredRuleset(Services.all, families: [.v4, .v6], options: options)
        let written = try ns.enter {
            let conn = try NFTablesConnection()
            try conn.apply(Transaction.adding(desired))
            return try conn.ruleset()
        }
        #expect(written.normalized == desired.normalized)
        let listing = try ns.exec(["nft", "list", "ruleset"]).stdout
        #expect(listing == written.nftText)
        try fresh.exec(["nft", "-f", "-"], input: listing)
        let reloaded = try fresh.enter { try NFTablesConnection().ruleset() }
        #expect(reloaded.normalized == written.normalized)
    }
}
