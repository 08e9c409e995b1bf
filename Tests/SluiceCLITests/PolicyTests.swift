import Foundation
import SluiceTestSupport
import Testing

/// A Service (spec in flow style) and one EndpointSlice per address family it has endpoints in;
/// each endpoint is `address@node`.
func serviceYAML(_ name: String, spec: String, status: String? = nil, targetPort: Int = 8080, protocol proto: String = "TCP",
                 endpoints: [String]) -> String {
    var out = """
    - apiVersion: v1
      kind: Service
      metadata: {name: \(name), namespace: t}
      spec: \(spec)

    """
    if let status { out += "  status: \(status)\n" }
    for family in ["IPv4", "IPv6"] {
        let mine = endpoints.filter { $0.contains(":") == (family == "IPv6") }
        if mine.isEmpty { continue }
        out += """
        - apiVersion: discovery.k8s.io/v1
          kind: EndpointSlice
          metadata: {name: \(name)-\(family.lowercased()), namespace: t, labels: {kubernetes.io/service-name: \(name)}}
          addressType: \(family)
          ports: [{name: p, port: \(targetPort), protocol: \(proto)}]
          endpoints:

        """
        for e in mine {
            let parts = e.split(separator: "@")
            out += "  - {addresses: [\"\(parts[0])\"], nodeName: \(parts.count > 1 ? parts[1] : "node1")}\n"
        }
    }
    return out
}

