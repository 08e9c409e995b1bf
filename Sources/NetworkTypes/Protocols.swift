/// An IP family, spelt as Kubernetes spells it (`spec.ipFamilies`, EndpointSlice `addressType`).
public enum IPFamily: String, Sendable, Hashable, CaseIterable {
    case v4 = "IPv4", v6 = "IPv6"

    /// The family of `address`.
    public init(_ address: IPAddress) {
        self = address.family
    }
}

/// A Service port's transport protocol, spelt as Kubernetes spells it.
public enum L4Protocol: String, Sendable, Hashable, CaseIterable {
    case tcp = "TCP", udp = "UDP", sctp = "SCTP"

    /// The IP protocol number (`meta l4proto`, `ip protocol`, IPVS `protocol`).
    public var number: UInt8 {
        switch self {
        case .tcp: IPProtocol.tcp
        case .udp: IPProtocol.udp
        case .sctp: IPProtocol.sctp
        }
    }
}

/// IP protocol numbers (IANA).
public enum IPProtocol {
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
    public static let sctp: UInt8 = 132
    public static let icmp: UInt8 = 1
    public static let icmpv6: UInt8 = 58
}
