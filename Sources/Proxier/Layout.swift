import NetworkTypes
import NFTables
import ProxyCore

/// The kernel layout of Sluice's nftables backend, and why.
///
/// Every Service port lives in map elements only; rules and chains are fixed (a handful of
/// "class" chains, one per selection shape, shared by all Services of that shape):
///
/// ```
/// nat-prerouting / nat-output ─► services:
///     ip daddr . meta l4proto . th dport vmap @service-ips            (ClusterIP, external, LB IPs)
///     fib daddr type local meta l4proto . th dport vmap @service-nodeports
/// service-ips element  ─► goto lb-K / lbm-K / lbc-K       (K = selection slots of that port)
/// lb-K:  dnat ip to ip daddr . meta l4proto . th dport . numgen random mod K map @backends
/// np-K:  dnat ip to meta l4proto . th dport . numgen random mod K map @nodeport-backends
/// lbm-K / npm-K: mark for masquerade, then the same dnat; lbc-K: mark unless from the cluster CIDR
/// filter-prerouting / filter-output: daddr . l4proto . dport vmap @no-endpoint-services (reject | drop)
/// nat-postrouting: hairpin (saddr . daddr in @hairpin) and marked packets masquerade
/// eTP Local short-circuit: clients inside the cluster (pod CIDRs) and the node itself reach an
/// external address of an eTP Local Service through every endpoint, as in kube-proxy:
///     services: ip saddr <cluster CIDRs> … vmap @service-ips-internal (and fib saddr type local …)
///     lbi-K: mark if from the node; dnat … numgen random mod K offset 65536 map @backends
/// while clients from outside that find no local endpoint go to drop-chain.
/// firewall: a load-balancer IP with source ranges drops sources outside them:
///     daddr . l4proto . dport @firewall-frontends  daddr . dport . saddr != @firewall-allow drop
///     (@firewall-allow is one concatenated-range set for all Services, not a set per Service)
/// services, after the dispatch (kube-proxy's nftables mode):
///     ip daddr @cluster-ips goto reject-chain     (a port the ClusterIP's Service does not have)
///     ip daddr <service CIDRs> drop               (an address no Service has)
/// ```
/// Two Services claiming one frontend (an externalIP, say): the first keeps the key; the other
/// waits (`ElementStore`) and takes it, in the same transaction, when the first lets go.
///
/// Why (DESIGN.md's kernel facts, and `sluice-bench layouts`, run side by side):
/// - a set per Service is quadratic to create and to reference; here there is none;
/// - a verdict map bound by many rules is quadratic; @service-ips is bound by one rule;
/// - any rule with dnat or a jump added at run time makes the commit re-validate the whole
///   table (0.12 s per change at 100k Services for a chain per Service). Here an endpoint
///   change is a delete + add of map elements only, and a new class chain appears only the
///   first time some Service has that many slots;
/// - a packet does two map lookups (dispatch, backend) whatever the number of Services.
/// Weights become slots: each endpoint gets a number of the K slots in proportion to its weight.
/// Maglev uses hashed class chains instead: `... . jhash ip saddr mod M seed S map @backends`,
/// the slots filled from the weighted Maglev table, so every node sends a client to the same
/// endpoint and losing one of N endpoints moves about 1/N of the clients.
/// ClientIP affinity (kube-proxy's `recent` lists / affinity sets) remembers, per slot, which
/// clients picked it, with the Service's timeout, refreshed by every new connection:
/// ```
/// lba10800-K: ip saddr . ip daddr . meta l4proto . th dport @affinity-0 goto affinity-10800-0
///             ... one lookup per slot ...
///             numgen random mod K vmap { 0 : goto affinity-10800-0, ... }
/// affinity-10800-i: update @affinity-i { ip saddr . ip daddr . meta l4proto . th dport timeout 3h }
///                   dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 1 offset i map @backends
/// ```
/// The sets hold client . frontend and no data: the endpoint still comes from @backends, so an
/// entry can never send a client to an endpoint the Service no longer has (a slot whose endpoint
/// left is taken by another endpoint, or no longer looked up when the slot count shrinks). nft
/// 1.0.6 cannot write a map lookup as the data of `update`, nor a constant in a concatenation;
/// `numgen random mod 1 offset i` is the constant i. The sets and slot chains are per slot index
/// and timeout, shared by every Service: a new affinity Service adds no set and no rule.
public enum Layout {
    public static let tableName = "sluice"

    public static func table(_ family: IPFamily) -> TableID { TableID(family.nftFamily, tableName) }

