import Foundation

/// A small network for packet tests:
///
/// ```
///  client 10.0.0.2/24, fd00::2/64 ──veth── node 10.0.0.1, fd00::1 │ node 10.1.0.1, fd01::1 ──veth── pods
///                                                                                                10.1.0.2 … 10.1.0.9
///                                                                                                fd01::2 … fd01::9
///                                                                    node 10.1.1.1, fd01:0:0:1::1 ──veth── pod-client 10.1.1.2, fd01:0:0:1::2
/// ```
/// The node forwards; the client routes service ranges (10.96.0.0/12, 192.168.50.0/24,
/// fd02::/64) to the node; the pods' namespace holds every endpoint address, with TCP and UDP
/// listeners on 8080 and 8443 answering with the address they were reached on and the peer.
/// SCTP needs no listener (and no sctp module): `sctp(from:to:port:)` watches for the INIT.
public final class ProxyRig: @unchecked Sendable {
    public let client: NetworkNamespace
    public let node: NetworkNamespace
    public let pods: NetworkNamespace
    /// A pod (inside the cluster CIDR 10.1.0.0/16, fd01::/56 … ) on its own link, to connect from.
    public let podClient: NetworkNamespace

    public static let podAddresses4 = (2...9).map { "10.1.0.\($0)" }
    public static let podAddresses6 = (2...9).map { "fd01::\($0)" }

    public init() throws {
        client = try NetworkNamespace("sl-c")
        node = try NetworkNamespace("sl-n")
        pods = try NetworkNamespace("sl-p")
        podClient = try NetworkNamespace("sl-q")
        do {
            try build()
        } catch {
            delete()
            throw error
        }
    }

