import NetworkTypes
import NFTables
import ProxyCore

/// The fixed part of the layout: tables, maps, base chains and their rules, and class chains.
enum Skeleton {
    static func tables(_ families: [IPFamily]) -> [Table] {
        families.map { Table($0.nftFamily, Layout.tableName, comment: "Sluice: Kubernetes Services; managed, do not edit") }
    }

    static func sets(_ family: IPFamily, options: ProxierOptions) -> [NFSet] {
        let t = Layout.table(family)
        let keyTypes = Layout.keyTypes(family)
        let daddr = Layout.daddr(family)
        var sets = [
            NFSet(t, Layout.serviceIPs, key: keyTypes, data: .verdict, comment: "ClusterIPs, external and load-balancer IPs"),
            NFSet(t, Layout.serviceNodePorts, key: [.inetProto, .inetService], data: .verdict, comment: "NodePorts"),
            NFSet(t, Layout.serviceIPsInternal, key: keyTypes, data: .verdict,
                  comment: "eTP Local external addresses, for clients inside the cluster"),
            NFSet(t, Layout.serviceNodePortsInternal, key: [.inetProto, .inetService], data: .verdict,
                  comment: "eTP Local NodePorts, for clients inside the cluster"),
            NFSet(t, Layout.backends, typeof: [daddr, .l4proto, .thDport, .numgenRandom(modulus: UInt32(Slots.maximum))],
                  dataTypeof: [daddr, .thDport], comment: "service address . protocol . port . slot : endpoint"),
            NFSet(t, Layout.nodePortBackends, typeof: [.l4proto, .thDport, .numgenRandom(modulus: UInt32(Slots.maximum))],
                  dataTypeof: [daddr, .thDport], comment: "protocol . node port . slot : endpoint"),
            NFSet(t, Layout.noEndpointServices, key: keyTypes, data: .verdict, comment: "Services without usable endpoints"),
            NFSet(t, Layout.noEndpointNodePorts, key: [.inetProto, .inetService], data: .verdict, comment: "NodePorts without usable endpoints"),
            NFSet(t, Layout.hairpin, key: [.address(family.nftFamily), .address(family.nftFamily)], comment: "endpoint . endpoint: hairpin traffic"),
            NFSet(t, Layout.firewallFrontends, key: keyTypes, comment: "load-balancer IPs with source ranges"),
            NFSet(t, Layout.clusterIPs, key: [.address(family.nftFamily)], comment: "ClusterIPs: ports no Service has are rejected"),
            NFSet(t, Layout.firewallAllow, key: [.address(family.nftFamily), .inetService, .address(family.nftFamily)], flags: [.interval],
                  comment: "load-balancer IP . port . allowed source range"),
        ]
        let npAddresses = options.nodePortAddresses.filter { $0.family == family }
        if !npAddresses.isEmpty {
            sets.append(NFSet(t, Layout.nodePortIPs, key: [.address(family.nftFamily)], comment: "addresses NodePorts answer on",
                              elements: npAddresses.sorted().map { SetElement([$0.value]) }))
        }
        return sets
    }

    static func chains(_ family: IPFamily) -> [Chain] {
        let t = Layout.table(family)
        return [
            Chain(t, "nat-prerouting", base: BaseChain(type: .nat, hook: .prerouting, priority: BaseChain.dstnat)),
            Chain(t, "nat-output", base: BaseChain(type: .nat, hook: .output, priority: BaseChain.dstnat)),
            Chain(t, "nat-postrouting", base: BaseChain(type: .nat, hook: .postrouting, priority: BaseChain.srcnat)),
            Chain(t, "filter-prerouting", base: BaseChain(type: .filter, hook: .prerouting, priority: BaseChain.dstnat - 10)),
            Chain(t, "filter-output", base: BaseChain(type: .filter, hook: .output, priority: BaseChain.dstnat - 10)),
            Chain(t, Layout.services, comment: "dispatch: one lookup per packet"),
            Chain(t, Layout.masquerading),
            Chain(t, Layout.rejectChain),
            Chain(t, Layout.dropChain),
            Chain(t, "no-endpoints", comment: "reject or drop traffic to Services without usable endpoints"),
            Chain(t, "firewall", comment: "loadBalancerSourceRanges"),
        ]
    }

    /// The NodePort guard: the configured addresses, or any local address.
    static func nodePortGuard(_ family: IPFamily, options: ProxierOptions) -> [Expression] {
        let hasAddresses = options.nodePortAddresses.contains { $0.family == family }
        return hasAddresses
            ? Match.inSet([Layout.daddr(family)], .named(Layout.nodePortIPs))
            : Match.fibDaddrType(.local)
    }