    // Maps and sets.
    public static let serviceIPs = "service-ips"
    public static let serviceNodePorts = "service-nodeports"
    public static let backends = "backends"
    public static let nodePortBackends = "nodeport-backends"
    public static let noEndpointServices = "no-endpoint-services"
    public static let noEndpointNodePorts = "no-endpoint-nodeports"
    public static let hairpin = "hairpin"
    public static let nodePortIPs = "nodeport-ips"
    public static let serviceIPsInternal = "service-ips-internal"
    public static let serviceNodePortsInternal = "service-nodeports-internal"
    public static let firewallFrontends = "firewall-frontends"
    public static let firewallAllow = "firewall-allow"
    public static let clusterIPs = "cluster-ips"

    /// The maps whose keys are frontends: a key two service ports want is a conflict.
    static let frontendSets: Set<String> = [serviceIPs, serviceNodePorts, serviceIPsInternal, serviceNodePortsInternal,
                                            noEndpointServices, noEndpointNodePorts]

    // Fixed chains.
    public static let services = "services"
    public static let masquerading = "masquerading"
    public static let rejectChain = "reject-chain"
    public static let dropChain = "drop-chain"

    /// Slots of the short-circuit path live in @backends after this offset (above any Maglev table).
    public static let internalSlotOffset: UInt32 = 65536

    /// How a frontend's traffic is treated before dnat.
    public enum Masquerade: Hashable, Sendable {
        /// No mark: eTP Local external traffic, or cluster traffic without cluster-CIDR detection.
        case none
        /// Always mark (external traffic with eTP Cluster, or masquerade-all).
        case always
        /// Mark unless the source is in the cluster CIDRs (ClusterIP traffic).
        case outsideCluster
        /// Mark when the node itself sends (the eTP Local short-circuit).
        case fromNode
    }

    /// A class chain: the dnat rule shared by every frontend with `slots` slots and this treatment.
    public struct ClassChain: Hashable, Sendable, Comparable {
        public var nodePort: Bool
        public var slots: Int
        public var masquerade: Masquerade
        /// Pick the slot by a hash of the client address (Maglev) rather than at random.
        public var hashed: Bool = false
        /// Hash the client's address and port (`sluice.dev/maglev-hash: five-tuple`): every
        /// connection is placed on its own; the other three fields are the frontend's, the same
        /// for every packet that reaches this chain's map element.
        public var fiveTuple: Bool = false
        /// ClientIP affinity with this timeout (seconds): a client returns to the slot it had.
        public var affinity: UInt32? = nil

        public var name: String {
            let base = (nodePort ? "np" : "lb") + (hashed ? (fiveTuple ? "h5" : "h") : "") + (affinity.map { "a\($0)" } ?? "")
            switch masquerade {
            case .none: return "\(base)-\(slots)"
            case .always: return "\(base)m-\(slots)"
            case .outsideCluster: return "\(base)c-\(slots)"
            case .fromNode: return "\(base)i-\(slots)"
            }
        }

        /// The slot chains an affinity class chain goes to, one per slot.
        public var affinitySlots: [AffinitySlot] {
            guard let timeout = affinity else { return [] }
            return (0..<slots).map { AffinitySlot(nodePort: nodePort, timeout: timeout, slot: $0) }
        }

        public static func < (a: ClassChain, b: ClassChain) -> Bool { a.name < b.name }
    }

    /// The affinity set of slot `i`: clients . frontends that picked that slot.
    public static func affinitySet(_ slot: Int) -> String { "affinity-\(slot)" }
    /// Most clients . frontends one slot's affinity set remembers.
    public static let affinitySetSize: UInt32 = 262_144

    /// The chain that refreshes a client's affinity to slot `slot` and takes that slot.
    public struct AffinitySlot: Hashable, Sendable, Comparable {
        public var nodePort: Bool
        public var timeout: UInt32
        public var slot: Int

        public var name: String { (nodePort ? "np-" : "") + "affinity-\(timeout)-\(slot)" }

        public static func < (a: AffinitySlot, b: AffinitySlot) -> Bool {
            (a.nodePort ? 1 : 0, a.timeout, a.slot) < (b.nodePort ? 1 : 0, b.timeout, b.slot)
        }
    }

    /// The seed of the client-address hash: the same on every node, so that every node picks the same slot.
    public static let hashSeed: UInt32 = 0x51ce_cafe

    static func keyTypes(_ family: IPFamily) -> TypeList { [.address(family.nftFamily), .inetProto, .inetService] }
    static func daddr(_ family: IPFamily) -> Key { .daddr(family.nftFamily) }
    static func saddr(_ family: IPFamily) -> Key { .saddr(family.nftFamily) }
}
