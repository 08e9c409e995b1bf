import NetworkTypes

/// Identifies one port of one Service, as kube-proxy's ServicePortName does:
/// `namespace/name:port` (port is the port's name, "" for a single unnamed port) and protocol.
public struct ServicePortName: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var namespace: String
    public var name: String
    public var port: String
    public var `protocol`: L4Protocol

    public init(namespace: String, name: String, port: String, protocol: L4Protocol) {
        self.namespace = namespace
        self.name = name
        self.port = port
        self.protocol = `protocol`
    }

    /// `namespace/name:port` (kube-proxy's spelling; no `:port` part when the port is unnamed).
    public var description: String { port.isEmpty ? "\(namespace)/\(name)" : "\(namespace)/\(name):\(port)" }

    public static func < (a: ServicePortName, b: ServicePortName) -> Bool {
        (a.namespace, a.name, a.port, a.protocol.rawValue) < (b.namespace, b.name, b.port, b.protocol.rawValue)
    }
}

/// How connections are spread over a port's endpoints.
public enum LoadBalancing: Hashable, Sendable {
    /// `numgen random`, each endpoint's share in proportion to its weight.
    case random
    /// Maglev consistent hashing of the client address (or the 5-tuple).
    case maglev(fiveTuple: Bool)
}

/// One endpoint of a service port, after the port's target was resolved.
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16
    /// On this node (`nodeName` equals the node's name).
    public var isLocal: Bool
    /// The slice names another node for it: it cannot reach itself through this node (no hairpin
    /// entry here). False when the slice names no node.
    public var onOtherNode: Bool = false
    public var ready: Bool
    public var serving: Bool
    public var terminating: Bool
    /// Zones and nodes this endpoint is hinted for (topology-aware routing).
    public var zoneHints: Set<String>?
    public var nodeHints: Set<String>?
    /// 0…65535 (`sluice.dev/weight`); 0 drains: no new connections.
    public var weight: UInt16

    public init(address: IPAddress, port: UInt16, isLocal: Bool = false, ready: Bool = true, serving: Bool = true,
                terminating: Bool = false, zoneHints: Set<String>? = nil, nodeHints: Set<String>? = nil, weight: UInt16 = 1) {
        self.address = address
        self.port = port
        self.isLocal = isLocal
        self.ready = ready
        self.serving = serving
        self.terminating = terminating
        self.zoneHints = zoneHints
        self.nodeHints = nodeHints
        self.weight = weight
    }

    public var description: String {
        address.family == .v6 ? "[\(address)]:\(port)" : "\(address):\(port)"
    }
}

/// Everything the proxier needs to program one port of one Service in one IP family: its
/// frontends and the endpoints each kind of traffic goes to, with kube-proxy's rules already
/// applied (traffic policies, topology, terminating fallback).
public struct ServicePortInfo: Hashable, Sendable {
    public var name: ServicePortName
    public var family: IPFamily
    public var clusterIP: IPAddress?
    public var port: UInt16
    public var nodePort: UInt16?
    public var externalIPs: [IPAddress]
    /// LoadBalancer ingress IPs (not those with `ipMode: Proxy`).
    public var loadBalancerIPs: [IPAddress]
    public var loadBalancerSourceRanges: [IPPrefix]
    /// ClientIP affinity timeout in seconds; nil when the Service has no affinity.
    public var affinityTimeoutSeconds: UInt32?
    public var externalPolicyLocal: Bool
    public var internalPolicyLocal: Bool
    public var healthCheckNodePort: UInt16?
    /// Endpoints for traffic from inside the cluster (ClusterIP; and all traffic when the
    /// external policy is Cluster). Empty with `hasEndpoints` false: reject.
    public var clusterEndpoints: [Endpoint]
    /// Endpoints for external traffic (NodePort, externalIPs, LB IPs). With eTP Local these are
    /// the local endpoints only; empty means drop (or reject when the Service has none at all).
    public var externalEndpoints: [Endpoint]
    /// Whether the Service has any usable endpoint at all (kube-proxy's hasEndpoints).
    public var hasEndpoints: Bool
    public var balancing: LoadBalancing
    /// The Cluster traffic policy's endpoints (kube-proxy's clusterPolicyChain). They differ
    /// from `clusterEndpoints` only with iTP Local; eTP Local's short circuit (traffic from
    /// pods or from the node itself to an external address is not treated as external)
    /// goes here.
    public var clusterPolicyEndpoints: [Endpoint]

