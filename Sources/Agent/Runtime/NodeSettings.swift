import KubeModels
import NetworkTypes
import ProxyCore

/// The node's configuration as flags and the config file give it, completed by this node's
/// Node object: its addresses stand in for node IPs the configuration does not give (as
/// kube-proxy's), and its zone label is read by the change tracker.
public struct NodeSettings: Sendable, Hashable {
    public var configured: NodeContext

    public init(_ configured: NodeContext) { self.configured = configured }

    /// The context to program with, given this node's Node object (nil: not known yet).
    public func effective(_ node: Node?) -> NodeContext {
        var c = configured
        if c.nodeIPs.isEmpty, let node { c.nodeIPs = Self.addresses(of: node) }
        return c
    }

    /// A Node's IPs as kube-proxy picks them: its InternalIP addresses, else its ExternalIP
    /// ones; at most one per family, the first listed family first (the primary one).
    public static func addresses(of node: Node) -> [IPAddress] {
        let all = node.status?.addresses ?? []
        var picked: [IPAddress] = []
        for type in ["InternalIP", "ExternalIP"] {
            for a in all where a.type == type {
                guard let ip = IPAddress(a.address), !picked.contains(where: { $0.family == ip.family }) else { continue }
                picked.append(ip)
            }
            if !picked.isEmpty { break }
        }
        return picked
    }
}