/// Writes the objects as a List in a fresh folder and runs `sluice apply` on the rig's node.
@discardableResult
func apply(_ items: [String], on rig: ProxyRig, flags: [String], into dir: URL? = nil) throws -> URL {
    let dir = dir ?? FileManager.default.temporaryDirectory.appendingPathComponent("sluice-pol-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let yaml = "apiVersion: v1\nkind: List\nitems:\n" + items.joined()
    try yaml.write(to: dir.appendingPathComponent("objects.yaml"), atomically: true, encoding: .utf8)
    try rig.node.exec([sluice, "apply", "--manifests", dir.path, "--node-name", "node1",
                       "--cluster-cidr", "10.1.0.0/16", "--cluster-cidr", "fd01::/48"] + flags)
    return dir
}

/// How a case is probed: TCP connects, UDP datagrams or SCTP INITs.
enum Via: String { case tcp = "TCP", udp = "UDP", sctp = "SCTP" }

typealias PacketCase = (what: String, via: Via, from: NetworkNamespace, address: String, port: Int, count: Int, expected: Set<String>)

func check(_ cases: [PacketCase], on rig: ProxyRig) throws {
    for c in cases {
        let answers: [String]
        switch c.via {
        // An IPv6 SYN rejected over the rig's veths comes back while connect() still holds the
        // socket lock: TCP drops that ICMPv6 error (TcpExtLockDroppedIcmps) and is refused only at
        // the retransmit 1 s later. A real client, on another host, is refused at once.
        case .tcp: answers = try rig.connect(from: c.from, to: c.address, port: c.port, count: c.count,
                                             timeout: c.expected == ["REFUSED"] && c.address.contains(":") ? 1.5 : 0.7)
        case .udp: answers = try rig.udp(from: c.from, to: c.address, port: c.port, count: c.count)
        case .sctp: answers = try rig.sctp(from: c.from, to: c.address, port: c.port, count: c.count)
        }
        #expect(Set(answers) == c.expected, "\(c.via.rawValue) \(c.what)")
        #expect(answers.count == c.count, "\(c.via.rawValue) \(c.what)")
    }
}

@Suite("Traffic policies, load balancers, IPv6 and UDP/SCTP through sluice apply, on packets", .serialized)
struct PolicyTests {
    static let masq4 = "10.1.0.1", masq6 = "fd01::1", pod4 = "10.1.1.2", pod6 = "fd01:0:0:1::2"

    @Test("iTP Local, LoadBalancer ipMode, UDP and SCTP Services (IPv4)")
    func policiesAndProtocols() throws {
        let rig = try ProxyRig()
        defer { rig.delete() }
        let ports = "ports: [{name: p, port: 80, targetPort: 8080, nodePort: NP}]"
        try apply([
            serviceYAML("itp-local", spec: "{type: NodePort, internalTrafficPolicy: Local, clusterIP: 10.96.0.50, clusterIPs: [10.96.0.50], "
                        + "ipFamilies: [IPv4], \(ports.replacingOccurrences(of: "NP", with: "30150"))}",
                        endpoints: ["10.1.0.2@node1", "10.1.0.3@node2"]),
            serviceYAML("itp-remote", spec: "{internalTrafficPolicy: Local, clusterIP: 10.96.0.51, clusterIPs: [10.96.0.51], ipFamilies: [IPv4], "
                        + "ports: [{name: p, port: 80, targetPort: 8080}]}",
                        endpoints: ["10.1.0.4@node2"]),
            serviceYAML("lb", spec: "{type: LoadBalancer, clusterIP: 10.96.0.52, clusterIPs: [10.96.0.52], ipFamilies: [IPv4], "
                        + "\(ports.replacingOccurrences(of: "NP", with: "30152"))}",
                        status: "{loadBalancer: {ingress: [{ip: 192.168.50.10, ipMode: VIP}, {ip: 192.168.50.11, ipMode: Proxy}, {ip: 192.168.50.12}]}}",
                        endpoints: ["10.1.0.5@node1"]),
            serviceYAML("dns", spec: "{type: NodePort, clusterIP: 10.96.0.53, clusterIPs: [10.96.0.53], ipFamilies: [IPv4], "
                        + "ports: [{name: p, port: 53, targetPort: 8080, nodePort: 30153, protocol: UDP}]}",
                        protocol: "UDP", endpoints: ["10.1.0.6@node1", "10.1.0.7@node2"]),
            serviceYAML("dns-empty", spec: "{clusterIP: 10.96.0.55, clusterIPs: [10.96.0.55], ipFamilies: [IPv4], "
                        + "ports: [{name: p, port: 53, targetPort: 8080, protocol: UDP}]}", endpoints: []),
            serviceYAML("sig", spec: "{type: NodePort, clusterIP: 10.96.0.54, clusterIPs: [10.96.0.54], ipFamilies: [IPv4], "
                        + "ports: [{name: p, port: 9000, targetPort: 8443, nodePort: 30154, protocol: SCTP}]}",
                        targetPort: 8443, protocol: "SCTP", endpoints: ["10.1.0.8@node1"]),
        ], on: rig, flags: [])
        let (masq4, pod4) = (Self.masq4, Self.pod4)
        try check([
            ("iTP Local: a pod reaches only the local endpoint, source kept",
             .tcp, rig.podClient, "10.96.0.50", 80, 20, ["10.1.0.2:8080 \(pod4)"]),
            ("iTP Local does not narrow the NodePort (eTP Cluster)",
             .tcp, rig.client, "10.0.0.1", 30150, 20, ["10.1.0.2:8080 \(masq4)", "10.1.0.3:8080 \(masq4)"]),
            ("iTP Local without local endpoints: a pod is dropped", .tcp, rig.podClient, "10.96.0.51", 80, 1, ["TIMEOUT"]),
            ("iTP Local without local endpoints: so is a client outside the cluster", .tcp, rig.client, "10.96.0.51", 80, 1, ["TIMEOUT"]),
            ("LB ingress with ipMode VIP: served, masqueraded", .tcp, rig.client, "192.168.50.10", 80, 3, ["10.1.0.5:8080 \(masq4)"]),
            ("LB ingress without ipMode: served as VIP", .tcp, rig.client, "192.168.50.12", 80, 3, ["10.1.0.5:8080 \(masq4)"]),
            ("LB ingress with ipMode Proxy: not programmed (the load balancer proxies to the NodePort)",
             .tcp, rig.client, "192.168.50.11", 80, 1, ["TIMEOUT"]),
            ("… whose NodePort serves", .tcp, rig.client, "10.0.0.1", 30152, 3, ["10.1.0.5:8080 \(masq4)"]),
            ("UDP ClusterIP from a pod: both endpoints, source kept",
             .udp, rig.podClient, "10.96.0.53", 53, 20, ["10.1.0.6:8080 \(pod4)", "10.1.0.7:8080 \(pod4)"]),
            ("UDP ClusterIP from outside: masqueraded",
             .udp, rig.client, "10.96.0.53", 53, 20, ["10.1.0.6:8080 \(masq4)", "10.1.0.7:8080 \(masq4)"]),
            ("UDP NodePort: masqueraded", .udp, rig.client, "10.0.0.1", 30153, 20, ["10.1.0.6:8080 \(masq4)", "10.1.0.7:8080 \(masq4)"]),
            ("a UDP Service does not take TCP: a port its ClusterIP does not have is rejected",
             .tcp, rig.client, "10.96.0.53", 53, 1, ["REFUSED"]),
            ("UDP without endpoints: ICMP port unreachable", .udp, rig.podClient, "10.96.0.55", 53, 1, ["REFUSED"]),
            ("SCTP ClusterIP from outside: masqueraded", .sctp, rig.client, "10.96.0.54", 9000, 3, ["10.1.0.8:8443 \(masq4)"]),
            ("SCTP ClusterIP from a pod: source kept", .sctp, rig.podClient, "10.96.0.54", 9000, 3, ["10.1.0.8:8443 \(pod4)"]),
            ("SCTP NodePort: masqueraded", .sctp, rig.client, "10.0.0.1", 30154, 3, ["10.1.0.8:8443 \(masq4)"]),
            ("an SCTP Service does not take UDP: rejected likewise", .udp, rig.client, "10.96.0.54", 9000, 1, ["REFUSED"]),
        ], on: rig)
    }

    @Test("IPv6 (NodePort, externalIP, LB source ranges, eTP/iTP Local, reject, hairpin); --node-port-address; --masquerade-all")
    func ipv6AndNodePortAddresses() throws {
        let rig = try ProxyRig()
        defer { rig.delete() }
        let route = try rig.pods.exec(["ip", "-6", "route", "get", "fd02::67"]).stdout.split(separator: " ").map(String.init)
        let podSource = try #require(route.firstIndex(of: "src").map { route[$0 + 1] })
        let objects = [
            serviceYAML("web", spec: "{type: NodePort, clusterIP: 10.96.0.60, clusterIPs: [10.96.0.60, \"fd02::60\"], "
                        + "ipFamilies: [IPv4, IPv6], ipFamilyPolicy: RequireDualStack, externalIPs: [\"fd02::1:60\"], "
                        + "ports: [{name: p, port: 80, targetPort: 8080, nodePort: 30160}]}",
                        endpoints: ["10.1.0.2@node1", "10.1.0.3@node2", "fd01::2@node1", "fd01::3@node2"]),
            serviceYAML("lb6", spec: "{type: LoadBalancer, clusterIP: \"fd02::61\", clusterIPs: [\"fd02::61\"], ipFamilies: [IPv6], "
                        + "loadBalancerSourceRanges: [\"fd00::/64\"], ports: [{name: p, port: 80, targetPort: 8080, nodePort: 30161}]}",
                        status: "{loadBalancer: {ingress: [{ip: \"fd02::2:61\"}]}}", endpoints: ["fd01::4@node1"]),
            serviceYAML("local6", spec: "{type: NodePort, externalTrafficPolicy: Local, clusterIP: \"fd02::62\", clusterIPs: [\"fd02::62\"], "
                        + "ipFamilies: [IPv6], ports: [{name: p, port: 80, targetPort: 8080, nodePort: 30162}]}",
                        endpoints: ["fd01::5@node1", "fd01::6@node2"]),
            serviceYAML("remote6", spec: "{type: NodePort, externalTrafficPolicy: Local, clusterIP: \"fd02::63\", clusterIPs: [\"fd02::63\"], "
                        + "ipFamilies: [IPv6], externalIPs: [\"fd02::1:63\"], ports: [{name: p, port: 80, targetPort: 8080, nodePort: 30163}]}",
                        endpoints: ["fd01::9@node2"]),
            serviceYAML("itp6", spec: "{internalTrafficPolicy: Local, clusterIP: \"fd02::64\", clusterIPs: [\"fd02::64\"], ipFamilies: [IPv6], "
                        + "ports: [{name: p, port: 80, targetPort: 8080}]}", endpoints: ["fd01::7@node1", "fd01::8@node2"]),
            serviceYAML("itp6-remote", spec: "{internalTrafficPolicy: Local, clusterIP: \"fd02::65\", clusterIPs: [\"fd02::65\"], "
                        + "ipFamilies: [IPv6], ports: [{name: p, port: 80, targetPort: 8080}]}", endpoints: ["fd01::8@node2"]),
            serviceYAML("empty6", spec: "{type: NodePort, clusterIP: \"fd02::66\", clusterIPs: [\"fd02::66\"], ipFamilies: [IPv6], "
                        + "ports: [{name: p, port: 80, targetPort: 8080, nodePort: 30166}]}", endpoints: []),
            // Its endpoint is the address the pods' namespace sends from: a pod reaching itself.
            serviceYAML("self6", spec: "{clusterIP: \"fd02::67\", clusterIPs: [\"fd02::67\"], ipFamilies: [IPv6], "
                        + "ports: [{name: p, port: 80, targetPort: 8443}]}", targetPort: 8443, endpoints: ["\(podSource)@node1"]),
        ]
        let flags = ["--node-port-address", "10.0.0.1", "--node-port-address", "fd00::1"]
        let dir = try apply(objects, on: rig, flags: flags)
        let (masq4, masq6, pod6) = (Self.masq4, Self.masq6, Self.pod6)
        let web6: Set = ["fd01::2:8080 \(masq6)", "fd01::3:8080 \(masq6)"]
        try check([
            ("IPv6 NodePort on a --node-port-address: masqueraded", .tcp, rig.client, "fd00::1", 30160, 20, web6),
            ("IPv4 NodePort on a --node-port-address", .tcp, rig.client, "10.0.0.1", 30160, 20,
             ["10.1.0.2:8080 \(masq4)", "10.1.0.3:8080 \(masq4)"]),
            ("no NodePort on the node's other IPv4 address: the node's own stack refuses",
             .tcp, rig.podClient, "10.1.1.1", 30160, 1, ["REFUSED"]),
            ("no NodePort on the node's other IPv6 address", .tcp, rig.podClient, "fd01:0:0:1::1", 30160, 1, ["REFUSED"]),
            ("IPv6 externalIP: masqueraded", .tcp, rig.client, "fd02::1:60", 80, 20, web6),
            ("IPv6 ClusterIP from a pod: source kept", .tcp, rig.podClient, "fd02::60", 80, 20,
             ["fd01::2:8080 \(pod6)", "fd01::3:8080 \(pod6)"]),
            ("IPv6 LB IP, source inside loadBalancerSourceRanges: served",
             .tcp, rig.client, "fd02::2:61", 80, 3, ["fd01::4:8080 \(masq6)"]),
            ("IPv6 LB IP, source outside loadBalancerSourceRanges: dropped", .tcp, rig.podClient, "fd02::2:61", 80, 1, ["TIMEOUT"]),
            ("IPv6 source ranges do not apply to the ClusterIP", .tcp, rig.podClient, "fd02::61", 80, 3, ["fd01::4:8080 \(pod6)"]),
            ("IPv6 eTP Local NodePort: only the local endpoint, client source kept",
             .tcp, rig.client, "fd00::1", 30162, 20, ["fd01::5:8080 fd00::2"]),
            ("IPv6 eTP Local does not narrow the ClusterIP", .tcp, rig.podClient, "fd02::62", 80, 20,
             ["fd01::5:8080 \(pod6)", "fd01::6:8080 \(pod6)"]),
            ("IPv6 eTP Local without local endpoints: an outside client is dropped at the externalIP",
             .tcp, rig.client, "fd02::1:63", 80, 1, ["TIMEOUT"]),
            ("… and at the NodePort", .tcp, rig.client, "fd00::1", 30163, 1, ["TIMEOUT"]),
            ("… but a pod is short-circuited to every endpoint, source kept", .tcp, rig.podClient, "fd02::1:63", 80, 3,
             ["fd01::9:8080 \(pod6)"]),
            ("… on the NodePort too", .tcp, rig.podClient, "fd00::1", 30163, 3, ["fd01::9:8080 \(pod6)"]),
            ("… and the node itself, masqueraded", .tcp, rig.node, "fd02::1:63", 80, 3, ["fd01::9:8080 \(masq6)"]),
            ("IPv6 iTP Local: a pod reaches only the local endpoint", .tcp, rig.podClient, "fd02::64", 80, 20, ["fd01::7:8080 \(pod6)"]),
            ("IPv6 iTP Local without local endpoints: dropped", .tcp, rig.podClient, "fd02::65", 80, 1, ["TIMEOUT"]),
            ("IPv6 no endpoints: ClusterIP rejects", .tcp, rig.client, "fd02::66", 80, 1, ["REFUSED"]),
            ("IPv6 no endpoints: NodePort rejects", .tcp, rig.client, "fd00::1", 30166, 1, ["REFUSED"]),
            ("IPv6 hairpin: a pod reaching itself through its Service is masqueraded",
             .tcp, rig.pods, "fd02::67", 80, 3, ["\(podSource):8443 \(masq6)"]),
            ("IPv6 ClusterIP from the node itself", .tcp, rig.node, "fd02::60", 80, 20, ["fd01::2:8080 \(masq6)", "fd01::3:8080 \(masq6)"]),
        ], on: rig)

        // --masquerade-all: a pod's traffic to a ClusterIP is masqueraded too, in both families.
        try apply(objects, on: rig, flags: flags + ["--masquerade-all"], into: dir)
        try check([
            ("masquerade-all: IPv4 ClusterIP from a pod", .tcp, rig.podClient, "10.96.0.60", 80, 20,
             ["10.1.0.2:8080 \(masq4)", "10.1.0.3:8080 \(masq4)"]),
            ("masquerade-all: IPv6 ClusterIP from a pod", .tcp, rig.podClient, "fd02::60", 80, 20, web6),
        ], on: rig)
    }

    @Test("a UDP client keeps its source port across an apply that removes its endpoint: it moves to the endpoint left")
    func udpConntrackCleanup() throws {
        let rig = try ProxyRig()
        defer { rig.delete() }
        func objects(_ endpoints: [String]) -> [String] {
            [serviceYAML("dns", spec: "{type: NodePort, clusterIP: 10.96.0.70, clusterIPs: [10.96.0.70, \"fd02::70\"], "
                         + "ipFamilies: [IPv4, IPv6], ipFamilyPolicy: RequireDualStack, "
                         + "ports: [{name: p, port: 53, targetPort: 8080, nodePort: 30170, protocol: UDP}]}",
                         protocol: "UDP", endpoints: endpoints)]
        }
        let all = ["10.1.0.2", "10.1.0.3", "fd01::2", "fd01::3"]
        let dir = try apply(objects(all), on: rig, flags: [])
        // (what, from, address, port, the source the endpoint sees)
        let clients: [(String, NetworkNamespace, String, Int, String)] = [
            ("ClusterIP", rig.podClient, "10.96.0.70", 53, Self.pod4),
            ("NodePort", rig.client, "10.0.0.1", 30170, Self.masq4),
            ("IPv6 ClusterIP", rig.podClient, "fd02::70", 53, Self.pod6),
            ("IPv6 NodePort", rig.client, "fd00::1", 30170, Self.masq6),
        ]
        // Each client sticks to one endpoint while nothing changes. A NodePort client takes the
        // first source port that lands it on the endpoint its family's ClusterIP client uses, so
        // that every client loses its endpoint below.
        var chosen = [String](repeating: "none", count: clients.count), sports = [Int](repeating: 0, count: clients.count)
        for (i, (what, from, address, port, _)) in clients.enumerated() {
            for sport in stride(from: 40000 + i, to: 40200, by: 10) {
                let answers = try rig.udp(from: from, to: address, port: port, count: 3, sourcePort: sport)
                #expect(answers.count == 3 && Set(answers).count == 1, "\(what): \(answers)")
                let endpoint = String(answers.first?.split(separator: " ").first?.dropLast(":8080".count) ?? "none")
                if i % 2 == 1 && endpoint != chosen[i - 1] { continue }
                (chosen[i], sports[i]) = (endpoint, sport)
                break
            }
        }
        try #require(!chosen.contains("none"), "no source port reached the same endpoint: \(chosen)")
        // Remove the endpoints the clients use, one in each family.
        let removed = [chosen[0], chosen[2]]
        try apply(objects(all.filter { !removed.contains($0) }), on: rig, flags: [], into: dir)
        for (i, (what, from, address, port, source)) in clients.enumerated() {
            let left = all.filter { $0.contains(":") == address.contains(":") && !removed.contains($0) }
            let answers = try rig.udp(from: from, to: address, port: port, count: 2, sourcePort: sports[i])
            #expect(answers == ["\(left[0]):8080 \(source)", "\(left[0]):8080 \(source)"],
                    "\(what) from source port \(sports[i]), on \(chosen[i]) before")
        }
    }
}