    static func rules(_ family: IPFamily, options: ProxierOptions) -> [Rule] {
        let t = Layout.table(family)
        let c = { (n: String) in ChainID(t, n) }
        let daddr = Layout.daddr(family)
        let npGuard = nodePortGuard(family, options: options)
        let mark = options.masqueradeMark
        return [
            Rule(c("nat-prerouting"), [.verdict(.jump(Layout.services))]),
            Rule(c("nat-output"), [.verdict(.jump(Layout.services))]),
            Rule(c("nat-postrouting"), [.verdict(.jump(Layout.masquerading))]),
            Rule(c("filter-prerouting"), [.verdict(.jump("firewall"))]),
            Rule(c("filter-prerouting"), [.verdict(.jump("no-endpoints"))]),
            Rule(c("filter-output"), [.verdict(.jump("firewall"))]),
            Rule(c("filter-output"), [.verdict(.jump("no-endpoints"))]),
            Rule(c("firewall"), Match.inSet([daddr, .l4proto, .thDport], .named(Layout.firewallFrontends))
                 + Match.inSet([daddr, .thDport, Layout.saddr(family)], .named(Layout.firewallAllow), invert: true)
                 + [.verdict(.drop)]),
            Rule(c(Layout.services), Match.fibSaddrType(.local)
                 + Statement.vmap([daddr, .l4proto, .thDport], .named(Layout.serviceIPsInternal))),
            Rule(c(Layout.services), Match.fibSaddrType(.local) + npGuard
                 + Statement.vmap([.l4proto, .thDport], .named(Layout.serviceNodePortsInternal))),
        ] + clusterSource(family, options: options).flatMap { source in [
            Rule(c(Layout.services), source + Statement.vmap([daddr, .l4proto, .thDport], .named(Layout.serviceIPsInternal))),
            Rule(c(Layout.services), source + npGuard + Statement.vmap([.l4proto, .thDport], .named(Layout.serviceNodePortsInternal))),
        ] } + [
            Rule(c(Layout.services), Statement.vmap([daddr, .l4proto, .thDport], .named(Layout.serviceIPs))),
            Rule(c(Layout.services), npGuard + Statement.vmap([.l4proto, .thDport], .named(Layout.serviceNodePorts))),
            // Not taken above: a port the ClusterIP's Service does not have is rejected, and an
            // address of the Service CIDRs that no Service has is dropped (kube-proxy's nftables mode).
            Rule(c(Layout.services), Match.inSet([daddr], .named(Layout.clusterIPs)) + [.verdict(.goto(Layout.rejectChain))]),
        ] + serviceCIDRs(family, options: options).map { match in
            Rule(c(Layout.services), match + [.verdict(.drop)])
        } + [
            Rule(c("no-endpoints"), Statement.vmap([daddr, .l4proto, .thDport], .named(Layout.noEndpointServices))),
            Rule(c("no-endpoints"), npGuard + Statement.vmap([.l4proto, .thDport], .named(Layout.noEndpointNodePorts))),
            Rule(c(Layout.rejectChain), Statement.reject(family.nftFamily)),
            Rule(c(Layout.dropChain), [.verdict(.drop)]),
            // A pod reaching itself through its Service must see the node as the source, or its
            // reply would bypass the dnat. After dnat, source equal to destination means hairpin.
            Rule(c(Layout.masquerading), Match.inSet([Layout.saddr(family), daddr], .named(Layout.hairpin))
                 + Statement.masquerade(fullyRandom: true), comment: "hairpin"),
            Rule(c(Layout.masquerading), Match.markBits(mark) + Statement.masquerade(fullyRandom: true)),
        ]
    }

    /// `dnat ip to <keys> . numgen random mod K offset 65536 map @backends`: the short-circuit slots.
    static func internalDNAT(_ cc: Layout.ClassChain, _ family: IPFamily) -> [Expression] {
        let slot = Key(.numgen(.random, modulus: UInt32(cc.slots), offset: Layout.internalSlotOffset), type: .integer32)
        let keys: [Key] = cc.nodePort ? [.l4proto, .thDport, slot] : [Layout.daddr(family), .l4proto, .thDport, slot]
        return Statement.dnatMap(family.nftFamily, keys, .named(cc.nodePort ? Layout.nodePortBackends : Layout.backends))
    }

