import Netfilter
import NetworkTypes
import NFTables
import Proxier
import ProxyCore
import SluiceTestSupport
import Testing

/// UDP and SCTP Service ports, IPv4 and IPv6, as ProxyCore hands them to the proxier.
enum ProtocolServices {
    static func name(_ n: String, _ proto: L4Protocol) -> ServicePortName {
        ServicePortName(namespace: "default", name: n, port: "p", protocol: proto)
    }

    /// A Service port with the same endpoints for cluster and external traffic.
    static func port(_ n: String, _ proto: L4Protocol, _ family: IPFamily, clusterIP: String, port: UInt16, nodePort: UInt16? = nil,
                     endpoints: [Endpoint]) -> ServicePortInfo {
        ServicePortInfo(name: name(n, proto), family: family, clusterIP: Services.ip(clusterIP), port: port, nodePort: nodePort,
                        clusterEndpoints: endpoints, externalEndpoints: endpoints, hasEndpoints: !endpoints.isEmpty)
    }

    static let all: [ServicePortInfo] = {
        var out: [ServicePortInfo] = []
        for proto in [L4Protocol.udp, .sctp] {
            // 10.96.1.x for UDP, 10.96.2.x for SCTP; NodePorts 3101x and 3102x.
            let (net, np): (Int, UInt16) = proto == .udp ? (1, 31010) : (2, 31020)
            out += [
                port("web", proto, .v4, clusterIP: "10.96.\(net).10", port: 53, nodePort: np,
                     endpoints: [Services.ep("10.1.0.2"), Services.ep("10.1.0.3")]),
                port("empty", proto, .v4, clusterIP: "10.96.\(net).11", port: 53, nodePort: np + 1, endpoints: []),
                port("web", proto, .v6, clusterIP: "fd02::\(net):10", port: 53, nodePort: np + 2,
                     endpoints: [Services.ep("fd01::2"), Services.ep("fd01::3")]),
                port("empty", proto, .v6, clusterIP: "fd02::\(net):11", port: 53, endpoints: []),
                ServicePortInfo(name: name("local", proto), family: .v4, clusterIP: Services.ip("10.96.\(net).12"), port: 53,
                                nodePort: np + 3, externalPolicyLocal: true,
                                clusterEndpoints: [Services.ep("10.1.0.4")], externalEndpoints: [], hasEndpoints: true),
                // Its endpoint is the address the pods' namespace sends from (its other pods share
                // that namespace, so only a pod reaching itself can be tested from there).
                port("self", proto, .v4, clusterIP: "10.96.\(net).13", port: 53, endpoints: [Services.ep("10.1.0.2", 8443)]),
            ]
        }
        // One Service, one port number, two protocols: each protocol goes to its own target.
        out.append(port("dns", .tcp, .v4, clusterIP: "10.96.3.10", port: 53, endpoints: [Services.ep("10.1.0.5", 8443)]))
        out.append(port("dns", .udp, .v4, clusterIP: "10.96.3.10", port: 53, endpoints: [Services.ep("10.1.0.6", 8080)]))
        out.append(port("dns", .sctp, .v4, clusterIP: "10.96.3.10", port: 53, endpoints: [Services.ep("10.1.0.7", 8443)]))
        return out
    }()
}

extension ProxyRig {
    /// Programs the node with these service ports, both families, as a full sync over what it holds.
    func program(_ ports: [ServicePortInfo]) throws {
        var proxier = NFTProxier(options: Services.options)
        try node.enter {
            let conn = try NFTablesConnection()
            try conn.apply(proxier.fullSync(ports, live: try conn.ruleset(tables: proxier.tableIDs)))
        }
    }
}

@Suite("Proxier: UDP and SCTP Services on real packets", .serialized)
struct ProtocolPacketTests {
    typealias Case = (what: String, from: NetworkNamespace, address: String, port: Int, count: Int, expected: Set<String>)

