import NetworkTypes

/// What the IPVS module of a kernel holds, as plain values: virtual services, each with its
/// destinations (real servers). Backend-neutral: `Netfilter` writes and reads these through
/// generic netlink; the IPVS proxier computes the desired ones from service ports.
///
/// IPVS identifies a virtual service by protocol, address and port (Sluice uses no firewall
/// marks), and a destination by address and port within its service.
public struct VirtualServiceKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// IPPROTO_TCP, IPPROTO_UDP or IPPROTO_SCTP.
    public var `protocol`: UInt8
    public var address: IPAddress
    public var port: UInt16

    public init(protocol: UInt8, address: IPAddress, port: UInt16) {
        self.protocol = `protocol`
        self.address = address
        self.port = port
    }

    public var family: IPFamily { address.family }

    /// `TCP 10.0.0.1:80`, `UDP [fd00::1]:53`: as ipvsadm names a service.
    public var description: String {
        "\(IPVSProtocolName.name(`protocol`)) \(Endpoint(address: address, port: port))"
    }

    public static func < (a: VirtualServiceKey, b: VirtualServiceKey) -> Bool {
        (a.address, a.port, a.protocol) < (b.address, b.port, b.protocol)
    }
}

/// The IPVS scheduler of a virtual service. Sluice uses four; any other name the kernel
/// reports is kept as read so a foreign service shows up faithfully.
public struct IPVSScheduler: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Round robin: every destination with a non-zero weight in turn.
    public static let roundRobin = IPVSScheduler(rawValue: "rr")
    /// Weighted round robin: Sluice's endpoint weights.
    public static let weightedRoundRobin = IPVSScheduler(rawValue: "wrr")
    /// Source hashing: a client address always picks the same destination while the set is stable.
    public static let sourceHashing = IPVSScheduler(rawValue: "sh")
    /// Maglev hashing (`sluice.dev/load-balancing: maglev`).
    public static let maglev = IPVSScheduler(rawValue: "mh")

    public var description: String { rawValue }
}

/// Virtual-service flags Sluice sets (IP_VS_SVC_F_*). The kernel adds its own (hashed) on
/// readback; those are not part of the desired state and are dropped when read.
public struct VirtualServiceFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Persistence: a client stays on one destination until `timeout` passes idle.
    public static let persistent = VirtualServiceFlags(rawValue: 0x0001)
    /// sh and mh: pick another destination when the hashed one has weight 0.
    public static let schedulerFallback = VirtualServiceFlags(rawValue: 0x0008)
    /// sh and mh: hash the client's port too (Maglev over the 5-tuple rather than the address).
    public static let schedulerPort = VirtualServiceFlags(rawValue: 0x0010)

    /// The flags userspace sets; everything else the kernel reports is its own bookkeeping.
    public static let userFlags: VirtualServiceFlags = [.persistent, .schedulerFallback, .schedulerPort,
                                                        VirtualServiceFlags(rawValue: 0x0004), VirtualServiceFlags(rawValue: 0x0020)]
}

/// One IPVS virtual service's settings (its key plus scheduler and persistence).
public struct VirtualService: Hashable, Sendable, CustomStringConvertible {
    public var key: VirtualServiceKey
    public var scheduler: IPVSScheduler
    public var flags: VirtualServiceFlags
    /// Persistence timeout in seconds (used with `.persistent`).
    public var timeout: UInt32
    /// Persistence granularity: IPv4 a netmask (255.255.255.255: per client address), IPv6 a
    /// prefix length (128). The kernel reports its default when persistence is off.
    public var netmask: UInt32

    public init(key: VirtualServiceKey, scheduler: IPVSScheduler, flags: VirtualServiceFlags = [],
                timeout: UInt32 = 0, netmask: UInt32? = nil) {
        self.key = key
        self.scheduler = scheduler
        self.flags = flags
        self.timeout = timeout
        self.netmask = netmask ?? Self.defaultNetmask(key.family)
    }

    /// Per-client granularity, which is also what the kernel reports for a service without persistence.
    public static func defaultNetmask(_ family: IPFamily) -> UInt32 { family == .v6 ? 128 : 0xffff_ffff }

    /// Client-address affinity for `seconds`, as kube-proxy's sessionAffinity ClientIP.
    public static func persistent(_ key: VirtualServiceKey, scheduler: IPVSScheduler, seconds: UInt32) -> VirtualService {
        VirtualService(key: key, scheduler: scheduler, flags: .persistent, timeout: seconds)
    }

    public var description: String {
        var s = "\(key) \(scheduler)"
        if flags.contains(.persistent) { s += " persistent \(timeout)" }
        if flags.contains(.schedulerFallback) { s += " flag-1" }
        if flags.contains(.schedulerPort) { s += " flag-2" }
        return s
    }
}

/// How IPVS forwards to a destination. Sluice uses masquerading (full NAT of the destination)
/// only: the real servers are pods, not hosts sharing the virtual address.
public enum ForwardMethod: UInt32, Hashable, Sendable {
    case masquerade = 0, local = 1, tunnel = 2, directRoute = 3
}

public struct DestinationKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16
    public init(address: IPAddress, port: UInt16) {
        self.address = address
        self.port = port
    }
    public var description: String { Endpoint(address: address, port: port).description }
    public static func < (a: DestinationKey, b: DestinationKey) -> Bool { (a.address, a.port) < (b.address, b.port) }
}

/// A real server of a virtual service.
public struct Destination: Hashable, Sendable, CustomStringConvertible {
    public var key: DestinationKey
    /// 0 quiesces it: established connections stay, new ones go elsewhere (Sluice's drain).
    public var weight: UInt32
    public var forward: ForwardMethod
    /// Connection thresholds; 0 is unlimited (Sluice sets none).
    public var upperThreshold: UInt32
    public var lowerThreshold: UInt32

    public init(address: IPAddress, port: UInt16, weight: UInt32 = 1, forward: ForwardMethod = .masquerade,
                upperThreshold: UInt32 = 0, lowerThreshold: UInt32 = 0) {
        key = DestinationKey(address: address, port: port)
        self.weight = weight
        self.forward = forward
        self.upperThreshold = upperThreshold
        self.lowerThreshold = lowerThreshold
    }

    public var description: String {
        var s = "\(key) weight \(weight)"
        if forward != .masquerade { s += " forward \(forward)" }
        return s
    }
}

/// Spells an address and port as ipvsadm does (`[v6]:port`).
struct Endpoint: CustomStringConvertible {
    var address: IPAddress
    var port: UInt16
    var description: String { address.family == .v6 ? "[\(address)]:\(port)" : "\(address):\(port)" }
}

public enum IPVSProtocolName {
    public static func name(_ p: UInt8) -> String {
        switch p {
        case 6: "TCP"
        case 17: "UDP"
        case 132: "SCTP"
        default: "proto-\(p)"
        }
    }
}