    /// `dnat ip to <keys> . jhash ip saddr [. th sport] mod M seed S map @backends`, with nft's
    /// registers: the hash result is the concatenation's last word and its source sits five words
    /// further on, a word per field. (The full five-tuple does not fit the registers for IPv6, and
    /// daddr . dport . l4proto are the same for every packet that reaches one map element.)
    static func hashedDNAT(_ cc: Layout.ClassChain, _ family: IPFamily) -> [Expression] {
        let keys: [Key] = cc.nodePort ? [.l4proto, .thDport] : [Layout.daddr(family), .l4proto, .thDport]
        var (exprs, _) = loadConcatenation(keys)
        var word: UInt32 = 0
        for k in keys { word += UInt32((k.length + 3) / 4) }
        let source = Register(word: word + 5)
        var (register, length) = (source, UInt32(0))
        for k in cc.fiveTuple ? [Layout.saddr(family), .thSport] : [Layout.saddr(family)] {
            exprs.append(k.load(into: register))
            register = register.advanced(byFieldOf: k.length)
            length += UInt32((k.length + 3) / 4 * 4)
        }
        exprs.append(.hash(.jenkins, from: source, length: length, modulus: UInt32(cc.slots),
                           seed: Layout.hashSeed, offset: 0, into: Register(word: word)))
        let port = Register.r1.advanced(byFieldOf: family == .v6 ? 16 : 4)
        exprs.append(.lookup(from: .r1, set: .named(cc.nodePort ? Layout.nodePortBackends : Layout.backends), into: .r1, invert: false))
        exprs.append(.nat(.dnat, family: family.nftFamily, addressMin: .r1, addressMax: .r1, portMin: port, portMax: port,
                          flags: [.mapIPs, .protoSpecified]))
        return exprs
    }

    /// The match for destinations in the Service CIDRs of `family`; none when none is configured.
    static func serviceCIDRs(_ family: IPFamily, options: ProxierOptions) -> [[Expression]] {
        let cidrs = options.serviceCIDRs.filter { $0.address.family == family }
        if cidrs.isEmpty { return [] }
        return [addressMatch(Layout.daddr(family), cidrs, family, invert: false)]
    }

    /// The match for sources inside (or outside) the cluster CIDRs of `family`; none when no
    /// CIDR is configured.
    static func clusterSource(_ family: IPFamily, options: ProxierOptions, outside: Bool = false) -> [[Expression]] {
        let cidrs = options.clusterCIDRs(family)
        if cidrs.isEmpty { return [] }
        return [addressMatch(Layout.saddr(family), cidrs, family, invert: outside)]
    }

    /// `key` in (or not in) these prefixes, written the way nft writes it, so that a listing
    /// re-loads to the same expressions: nft merges prefixes that touch, and one range left is
    /// a prefix match, `a-b` (cmp gte, cmp lte) or `!= a-b` (range); several are an anonymous
    /// interval set typed by the key's expression.
    static func addressMatch(_ key: Key, _ cidrs: [IPPrefix], _ family: IPFamily, invert: Bool) -> [Expression] {
        var ranges: [(first: [UInt8], last: [UInt8])] = []
        for p in cidrs.sorted(by: { $0.address.bytes.lexicographicallyPrecedes($1.address.bytes) }) {
            // Touching or overlapping the range before: one range.
            if let r = ranges.last, !(successor(r.last).map { $0.lexicographicallyPrecedes(p.address.bytes) } ?? false) {
                ranges[ranges.count - 1].last = r.last.lexicographicallyPrecedes(p.last) ? p.last : r.last
            } else {
                ranges.append((p.address.bytes, p.last))
            }
        }
        let op: CmpOp = invert ? .neq : .eq
        if ranges.count == 1, let only = ranges.first {
            if let prefix = prefix(only.first, only.last) { return Match.prefix(key, prefix, op) }
            guard case .payload(let base, let offset, let length) = key.source else { return [] }
            let load = Expression.payload(base: base, offset: offset, length: length, into: .r1)
            return invert ? [load, .range(invert: true, .r1, from: only.first, to: only.last)]
                          : [load, .cmp(.gte, .r1, only.first), .cmp(.lte, .r1, only.last)]
        }
        var set = NFSet.anonymous(Layout.table(family), key: [.address(family.nftFamily)], interval: true,
                                  elements: SetElement.intervals(ranges.map { (start: $0.first, end: successor($0.last), data: nil) }))
        set.keyTypeof = [key]
        return Match.inSet([key], .anonymous(set), invert: invert)
    }

    /// The address after `bytes`; nil after the last one.
    static func successor(_ bytes: [UInt8]) -> [UInt8]? {
        var b = bytes
        for i in b.indices.reversed() {
            if b[i] == 0xff { b[i] = 0 } else { b[i] += 1; return b }
        }
        return nil
    }