    @Test("UDP and SCTP: ClusterIP, NodePort, no endpoints, eTP Local, from the node, hairpin, IPv4 and IPv6")
    func udpAndSCTP() throws {
        let rig = try ProxyRig()
        defer { rig.delete() }
        try rig.program(ProtocolServices.all)
        let masq4 = "10.1.0.1", masq6 = "fd01::1", pod4 = "10.1.1.2", pod6 = "fd01:0:0:1::2"
        func cases(net: Int, np: Int) -> [Case] {
            [
                ("ClusterIP from outside the cluster CIDR: both endpoints, masqueraded", rig.client, "10.96.\(net).10", 53, 20,
                 ["10.1.0.2:8080 \(masq4)", "10.1.0.3:8080 \(masq4)"]),
                ("ClusterIP from a pod: both endpoints, source kept", rig.podClient, "10.96.\(net).10", 53, 20,
                 ["10.1.0.2:8080 \(pod4)", "10.1.0.3:8080 \(pod4)"]),
                ("NodePort on the node IP: masqueraded", rig.client, "10.0.0.1", np, 20,
                 ["10.1.0.2:8080 \(masq4)", "10.1.0.3:8080 \(masq4)"]),
                ("NodePort on the node's other IP, from a pod: masqueraded", rig.podClient, "10.1.1.1", np, 10,
                 ["10.1.0.2:8080 \(masq4)", "10.1.0.3:8080 \(masq4)"]),
                ("no endpoints: ClusterIP rejects", rig.client, "10.96.\(net).11", 53, 1, ["REFUSED"]),
                ("no endpoints: NodePort rejects", rig.client, "10.0.0.1", np + 1, 1, ["REFUSED"]),
                ("eTP Local without local endpoints: NodePort drops", rig.client, "10.0.0.1", np + 3, 1, ["TIMEOUT"]),
                ("eTP Local without local endpoints: ClusterIP still serves", rig.client, "10.96.\(net).12", 53, 3,
                 ["10.1.0.4:8080 \(masq4)"]),
                ("ClusterIP from the node itself: masqueraded", rig.node, "10.96.\(net).10", 53, 20,
                 ["10.1.0.2:8080 \(masq4)", "10.1.0.3:8080 \(masq4)"]),
                ("a pod reaching itself through its Service is masqueraded (hairpin)",
                 rig.pods, "10.96.\(net).13", 53, 3, ["10.1.0.2:8443 \(masq4)"]),
                ("an address no Service has: untouched", rig.client, "10.96.\(net).99", 53, 1, ["TIMEOUT"]),
                ("IPv6 ClusterIP from outside: masqueraded", rig.client, "fd02::\(net):10", 53, 20,
                 ["fd01::2:8080 \(masq6)", "fd01::3:8080 \(masq6)"]),
                ("IPv6 ClusterIP from a pod: source kept", rig.podClient, "fd02::\(net):10", 53, 20,
                 ["fd01::2:8080 \(pod6)", "fd01::3:8080 \(pod6)"]),
                ("IPv6 ClusterIP from the node itself", rig.node, "fd02::\(net):10", 53, 20,
                 ["fd01::2:8080 \(masq6)", "fd01::3:8080 \(masq6)"]),
                ("IPv6 NodePort: masqueraded", rig.client, "fd00::1", np + 2, 20, ["fd01::2:8080 \(masq6)", "fd01::3:8080 \(masq6)"]),
                ("IPv6 no endpoints: ClusterIP rejects", rig.client, "fd02::\(net):11", 53, 1, ["REFUSED"]),
            ]
        }
        for c in cases(net: 1, np: 31010) {
            let answers = try rig.udp(from: c.from, to: c.address, port: c.port, count: c.count)
            #expect(answers.count == c.count, "UDP \(c.what)")
            #expect(Set(answers) == c.expected, "UDP \(c.what)")
        }
        for c in cases(net: 2, np: 31020) {
            let answers = try rig.sctp(from: c.from, to: c.address, port: c.port, count: c.count)
            #expect(answers.count == c.count, "SCTP \(c.what)")
            #expect(Set(answers) == c.expected, "SCTP \(c.what)")
        }

        // One port number, three protocols, three targets.
        #expect(try rig.connect(from: rig.podClient, to: "10.96.3.10", port: 53, count: 2) == ["10.1.0.5:8443 \(pod4)", "10.1.0.5:8443 \(pod4)"])
        #expect(try rig.udp(from: rig.podClient, to: "10.96.3.10", port: 53, count: 2) == ["10.1.0.6:8080 \(pod4)", "10.1.0.6:8080 \(pod4)"])
        #expect(try rig.sctp(from: rig.podClient, to: "10.96.3.10", port: 53, count: 2) == ["10.1.0.7:8443 \(pod4)", "10.1.0.7:8443 \(pod4)"])
    }
}
