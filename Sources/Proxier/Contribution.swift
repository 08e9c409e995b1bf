import Balancing
import NetworkTypes
import NFTables
import ProxyCore

/// Options that shape every Service's elements, from the node's configuration.
public struct ProxierOptions: Hashable, Sendable {
    public var clusterCIDRs: [IPPrefix]
    /// Traffic to these ranges that no Service took is dropped (unallocated ClusterIPs).
    public var serviceCIDRs: [IPPrefix]
    public var masqueradeAll: Bool
    public var masqueradeMark: UInt32
    /// NodePorts answer only on these addresses; empty: on every local address (`fib daddr type local`).
    public var nodePortAddresses: [IPAddress]

    public init(clusterCIDRs: [IPPrefix] = [], masqueradeAll: Bool = false, masqueradeMark: UInt32 = 0x4000,
                nodePortAddresses: [IPAddress] = [], serviceCIDRs: [IPPrefix] = []) {
        self.clusterCIDRs = clusterCIDRs
        self.serviceCIDRs = serviceCIDRs
        self.masqueradeAll = masqueradeAll
        self.masqueradeMark = masqueradeMark
        self.nodePortAddresses = nodePortAddresses
    }

    public init(_ node: NodeContext) {
        self.init(clusterCIDRs: node.clusterCIDRs, masqueradeAll: node.masqueradeAll, masqueradeMark: node.masqueradeMark,
                  nodePortAddresses: node.nodePortAddresses, serviceCIDRs: node.serviceCIDRs)
    }

    func clusterCIDRs(_ family: IPFamily) -> [IPPrefix] { clusterCIDRs.filter { $0.address.family == family } }
}

/// One element a service port needs in one of the layout's sets.
struct ElementRef: Hashable, Sendable {
    var family: IPFamily
    var set: String
    var key: [UInt8]

    // Arrays of bytes hash byte by byte by default; hash the key as one buffer. The set's name
    // is left out: hashing a String costs more than the rare key shared by two sets.
    func hash(into h: inout Hasher) {
        key.withUnsafeBytes { h.combine(bytes: $0) }
    }
}

/// What one service port puts into the kernel: map elements and the class chains they jump to.
/// Kept as small arrays (a handful of entries per port): cheaper to build and compare than
/// dictionaries, and a port with many endpoints is rare enough for linear lookups.
struct Contribution: Hashable, Sendable {
    struct Entry: Hashable, Sendable {
        var ref: ElementRef
        var element: SetElement
    }
    var elements: [Entry] = []
    var classChains: [Layout.ClassChain] = []

    func element(for ref: ElementRef) -> SetElement? {
        elements.first { $0.ref == ref }?.element
    }

    static let empty = Contribution()

    /// The values of this contribution's elements, as history for the next one.
    func history(_ ref: ElementRef) -> [UInt8]? {
        if case .value(let v)? = element(for: ref)?.data { return v }
        return nil
    }