    /// The prefix that is exactly first…last, if there is one.
    static func prefix(_ first: [UInt8], _ last: [UInt8]) -> IPPrefix? {
        func bit(_ b: [UInt8], _ i: Int) -> Bool { b[i / 8] & (0x80 >> UInt8(i % 8)) != 0 }
        let bits = first.count * 8
        var length = 0
        while length < bits && bit(first, length) == bit(last, length) { length += 1 }
        // After the bits they share, first holds only zeros and last only ones.
        guard (length..<bits).allSatisfy({ !bit(first, $0) && bit(last, $0) }) else { return nil }
        let address = first.count == 4 ? IPv4Address(bytes: first).map(\.description) : IPv6Address(bytes: first).map(\.description)
        return address.flatMap { IPPrefix("\($0)/\(length)") }
    }

    /// A class chain and its rules: the mark (when it masquerades), then the slot selection.
    static func classChain(_ cc: Layout.ClassChain, _ family: IPFamily, options: ProxierOptions) -> (Chain, [Rule]) {
        let id = ChainID(Layout.table(family), cc.name)
        let mark = Statement.setMarkBits(options.masqueradeMark)
        let select = selection(cc, family).map { Rule(id, $0) }
        let rules: [Rule]
        switch cc.masquerade {
        case .none:
            rules = select
        case .always where select.count == 1:
            rules = [Rule(id, mark + select[0].expressions)]
        case .always:
            rules = [Rule(id, mark)] + select
        case .fromNode:
            rules = [Rule(id, Match.fibSaddrType(.local) + mark), Rule(id, internalDNAT(cc, family))]
        case .outsideCluster:
            rules = clusterSource(family, options: options, outside: true).map { Rule(id, $0 + mark) } + select
        }
        var comment = "\(cc.slots) slot(s)"
        if let t = cc.affinity { comment += ", ClientIP affinity \(t) s" }
        return (Chain(Layout.table(family), cc.name, comment: comment), rules)
    }

    /// How a class chain picks the slot: one dnat rule, or with affinity, a lookup per slot for
    /// clients that picked it before, then a random slot.
    static func selection(_ cc: Layout.ClassChain, _ family: IPFamily) -> [[Expression]] {
        guard cc.affinity != nil else { return [dnat(cc, family)] }
        let slots = cc.affinitySlots
        return slots.map { s in
            Match.inSet(affinityKey(family), .named(Layout.affinitySet(s.slot))) + [.verdict(.goto(s.name))]
        } + [Statement.numgenVmap(Layout.table(family), slots.map { .goto($0.name) })]
    }

    /// client . frontend: the key of the affinity sets (for a NodePort, the node address).
    static func affinityKey(_ family: IPFamily) -> [Key] {
        [Layout.saddr(family), Layout.daddr(family), .l4proto, .thDport]
    }

    /// The affinity set of one slot: dynamic, every element with its Service's timeout. Sized
    /// explicitly (the kernel gives a dynamic set without a size 65535): when it is full, new
    /// clients still get a slot, without affinity, as the dnat is a rule of its own.
    static func affinitySet(_ slot: Int, _ family: IPFamily) -> NFSet {
        NFSet(Layout.table(family), Layout.affinitySet(slot), typeof: affinityKey(family), flags: [.dynamic, .timeout],
              size: Layout.affinitySetSize,
              comment: "ClientIP affinity: client . frontend that took slot \(slot)")
    }

    /// A slot chain: refresh the client's affinity, then dnat to the endpoint of that slot.
    static func affinitySlotChain(_ s: Layout.AffinitySlot, _ family: IPFamily) -> (Chain, [Rule]) {
        let id = ChainID(Layout.table(family), s.name)
        let slot = Key(.numgen(.random, modulus: 1, offset: UInt32(s.slot)), type: .integer32)
        let keys: [Key] = s.nodePort ? [.l4proto, .thDport, slot] : [Layout.daddr(family), .l4proto, .thDport, slot]
        let rules = [
            Rule(id, Statement.update(Layout.affinitySet(s.slot), affinityKey(family), timeoutMillis: UInt64(s.timeout) * 1000)),
            Rule(id, Statement.dnatMap(family.nftFamily, keys, .named(s.nodePort ? Layout.nodePortBackends : Layout.backends))),
        ]
        return (Chain(Layout.table(family), s.name, comment: "ClientIP affinity: slot \(s.slot), \(s.timeout) s"), rules)
    }

    /// The class chain's dnat: a hash of the client over a Maglev table, or a random slot.
    static func dnat(_ cc: Layout.ClassChain, _ family: IPFamily) -> [Expression] {
        if cc.hashed { return hashedDNAT(cc, family) }
        let slot = Key.numgenRandom(modulus: UInt32(cc.slots))
        let keys: [Key] = cc.nodePort ? [.l4proto, .thDport, slot] : [Layout.daddr(family), .l4proto, .thDport, slot]
        return Statement.dnatMap(family.nftFamily, keys, .named(cc.nodePort ? Layout.nodePortBackends : Layout.backends))
    }
}