    public init(
        name: ServicePortName, family: IPFamily, clusterIP: IPAddress?, port: UInt16, nodePort: UInt16? = nil,
        externalIPs: [IPAddress] = [], loadBalancerIPs: [IPAddress] = [], loadBalancerSourceRanges: [IPPrefix] = [],
        affinityTimeoutSeconds: UInt32? = nil, externalPolicyLocal: Bool = false, internalPolicyLocal: Bool = false,
        healthCheckNodePort: UInt16? = nil, clusterEndpoints: [Endpoint] = [], externalEndpoints: [Endpoint] = [],
        hasEndpoints: Bool = false, balancing: LoadBalancing = .random, clusterPolicyEndpoints: [Endpoint]? = nil
    ) {
        self.name = name
        self.family = family
        self.clusterIP = clusterIP
        self.port = port
        self.nodePort = nodePort
        self.externalIPs = externalIPs
        self.loadBalancerIPs = loadBalancerIPs
        self.loadBalancerSourceRanges = loadBalancerSourceRanges
        self.affinityTimeoutSeconds = affinityTimeoutSeconds
        self.externalPolicyLocal = externalPolicyLocal
        self.internalPolicyLocal = internalPolicyLocal
        self.healthCheckNodePort = healthCheckNodePort
        self.clusterEndpoints = clusterEndpoints
        self.externalEndpoints = externalEndpoints
        self.hasEndpoints = hasEndpoints
        self.balancing = balancing
        self.clusterPolicyEndpoints = clusterPolicyEndpoints ?? clusterEndpoints
    }

    /// Key for maps and change tracking: one entry per port per family.
    public var key: ServicePortKey { ServicePortKey(name: name, family: family) }
}

public struct ServicePortKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var name: ServicePortName
    public var family: IPFamily

    public init(name: ServicePortName, family: IPFamily) {
        self.name = name
        self.family = family
    }

    public var description: String { "\(name)/\(self.name.protocol.rawValue)/\(family.rawValue)" }
    public static func < (a: ServicePortKey, b: ServicePortKey) -> Bool {
        (a.name, a.family.rawValue) < (b.name, b.family.rawValue)
    }
}

/// What the node knows about itself, as configured (flags / config file).
public struct NodeContext: Hashable, Sendable {
    public var nodeName: String
    public var zone: String?
    public var nodeIPs: [IPAddress]
    /// Pod CIDRs: traffic from outside them to a ClusterIP is masqueraded (kube-proxy's
    /// cluster-CIDR local-traffic detection). Empty: no such masquerade.
    public var clusterCIDRs: [IPPrefix]
    /// Service CIDRs: traffic to an address in them that no Service has is dropped (kube-proxy's
    /// nftables mode). Empty: left alone.
    public var serviceCIDRs: [IPPrefix]
    /// Addresses NodePorts answer on; empty means the node IPs.
    public var nodePortAddresses: [IPAddress]
    public var masqueradeAll: Bool
    public var masqueradeMark: UInt32
    /// Only Services labelled `service.kubernetes.io/service-proxy-name` with this value; nil: only unlabelled ones.
    public var proxyName: String?

    public init(nodeName: String, zone: String? = nil, nodeIPs: [IPAddress] = [], clusterCIDRs: [IPPrefix] = [],
                nodePortAddresses: [IPAddress] = [], masqueradeAll: Bool = false, masqueradeMark: UInt32 = 0x4000,
                proxyName: String? = nil, serviceCIDRs: [IPPrefix] = []) {
        self.nodeName = nodeName
        self.serviceCIDRs = serviceCIDRs
        self.zone = zone
        self.nodeIPs = nodeIPs
        self.clusterCIDRs = clusterCIDRs
        self.nodePortAddresses = nodePortAddresses
        self.masqueradeAll = masqueradeAll
        self.masqueradeMark = masqueradeMark
        self.proxyName = proxyName
    }

    public var effectiveNodePortAddresses: [IPAddress] { nodePortAddresses.isEmpty ? nodeIPs : nodePortAddresses }
}
