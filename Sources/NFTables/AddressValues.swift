import NetworkTypes

extension IPAddress {
    /// The address as an nftables value (ipv4_addr or ipv6_addr).
    public var value: Value {
        switch self {
        case .v4(let a): .ipv4(a)
        case .v6(let a): .ipv6(a)
        }
    }

    /// The nftables family whose packets carry this address.
    public var nftFamily: Family { family.nftFamily }
}

extension IPFamily {
    /// The nftables table family of this IP family.
    public var nftFamily: Family { self == .v4 ? .ip : .ip6 }
}