    /// The elements and class chains for `port`, as the layout lays them out. `history` gives
    /// the value (endpoint address . port) each backend element held before, so that slots
    /// stay with the endpoints that held them.
    init(_ port: ServicePortInfo, options: ProxierOptions, history: ((ElementRef) -> [UInt8]?)? = nil) {
        let frontends = (port.clusterIP == nil ? 0 : 1) + port.externalIPs.count + port.loadBalancerIPs.count + (port.nodePort == nil ? 0 : 1)
        elements.reserveCapacity(frontends * (1 + port.clusterEndpoints.count) + port.clusterEndpoints.count + port.externalEndpoints.count)
        let fam = port.family
        let comment = String(port.name.description.utf8.prefix(maxCommentLength)) ?? port.name.description
        let service = "\(port.name.namespace)/\(port.name.name)"
        let serviceComment = String(service.utf8.prefix(maxCommentLength)) ?? service
        let proto = Value.proto(port.name.protocol.number)
        let portValue = Value.port(port.port)
        let mark: Layout.Masquerade = options.masqueradeAll ? .always : (options.clusterCIDRs(fam).isEmpty ? .none : .outsideCluster)
        let externalMark: Layout.Masquerade = port.externalPolicyLocal && !options.masqueradeAll ? .none : .always
        // Maglev picks the endpoint by a hash of the client, which already keeps a client on its
        // endpoint; otherwise ClientIP affinity remembers each client's slot for the timeout.
        let (hashed, fiveTuple): (Bool, Bool) = {
            if case .maglev(let fiveTuple) = port.balancing { return (true, fiveTuple) }
            return (false, false)
        }()
        let affinity = hashed ? nil : port.affinityTimeoutSeconds

        /// A frontend keyed by `key` in `dispatch`, its backends in `backendsSet` keyed by `key . slot`.
        func frontend(key: [Value], dispatch: String, backendsSet: String, noEndpoints: String,
                      endpoints: [Endpoint], nodePort: Bool, masquerade: Layout.Masquerade) {
            let slots: [Int]
            if hashed {
                // Maglev: the table is a pure function of the endpoints, the same on every node.
                let backends = endpoints.map { Maglev.Backend(id: $0.description, weight: $0.weight) }
                slots = Maglev.table(backends, size: Maglev.tableSize(backends: backends.filter { $0.weight > 0 }.count))
            } else if let history {
                let values = endpoints.map { Value.bytes([$0.address.value, .port($0.port)]) }
                slots = Slots.assign(endpoints) { slot in
                    let ref = ElementRef(family: fam, set: backendsSet, key: Value.bytes(key + [.u32(UInt32(slot))]))
                    return history(ref).flatMap { values.firstIndex(of: $0) }
                }
            } else {
                slots = Slots.assign(endpoints)
            }
            if slots.isEmpty {
                // kube-proxy: no endpoints at all → reject (in the filter hooks); endpoints, but
                // none for this traffic (traffic policy Local without local ones) → drop, in the
                // nat dispatch, after the short-circuit for clients inside the cluster. Every
                // endpoint drained (weight 0) → reject: nothing may take new connections.
                if endpoints.isEmpty && port.hasEndpoints {
                    add(dispatch, SetElement(key, verdict: .goto(Layout.dropChain), comment: comment))
                } else {
                    add(noEndpoints, SetElement(key, verdict: .goto(Layout.rejectChain), comment: comment))
                }
                return
            }
            let chain = Layout.ClassChain(nodePort: nodePort, slots: slots.count, masquerade: masquerade, hashed: hashed,
                                          fiveTuple: fiveTuple, affinity: affinity)
            if !classChains.contains(chain) { classChains.append(chain) }
            add(dispatch, SetElement(key, verdict: .goto(chain.name), comment: comment))
            for (slot, index) in slots.enumerated() {
                let ep = endpoints[index]
                add(backendsSet, SetElement(key + [.u32(UInt32(slot))], value: [ep.address.value, .port(ep.port)], comment: comment))
            }
            // Only a pod on this node can reach itself through this node's rules: the hairpin
            // set holds this node's endpoints (and those whose node is unknown), not the cluster's.
            for ep in endpoints where ep.weight > 0 && !ep.onOtherNode {
                add(Layout.hairpin, SetElement([ep.address.value, ep.address.value]))
            }
        }

        func add(_ set: String, _ element: SetElement) {
            let ref = ElementRef(family: fam, set: set, key: element.key)
            // Hairpin entries repeat when an endpoint serves several frontends of the port.
            if set == Layout.hairpin && elements.contains(where: { $0.ref == ref }) { return }
            elements.append(Entry(ref: ref, element: element))
        }

        if let clusterIP = port.clusterIP {
            // Every port of the Service wants the same element: ports the Service does not
            // have are rejected at its ClusterIP.
            add(Layout.clusterIPs, SetElement([clusterIP.value], comment: serviceComment))
            frontend(key: [clusterIP.value, proto, portValue], dispatch: Layout.serviceIPs, backendsSet: Layout.backends,
                     noEndpoints: Layout.noEndpointServices, endpoints: port.clusterEndpoints, nodePort: false, masquerade: mark)
        }
        for ip in port.externalIPs + port.loadBalancerIPs where ip.family == fam {
            frontend(key: [ip.value, proto, portValue], dispatch: Layout.serviceIPs, backendsSet: Layout.backends,
                     noEndpoints: Layout.noEndpointServices, endpoints: port.externalEndpoints, nodePort: false, masquerade: externalMark)
        }
        /// eTP Local: clients inside the cluster and the node reach external addresses through
        /// every endpoint (kube-proxy's short-circuit), in slots above `internalSlotOffset`.
        func shortCircuit(key: [Value], dispatch: String, backendsSet: String, nodePort: Bool) {
            guard port.externalPolicyLocal else { return }
            let eps = port.clusterPolicyEndpoints
            let slots = Slots.assign(eps)
            guard !slots.isEmpty else { return }
            let chain = Layout.ClassChain(nodePort: nodePort, slots: slots.count, masquerade: .fromNode)
            if !classChains.contains(chain) { classChains.append(chain) }
            add(dispatch, SetElement(key, verdict: .goto(chain.name), comment: comment))
            for (slot, index) in slots.enumerated() {
                let ep = eps[index]
                add(backendsSet, SetElement(key + [.u32(Layout.internalSlotOffset + UInt32(slot))],
                                            value: [ep.address.value, .port(ep.port)], comment: comment))
            }
        }
        for ip in port.externalIPs + port.loadBalancerIPs where ip.family == fam {
            shortCircuit(key: [ip.value, proto, portValue], dispatch: Layout.serviceIPsInternal, backendsSet: Layout.backends, nodePort: false)
        }
        if let nodePort = port.nodePort {
            shortCircuit(key: [proto, .port(nodePort)], dispatch: Layout.serviceNodePortsInternal,
                         backendsSet: Layout.nodePortBackends, nodePort: true)
        }

        // loadBalancerSourceRanges apply to the load-balancer IPs (as in kube-proxy).
        let ranges = port.loadBalancerSourceRanges.filter { $0.address.family == fam }
        if !ranges.isEmpty {
            for ip in port.loadBalancerIPs where ip.family == fam {
                let key: [Value] = [ip.value, proto, portValue]
                add(Layout.firewallFrontends, SetElement(key, comment: comment))
                // The range set leaves the protocol out: nft converts a 1-byte protocol's byte
                // order in range lookups (an extra expression), and ranges are per Service anyway.
                let rangeKey: [Value] = [ip.value, portValue]
                for r in ranges {
                    add(Layout.firewallAllow, SetElement(key: Value.bytes(rangeKey + [.raw(r.address.bytes)]),
                                                         keyEnd: Value.bytes(rangeKey + [.raw(r.last)]), comment: comment))
                }
            }
        }
        if let nodePort = port.nodePort {
            frontend(key: [proto, .port(nodePort)], dispatch: Layout.serviceNodePorts, backendsSet: Layout.nodePortBackends,
                     noEndpoints: Layout.noEndpointNodePorts, endpoints: port.externalEndpoints, nodePort: true, masquerade: externalMark)
        }
    }

    private init() {}
}