    private func build() throws {
        let tag = String(node.name.split(separator: "-").suffix(2).joined(separator: "x").suffix(10))
        let (vc, vn, vp, vq) = ("c\(tag)", "n\(tag)", "p\(tag)", "q\(tag)")
        try run(["ip", "link", "add", vc, "netns", client.name, "type", "veth", "peer", "name", vn, "netns", node.name])
        try run(["ip", "link", "add", vp, "netns", pods.name, "type", "veth", "peer", "name", vq, "netns", node.name])
        let (vr, vs) = ("r\(tag)", "s\(tag)")
        try run(["ip", "link", "add", vr, "netns", podClient.name, "type", "veth", "peer", "name", vs, "netns", node.name])
        for ns in [client, node, pods, podClient] {
            try ns.exec(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=0"])
            try ns.exec(["sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0"])
        }
        try client.exec(["sysctl", "-qw", "net.ipv6.conf.\(vc).accept_dad=0"])
        try node.exec(["sysctl", "-qw", "net.ipv6.conf.\(vn).accept_dad=0"])
        try node.exec(["sysctl", "-qw", "net.ipv6.conf.\(vq).accept_dad=0"])
        try pods.exec(["sysctl", "-qw", "net.ipv6.conf.\(vp).accept_dad=0"])
        try node.exec(["sysctl", "-qw", "net.ipv6.conf.\(vs).accept_dad=0"])
        try podClient.exec(["sysctl", "-qw", "net.ipv6.conf.\(vr).accept_dad=0"])
        let commands: [(NetworkNamespace, [[String]])] = [
            (client, [["ip", "addr", "add", "10.0.0.2/24", "dev", vc], ["ip", "-6", "addr", "add", "fd00::2/64", "dev", vc, "nodad"],
                      ["ip", "link", "set", vc, "up"],
                      ["ip", "route", "add", "10.96.0.0/12", "via", "10.0.0.1"], ["ip", "route", "add", "192.168.50.0/24", "via", "10.0.0.1"],
                      ["ip", "route", "add", "10.1.0.0/16", "via", "10.0.0.1"],
                      ["ip", "-6", "route", "add", "fd02::/64", "via", "fd00::1"]]),
            (node, [["ip", "addr", "add", "10.0.0.1/24", "dev", vn], ["ip", "-6", "addr", "add", "fd00::1/64", "dev", vn, "nodad"],
                    ["ip", "link", "set", vn, "up"],
                    ["ip", "addr", "add", "10.1.0.1/24", "dev", vq], ["ip", "-6", "addr", "add", "fd01::1/64", "dev", vq, "nodad"],
                    ["ip", "link", "set", vq, "up"],
                    ["ip", "addr", "add", "10.1.1.1/24", "dev", vs], ["ip", "-6", "addr", "add", "fd01:0:0:1::1/64", "dev", vs, "nodad"],
                    ["ip", "link", "set", vs, "up"],
                    ["sysctl", "-qw", "net.ipv4.ip_forward=1"], ["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"],
                    // Service ranges route somewhere (a neighbour that never answers), as on a real node.
                    ["ip", "route", "add", "10.96.0.0/12", "via", "10.1.0.254"], ["ip", "route", "add", "192.168.50.0/24", "via", "10.1.0.254"],
                    ["ip", "-6", "route", "add", "fd02::/64", "via", "fd01::fe"]]),
            (pods, Self.podAddresses4.map { ["ip", "addr", "add", "\($0)/24", "dev", vp] }
                + Self.podAddresses6.map { ["ip", "-6", "addr", "add", "\($0)/64", "dev", vp, "nodad"] }
                + [["ip", "link", "set", vp, "up"], ["ip", "route", "add", "default", "via", "10.1.0.1"],
                   ["ip", "-6", "route", "add", "default", "via", "fd01::1"]]),
            (podClient, [["ip", "addr", "add", "10.1.1.2/24", "dev", vr], ["ip", "-6", "addr", "add", "fd01:0:0:1::2/64", "dev", vr, "nodad"],
                         ["ip", "link", "set", vr, "up"], ["ip", "route", "add", "default", "via", "10.1.1.1"],
                         ["ip", "-6", "route", "add", "default", "via", "fd01:0:0:1::1"]]),
        ]
        for (ns, cmds) in commands { for c in cmds { try ns.exec(c) } }
        for port in ["8080", "8443"] {
            try pods.spawn(["python3", "-c", Probe.tcpEchoAddress, "0.0.0.0", port])
            try pods.spawn(["python3", "-c", Probe.tcpEchoAddress, "::", port])
            try pods.spawn(["python3", "-c", Probe.udpEchoAddress, port] + Self.podAddresses4 + Self.podAddresses6)
        }
        // Wait until the listeners answer.
        for _ in 0..<100 {
            let r4 = try pods.exec(["python3", "-c", Probe.tcpConnect, "10.1.0.2", "8443", "1", "0.2"]).stdout
            let r6 = try pods.exec(["python3", "-c", Probe.tcpConnect, "fd01::2", "8443", "1", "0.2"]).stdout
            let u = try udp(from: pods, to: "fd01::9", port: 8443, timeout: 0.2) + udp(from: pods, to: "10.1.0.9", port: 8443, timeout: 0.2)
            if r4.contains("8443") && r6.contains("8443") && u.allSatisfy({ $0.contains("8443") }) { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw NamespaceError(message: "the pod listeners did not start")
    }

    /// `count` TCP connects from `ns` to address:port; each line an answer (`addr:port peer`),
    /// `REFUSED`, `TIMEOUT` or an errno name.
    public func connect(from ns: NetworkNamespace, to address: String, port: Int, count: Int = 1, timeout: Double = 1) throws -> [String] {
        try ns.exec(["python3", "-c", Probe.tcpConnect, address, String(port), String(count), String(timeout)]).stdout
            .split(separator: "\n").map(String.init)
    }

    /// `count` UDP datagrams from `ns` to address:port, each from a fresh source port (or all from
    /// `sourcePort`); each line an answer (`addr:port peer`), `REFUSED` (ICMP port unreachable),
    /// `TIMEOUT` or an errno name.
    public func udp(from ns: NetworkNamespace, to address: String, port: Int, count: Int = 1, sourcePort: Int = 0,
                    timeout: Double = 0.7) throws -> [String] {
        try ns.exec(["python3", "-c", Probe.udpSend, address, String(port), String(sourcePort), String(count), String(timeout)]).stdout
            .split(separator: "\n").map(String.init)
    }

    /// `count` SCTP INITs from `ns` to address:port, watched for in the pods' namespace; each line
    /// where the INIT arrived and from whom (`addr:port source`), `REFUSED` or `TIMEOUT`.
    public func sctp(from ns: NetworkNamespace, to address: String, port: Int, count: Int = 1, timeout: Double = 0.7) throws -> [String] {
        try run(["python3", "-c", Probe.sctpInit, ns.name, pods.name, address, String(port), String(count), String(timeout)]).stdout
            .split(separator: "\n").map(String.init)
    }

    public func delete() {
        for ns in [client, node, pods, podClient] { ns.delete() }
    }
}
