import NetworkTypes
import NFTables
import ProxyCore

/// UDP conntrack entries that would keep sending a client's datagrams where they should no
/// longer go. UDP has no connection to end, so an entry made through a Service's dnat lives on
/// after the endpoint is gone (or after a reject while the Service had no endpoints); kube-proxy
/// deletes them, and so does Sluice, right after the transaction that changed the rules.
public struct ConntrackFlow: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The frontend the client sent to: a service address (nil for a NodePort) and port.
    public var frontend: IPAddress?
    public var port: UInt16
    /// The endpoint the entry was translated to; nil: every entry to the frontend.
    public var endpoint: IPAddress?
    /// The family, when neither address says it (every entry to a NodePort).
    public var family: IPFamily? = nil

    /// Arguments for `conntrack -D` (conntrack-tools) that delete exactly these entries.
    public var arguments: [String] {
        var a = ["-D", "-p", "udp"]
        // conntrack-tools reads IPv4 entries unless told otherwise; a NodePort's family is its endpoint's.
        if let family = family ?? (frontend ?? endpoint)?.family { a += ["-f", family == .v6 ? "ipv6" : "ipv4"] }
        if let frontend { a += ["--orig-dst", frontend.description] }
        a += ["--orig-port-dst", String(port)]
        if let endpoint { a += ["--dst-nat", endpoint.description] }
        return a
    }

    public var description: String {
        "udp \(frontend.map(\.description) ?? (family == .v6 ? "[*]" : "*")):\(port)" + (endpoint.map { " → \($0)" } ?? "")
    }

    public static func < (a: ConntrackFlow, b: ConntrackFlow) -> Bool { a.description < b.description }

    /// The entries to delete when a UDP service port changes from `old` to `new`: those to
    /// endpoints it no longer uses, and, when it had no endpoints before, every entry to it
    /// (they hold the reject or drop it got meanwhile).
    public static func stale(old: ServicePortInfo?, new: ServicePortInfo?) -> [ConntrackFlow] {
        guard let old, old.name.protocol == .udp else { return [] }
        var out: Set<ConntrackFlow> = []
        let frontends: [(IPAddress?, UInt16, [Endpoint], [Endpoint])] = {
            var f: [(IPAddress?, UInt16, [Endpoint], [Endpoint])] = []
            if let ip = old.clusterIP { f.append((ip, old.port, old.clusterEndpoints, new?.clusterEndpoints ?? [])) }
            for ip in old.externalIPs + old.loadBalancerIPs {
                f.append((ip, old.port, old.externalEndpoints, new?.externalEndpoints ?? []))
            }
            if let np = old.nodePort { f.append((nil, np, old.externalEndpoints, new?.externalEndpoints ?? [])) }
            return f
        }()
        for (frontend, port, before, after) in frontends {
            let kept = Set(after.filter { $0.weight > 0 }.map(\.address))
            for ep in before where !kept.contains(ep.address) {
                out.insert(ConntrackFlow(frontend: frontend, port: port, endpoint: ep.address))
            }
        }
        return out.sorted()
    }

    /// Entries that blackholed traffic while the port had no endpoints: delete them once it has some.
    public static func revived(old: ServicePortInfo?, new: ServicePortInfo) -> [ConntrackFlow] {
        guard new.name.protocol == .udp, !new.clusterEndpoints.isEmpty,
              old == nil || old?.clusterEndpoints.isEmpty == true else { return [] }
        var out: [ConntrackFlow] = []
        if let ip = new.clusterIP { out.append(ConntrackFlow(frontend: ip, port: new.port, endpoint: nil)) }
        return out
    }
}
