/// A core/v1 Node: labels (e.g. `topology.kubernetes.io/zone`), pod CIDRs and addresses.
public struct Node: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta
    public var spec: NodeSpec
    public var status: NodeStatus?

    public init(metadata: ObjectMeta, spec: NodeSpec = NodeSpec(), status: NodeStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try c.decode(ObjectMeta.self, forKey: .metadata)
        spec = try c.decodeIfPresent(NodeSpec.self, forKey: .spec) ?? NodeSpec()
        status = try c.decodeIfPresent(NodeStatus.self, forKey: .status)
    }

    /// The node's zone (label `topology.kubernetes.io/zone`).
    public var zone: String? { metadata.label("topology.kubernetes.io/zone") }
}

public struct NodeSpec: Codable, Sendable, Hashable {
    public var podCIDR: String?
    public var podCIDRs: [String]?
    public var providerID: String?
    public var unschedulable: Bool?
    /// The health server reads these: a node the cluster autoscaler is about to remove is
    /// tainted `ToBeDeletedByClusterAutoscaler`, and load balancers should stop sending to it.
    public var taints: [Taint]?
    public init(podCIDR: String? = nil, podCIDRs: [String]? = nil, providerID: String? = nil, unschedulable: Bool? = nil,
                taints: [Taint]? = nil) {
        self.podCIDR = podCIDR
        self.podCIDRs = podCIDRs
        self.providerID = providerID
        self.unschedulable = unschedulable
        self.taints = taints
    }
}

/// A core/v1 Taint.
public struct Taint: Codable, Sendable, Hashable {
    public var key: String
    public var value: String?
    /// "NoSchedule", "PreferNoSchedule" or "NoExecute"; optional here so that one odd taint
    /// does not make the whole Node unreadable.
    public var effect: String?
    public init(key: String, value: String? = nil, effect: String? = nil) {
        self.key = key
        self.value = value
        self.effect = effect
    }
}

public struct NodeStatus: Codable, Sendable, Hashable {
    public struct Address: Codable, Sendable, Hashable {
        /// "InternalIP", "ExternalIP", "Hostname", ...
        public var type: String
        public var address: String
        public init(type: String, address: String) {
            self.type = type
            self.address = address
        }
    }
    public var addresses: [Address]?
    public init(addresses: [Address]? = nil) { self.addresses = addresses }
}
