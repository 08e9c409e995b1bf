import IPVS
import NetworkTypes
import ProxyCore

/// What IPVS must hold for a set of service ports, as kube-proxy's IPVS mode lays it out: one
/// virtual service per frontend address and port (ClusterIP, each externalIP, each load-balancer
/// IP, and each node-port address for a NodePort), and the addresses that are not the node's
/// own on the dummy interface, so that IPVS (which only sees packets addressed to this host)
/// gets them.
///
/// Where IPVS cannot say what the nftables backend says, this is the difference (README, IPVS):
/// - A virtual service has one destination list, whoever the client is: eTP Local's short
///   circuit (pods and the node reaching an external address get every endpoint) does not
///   exist here; external frontends always get the local endpoints only.
/// - A frontend without destinations is answered by IPVS itself with ICMP port unreachable
///   (reject), also where the nftables backend drops (eTP Local without local endpoints).
/// - Weights are IPVS weights (wrr, mh); `rr` when every endpoint weighs the same.
/// - Maglev is the kernel's `mh`, whose table size is fixed when the kernel is built (M=4093 on
///   Debian's), not Sluice's ladder; the five-tuple hash is mh's source-port flag.
public struct IPVSLayout: Sendable {
    public struct Desired: Hashable, Sendable {
        public var state = IPVSState()
        /// Addresses the dummy interface must hold (ClusterIPs, externalIPs, load-balancer IPs).
        public var addresses: Set<IPAddress> = []
        /// Which service port each virtual service serves (for names in logs and errors).
        public var owners: [VirtualServiceKey: ServicePortKey] = [:]
        /// Frontends two service ports claim; the first (in key order) keeps it.
        public var conflicts: [String] = []
    }

    public var node: NodeContext

    public init(node: NodeContext) { self.node = node }

    public func desired(_ ports: [ServicePortInfo]) -> Desired {
        var d = Desired()
        for port in ports.sorted(by: { $0.key < $1.key }) { add(port, to: &d) }
        return d
    }

    func add(_ port: ServicePortInfo, to d: inout Desired) {
        let family: IPFamily = port.family
        let proto = port.name.protocol.number
        var frontends: [(VirtualServiceKey, [Endpoint], onDummy: Bool)] = []
        if let clusterIP = port.clusterIP {
            frontends.append((VirtualServiceKey(protocol: proto, address: clusterIP, port: port.port), port.clusterEndpoints, true))
        }
        for a in port.externalIPs + port.loadBalancerIPs where a.family == family {
            frontends.append((VirtualServiceKey(protocol: proto, address: a, port: port.port), port.externalEndpoints, true))
        }
        if let nodePort = port.nodePort {
            for a in node.effectiveNodePortAddresses where a.family == family {
                frontends.append((VirtualServiceKey(protocol: proto, address: a, port: nodePort), port.externalEndpoints, false))
            }
        }
        for (key, endpoints, onDummy) in frontends {
            if let owner = d.owners[key] {
                if owner != port.key { d.conflicts.append("\(key) is claimed by \(owner) and \(port.key); \(owner) keeps it") }
                continue
            }
            d.owners[key] = port.key
            d.state.insert(service(key, port, endpoints), destinations: endpoints.map {
                Destination(address: $0.address, port: $0.port, weight: UInt32($0.weight))
            })
            if onDummy { d.addresses.insert(key.address) }
        }
    }

    /// Scheduler and persistence for one frontend of `port`.
    func service(_ key: VirtualServiceKey, _ port: ServicePortInfo, _ endpoints: [Endpoint]) -> VirtualService {
        var scheduler: IPVSScheduler
        var flags: VirtualServiceFlags = []
        switch port.balancing {
        case .maglev(let fiveTuple):
            scheduler = .maglev
            // Fallback: a drained (weight 0) destination's clients go elsewhere rather than nowhere.
            flags.insert(.schedulerFallback)
            if fiveTuple { flags.insert(.schedulerPort) }
        case .random:
            let weights = Set(endpoints.map(\.weight))
            scheduler = weights.count <= 1 ? .roundRobin : .weightedRoundRobin
        }
        var s = VirtualService(key: key, scheduler: scheduler, flags: flags)
        if let timeout = port.affinityTimeoutSeconds {
            s.flags.insert(.persistent)
            s.timeout = timeout
        }
        return s
    }
}
