/// A core/v1 Service, with the fields a service proxy reads.
public struct Service: Codable, Sendable, Hashable {
    public var metadata: ObjectMeta
    public var spec: ServiceSpec
    public var status: ServiceStatus?

    public init(metadata: ObjectMeta, spec: ServiceSpec = ServiceSpec(), status: ServiceStatus? = nil) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try c.decode(ObjectMeta.self, forKey: .metadata)
        spec = try c.decodeIfPresent(ServiceSpec.self, forKey: .spec) ?? ServiceSpec()
        status = try c.decodeIfPresent(ServiceStatus.self, forKey: .status)
    }
}

public struct ServiceSpec: Codable, Sendable, Hashable {
    public var type: String?
    public var clusterIP: String?
    public var clusterIPs: [String]?
    public var ports: [ServicePort]
    public var selector: [String: String]?
    public var externalIPs: [String]?
    public var externalName: String?
    public var sessionAffinity: String?
    public var sessionAffinityConfig: SessionAffinityConfig?
    public var loadBalancerIP: String?
    public var loadBalancerSourceRanges: [String]?
    public var loadBalancerClass: String?
    public var externalTrafficPolicy: String?
    public var internalTrafficPolicy: String?
    public var healthCheckNodePort: Int32?
    public var publishNotReadyAddresses: Bool?
    public var ipFamilies: [String]?
    public var ipFamilyPolicy: String?
    public var allocateLoadBalancerNodePorts: Bool?
    public var trafficDistribution: String?

    public init(
        type: String? = nil,
        clusterIP: String? = nil,
        clusterIPs: [String]? = nil,
        ports: [ServicePort] = [],
        selector: [String: String]? = nil,
        externalIPs: [String]? = nil,
        externalName: String? = nil,
        sessionAffinity: String? = nil,
        sessionAffinityConfig: SessionAffinityConfig? = nil,
        loadBalancerIP: String? = nil,
        loadBalancerSourceRanges: [String]? = nil,
        loadBalancerClass: String? = nil,
        externalTrafficPolicy: String? = nil,
        internalTrafficPolicy: String? = nil,
        healthCheckNodePort: Int32? = nil,
        publishNotReadyAddresses: Bool? = nil,
        ipFamilies: [String]? = nil,
        ipFamilyPolicy: String? = nil,
        allocateLoadBalancerNodePorts: Bool? = nil,
        trafficDistribution: String? = nil
    ) {
        self.type = type
        self.clusterIP = clusterIP
        self.clusterIPs = clusterIPs
        self.ports = ports
        self.selector = selector
        self.externalIPs = externalIPs
        self.externalName = externalName
        self.sessionAffinity = sessionAffinity
        self.sessionAffinityConfig = sessionAffinityConfig
        self.loadBalancerIP = loadBalancerIP
        self.loadBalancerSourceRanges = loadBalancerSourceRanges
        self.loadBalancerClass = loadBalancerClass
        self.externalTrafficPolicy = externalTrafficPolicy
        self.internalTrafficPolicy = internalTrafficPolicy
        self.healthCheckNodePort = healthCheckNodePort
        self.publishNotReadyAddresses = publishNotReadyAddresses
        self.ipFamilies = ipFamilies
        self.ipFamilyPolicy = ipFamilyPolicy
        self.allocateLoadBalancerNodePorts = allocateLoadBalancerNodePorts
        self.trafficDistribution = trafficDistribution
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decodeIfPresent(String.self, forKey: .type)
        clusterIP = try c.decodeIfPresent(String.self, forKey: .clusterIP)
        clusterIPs = try c.decodeIfPresent([String].self, forKey: .clusterIPs)
        ports = try c.decodeIfPresent([ServicePort].self, forKey: .ports) ?? []
        selector = try c.decodeIfPresent([String: String].self, forKey: .selector).map { decoder.stringInterner?.intern($0) ?? $0 }
        externalIPs = try c.decodeIfPresent([String].self, forKey: .externalIPs)
        externalName = try c.decodeIfPresent(String.self, forKey: .externalName)
        sessionAffinity = try c.decodeIfPresent(String.self, forKey: .sessionAffinity)
        sessionAffinityConfig = try c.decodeIfPresent(SessionAffinityConfig.self, forKey: .sessionAffinityConfig)
        loadBalancerIP = try c.decodeIfPresent(String.self, forKey: .loadBalancerIP)
        loadBalancerSourceRanges = try c.decodeIfPresent([String].self, forKey: .loadBalancerSourceRanges)
        loadBalancerClass = try c.decodeIfPresent(String.self, forKey: .loadBalancerClass)
        externalTrafficPolicy = try c.decodeIfPresent(String.self, forKey: .externalTrafficPolicy)
        internalTrafficPolicy = try c.decodeIfPresent(String.self, forKey: .internalTrafficPolicy)
        healthCheckNodePort = try c.decodeIfPresent(Int32.self, forKey: .healthCheckNodePort)
        publishNotReadyAddresses = try c.decodeIfPresent(Bool.self, forKey: .publishNotReadyAddresses)
        ipFamilies = try c.decodeIfPresent([String].self, forKey: .ipFamilies)
        ipFamilyPolicy = try c.decodeIfPresent(String.self, forKey: .ipFamilyPolicy)
        allocateLoadBalancerNodePorts = try c.decodeIfPresent(Bool.self, forKey: .allocateLoadBalancerNodePorts)
        trafficDistribution = try c.decodeIfPresent(String.self, forKey: .trafficDistribution)
    }
}

