/// An nftables address family: which packets a table sees.
public enum Family: String, Sendable, Hashable, CaseIterable, Comparable {
    case ip, ip6, inet, arp, bridge, netdev

    /// The NFPROTO_* value netlink uses for this family.
    public var nfproto: UInt8 {
        switch self {
        case .inet: 1
        case .ip: 2
        case .arp: 3
        case .netdev: 5
        case .bridge: 7
        case .ip6: 10
        }
    }

    public init?(nfproto: UInt8) {
        guard let f = Family.allCases.first(where: { $0.nfproto == nfproto }) else { return nil }
        self = f
    }

    public static func < (a: Family, b: Family) -> Bool { a.nfproto < b.nfproto }
}
