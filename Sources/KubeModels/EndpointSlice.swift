/// A discovery.k8s.io/v1 EndpointSlice.
public struct EndpointSlice: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta
    /// "IPv4", "IPv6" or "FQDN".
    public var addressType: String
    public var endpoints: [Endpoint]
    public var ports: [EndpointPort]

    public init(metadata: ObjectMeta, addressType: String = "IPv4", endpoints: [Endpoint] = [], ports: [EndpointPort] = []) {
        self.metadata = metadata
        self.addressType = addressType
        self.endpoints = endpoints
        self.ports = ports
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try c.decode(ObjectMeta.self, forKey: .metadata)
        addressType = try c.decodeIfPresent(String.self, forKey: .addressType) ?? ""
        endpoints = try c.decodeIfPresent([Endpoint].self, forKey: .endpoints) ?? []
        ports = try c.decodeIfPresent([EndpointPort].self, forKey: .ports) ?? []
    }

    /// The Service this slice belongs to (label `kubernetes.io/service-name`).
    public var serviceName: String? { metadata.label("kubernetes.io/service-name") }
}

public struct Endpoint: Codable, Sendable, Hashable {
    public var addresses: [String]
    public var conditions: EndpointConditions
    public var hostname: String?
    public var nodeName: String?
    public var zone: String?
    public var hints: EndpointHints?
    public var targetRef: ObjectReference?

    public init(
        addresses: [String],
        conditions: EndpointConditions = EndpointConditions(),
        hostname: String? = nil,
        nodeName: String? = nil,
        zone: String? = nil,
        hints: EndpointHints? = nil,
        targetRef: ObjectReference? = nil
    ) {
        self.addresses = addresses
        self.conditions = conditions
        self.hostname = hostname
        self.nodeName = nodeName
        self.zone = zone
        self.hints = hints
        self.targetRef = targetRef
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        addresses = try c.decodeIfPresent([String].self, forKey: .addresses) ?? []
        conditions = try c.decodeIfPresent(EndpointConditions.self, forKey: .conditions) ?? EndpointConditions()
        hostname = try c.decodeIfPresent(String.self, forKey: .hostname)
        let interner = decoder.stringInterner
        nodeName = try c.decodeIfPresent(String.self, forKey: .nodeName).map { interner?.intern($0) ?? $0 }
        zone = try c.decodeIfPresent(String.self, forKey: .zone).map { interner?.intern($0) ?? $0 }
        hints = try c.decodeIfPresent(EndpointHints.self, forKey: .hints)
        targetRef = try c.decodeIfPresent(ObjectReference.self, forKey: .targetRef)
    }
}

/// Endpoint conditions with the API's defaults applied on decode:
/// a missing `ready` means ready, a missing `serving` means the value of `ready`,
/// a missing `terminating` means not terminating.
public struct EndpointConditions: Codable, Sendable, Hashable {
    public var ready: Bool
    public var serving: Bool
    public var terminating: Bool

    public init(ready: Bool = true, serving: Bool? = nil, terminating: Bool = false) {
        self.ready = ready
        self.serving = serving ?? ready
        self.terminating = terminating
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let ready = try c.decodeIfPresent(Bool.self, forKey: .ready) ?? true
        self.init(
            ready: ready,
            serving: try c.decodeIfPresent(Bool.self, forKey: .serving),
            terminating: try c.decodeIfPresent(Bool.self, forKey: .terminating) ?? false
        )
    }
}

public struct EndpointHints: Codable, Sendable, Hashable {
    public struct ForZone: Codable, Sendable, Hashable {
        public var name: String
        public init(name: String) { self.name = name }
    }
    public struct ForNode: Codable, Sendable, Hashable {
        public var name: String
        public init(name: String) { self.name = name }
    }
    public var forZones: [ForZone]?
    public var forNodes: [ForNode]?
    public init(forZones: [ForZone]? = nil, forNodes: [ForNode]? = nil) {
        self.forZones = forZones
        self.forNodes = forNodes
    }
}

public struct ObjectReference: Codable, Sendable, Hashable {
    public var kind: String?
    public var namespace: String?
    public var name: String?
    public var uid: String?
    public init(kind: String? = nil, namespace: String? = nil, name: String? = nil, uid: String? = nil) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
        self.uid = uid
    }
}

public struct EndpointPort: Codable, Sendable, Hashable {
    /// "" when absent: it then matches the Service's unnamed port.
    public var name: String
    /// TCP when absent.
    public var `protocol`: PortProtocol
    /// nil means "all ports" in the API.
    public var port: Int32?
    public var appProtocol: String?

    public init(name: String = "", protocol: PortProtocol = .tcp, port: Int32?, appProtocol: String? = nil) {
        self.name = name
        self.protocol = `protocol`
        self.port = port
        self.appProtocol = appProtocol
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        `protocol` = try c.decodeIfPresent(PortProtocol.self, forKey: .protocol) ?? .tcp
        port = try c.decodeIfPresent(Int32.self, forKey: .port)
        appProtocol = try c.decodeIfPresent(String.self, forKey: .appProtocol)
    }
}