public struct ServicePort: Codable, Sendable, Hashable {
    /// "" when the Service has a single unnamed port.
    public var name: String
    /// TCP when absent.
    public var `protocol`: PortProtocol
    public var port: Int32
    public var targetPort: IntOrString?
    public var nodePort: Int32?
    public var appProtocol: String?

    public init(
        name: String = "",
        protocol: PortProtocol = .tcp,
        port: Int32,
        targetPort: IntOrString? = nil,
        nodePort: Int32? = nil,
        appProtocol: String? = nil
    ) {
        self.name = name
        self.protocol = `protocol`
        self.port = port
        self.targetPort = targetPort
        self.nodePort = nodePort
        self.appProtocol = appProtocol
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        `protocol` = try c.decodeIfPresent(PortProtocol.self, forKey: .protocol) ?? .tcp
        port = try c.decode(Int32.self, forKey: .port)
        targetPort = try c.decodeIfPresent(IntOrString.self, forKey: .targetPort)
        nodePort = try c.decodeIfPresent(Int32.self, forKey: .nodePort)
        appProtocol = try c.decodeIfPresent(String.self, forKey: .appProtocol)
    }
}

public struct SessionAffinityConfig: Codable, Sendable, Hashable {
    public struct ClientIPConfig: Codable, Sendable, Hashable {
        public var timeoutSeconds: Int32?
        public init(timeoutSeconds: Int32? = nil) { self.timeoutSeconds = timeoutSeconds }
    }
    public var clientIP: ClientIPConfig?
    public init(clientIP: ClientIPConfig? = nil) { self.clientIP = clientIP }
}

public struct ServiceStatus: Codable, Sendable, Hashable {
    public var loadBalancer: LoadBalancerStatus?
    public init(loadBalancer: LoadBalancerStatus? = nil) { self.loadBalancer = loadBalancer }
}

public struct LoadBalancerStatus: Codable, Sendable, Hashable {
    public var ingress: [LoadBalancerIngress]?
    public init(ingress: [LoadBalancerIngress]? = nil) { self.ingress = ingress }
}

public struct LoadBalancerIngress: Codable, Sendable, Hashable {
    public var ip: String?
    public var hostname: String?
    /// "VIP" or "Proxy"; a proxy skips ingress IPs whose mode is Proxy.
    public var ipMode: String?
    public init(ip: String? = nil, hostname: String? = nil, ipMode: String? = nil) {
        self.ip = ip
        self.hostname = hostname
        self.ipMode = ipMode
    }
}
