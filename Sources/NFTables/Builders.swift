import NetworkTypes

/// A value the rule loads into a register: a header field, packet metadata or a generator.
/// Each knows its nft spelling and data type, so that rules built from these render and
/// list the way nft prints them.
public struct Key: Hashable, Sendable {
    public enum Source: Hashable, Sendable {
        case payload(PayloadBase, offset: UInt32, length: UInt32)
        case meta(MetaKey)
        case numgen(NumgenType, modulus: UInt32, offset: UInt32)
        case ct(CtKey, direction: CtDirection?)
    }
    public var source: Source
    public var type: DataType
    /// Matches nft adds in front of a protocol header field (`tcp dport` implies `meta l4proto tcp`).
    public var dependency: [Expression]

    public init(_ source: Source, type: DataType, dependency: [Expression] = []) {
        self.source = source
        self.type = type
        self.dependency = dependency
    }

    public var length: Int {
        switch source {
        case .payload(_, _, let len): Int(len)
        default: type.length
        }
    }

    /// The expression that loads this key into `register`.
    public func load(into register: Register) -> Expression {
        switch source {
        case .payload(let base, let offset, let length):
            .payload(base: base, offset: offset, length: length, into: register)
        case .meta(let key):
            .meta(key, into: register)
        case .numgen(let type, let modulus, let offset):
            .numgen(type, modulus: modulus, offset: offset, into: register)
        case .ct(let key, let dir):
            .ct(key, direction: dir, into: register)
        }
    }

    public static let ipSaddr = Key(.payload(.network, offset: 12, length: 4), type: .ipv4Address)
    public static let ipDaddr = Key(.payload(.network, offset: 16, length: 4), type: .ipv4Address)
    public static let ip6Saddr = Key(.payload(.network, offset: 8, length: 16), type: .ipv6Address)
    public static let ip6Daddr = Key(.payload(.network, offset: 24, length: 16), type: .ipv6Address)
    public static let l4proto = Key(.meta(.l4proto), type: .inetProto)
    public static let mark = Key(.meta(.mark), type: .mark)
    /// `th dport`: the destination port of any transport header with ports (TCP, UDP, SCTP).
    public static let thDport = Key(.payload(.transport, offset: 2, length: 2), type: .inetService)
    public static let thSport = Key(.payload(.transport, offset: 0, length: 2), type: .inetService)

    public static func saddr(_ family: Family) -> Key { family == .ip6 ? .ip6Saddr : .ipSaddr }
    public static func daddr(_ family: Family) -> Key { family == .ip6 ? .ip6Daddr : .ipDaddr }

    /// `tcp dport`, `udp dport`, `sctp dport`: the port with its protocol dependency.
    public static func dport(_ proto: UInt8) -> Key {
        Key(.payload(.transport, offset: 2, length: 2), type: .inetService, dependency: Match.l4proto(proto))
    }

    public static func numgenRandom(modulus: UInt32) -> Key {
        Key(.numgen(.random, modulus: modulus, offset: 0), type: .integer32)
    }
}

/// Loads a list of keys as one concatenation: the first into `r1`, each next one into the
/// register after the previous field (what nft does, so readback compares equal). The keys'
/// protocol matches come first, once each: they use `r1` themselves, so between the loads
/// they would overwrite the first field (nft: `meta l4proto tcp` before `ip daddr . tcp dport`).
public func loadConcatenation(_ keys: [Key]) -> (expressions: [Expression], types: TypeList) {
    var dependencies: [[Expression]] = []
    for k in keys where !k.dependency.isEmpty && !dependencies.contains(k.dependency) {
        dependencies.append(k.dependency)
    }
    var exprs = dependencies.flatMap { $0 }
    var reg = Register.r1
    for (i, k) in keys.enumerated() {
        exprs.append(k.load(into: reg))
        if i + 1 < keys.count { reg = reg.advanced(byFieldOf: k.length) }
    }
    return (exprs, TypeList(keys.map(\.type)))
}

/// Builders for matches: expression sequences that stop the rule unless the packet matches.
public enum Match {
    /// `key op value`.
    public static func compare(_ key: Key, _ op: CmpOp = .eq, _ value: Value) -> [Expression] {
        key.dependency + [key.load(into: .r1), .cmp(op, .r1, value.bytes)]
    }

    /// `meta l4proto <proto>`.
    public static func l4proto(_ proto: UInt8) -> [Expression] {
        [.meta(.l4proto, into: .r1), .cmp(.eq, .r1, [proto])]
    }

    /// `ip saddr 10.0.0.0/8`: byte-aligned prefixes load only the prefix bytes (as nft does);
    /// others load the whole field and mask all of it (nft 1.0.6: `ip saddr 10.0.0.0/12` is a
    /// 4-byte load, a 4-byte bitwise and a 4-byte cmp).
    public static func prefix(_ key: Key, _ prefix: IPPrefix, _ op: CmpOp = .eq) -> [Expression] {
        guard case .payload(let base, let offset, _) = key.source else { return [] }
        let full = prefix.address.bytes.count * 8
        if prefix.length == full {
            return compare(key, op, .raw(prefix.address.bytes))
        }
        if prefix.length % 8 == 0 {
            let byteCount = prefix.length / 8
            let load = Expression.payload(base: base, offset: offset, length: UInt32(byteCount), into: .r1)
            return key.dependency + [load, .cmp(op, .r1, Array(prefix.address.bytes.prefix(byteCount)))]
        }
        let length = prefix.address.bytes.count
        return key.dependency + [
            .payload(base: base, offset: offset, length: UInt32(length), into: .r1),
            .bitwise(from: .r1, into: .r1, length: UInt32(length), mask: prefix.mask, xor: [UInt8](repeating: 0, count: length)),
            .cmp(op, .r1, prefix.address.bytes),
        ]
    }

    /// `meta mark & bits == bits` (or `!= bits` when `set` is false: the bits are not all set).
    public static func markBits(_ bits: UInt32, set: Bool = true) -> [Expression] {
        let b = Value.u32(bits).bytes
        return [
            .meta(.mark, into: .r1),
            .bitwise(from: .r1, into: .r1, length: 4, mask: b, xor: [0, 0, 0, 0]),
            .cmp(set ? .eq : .neq, .r1, set ? b : b),
        ]
    }

    /// `fib daddr type local` (or another address type).
    public static func fibDaddrType(_ type: AddressType, _ op: CmpOp = .eq) -> [Expression] {
        [.fib([.daddr], .addrtype, into: .r1), .cmp(op, .r1, Value.u32(type.rawValue).bytes)]
    }

    /// `fib saddr type local` (or another address type): where the packet's source lives.
    public static func fibSaddrType(_ type: AddressType, _ op: CmpOp = .eq) -> [Expression] {
        [.fib([.saddr], .addrtype, into: .r1), .cmp(op, .r1, Value.u32(type.rawValue).bytes)]
    }

    /// `ct state <states>`: any of the given conntrack states.
    public static func ctState(_ states: CtState) -> [Expression] {
        let b = Value.u32(states.rawValue).bytes
        return [
            .ct(.state, direction: nil, into: .r1),
            .bitwise(from: .r1, into: .r1, length: 4, mask: b, xor: [0, 0, 0, 0]),
            .cmp(.neq, .r1, [0, 0, 0, 0]),
        ]
    }

    /// `<keys> @set` (or `!= @set`): the concatenation is (or is not) in a set.
    public static func inSet(_ keys: [Key], _ set: SetReference, invert: Bool = false) -> [Expression] {
        let (load, _) = loadConcatenation(keys)
        return load + [.lookup(from: .r1, set: set, into: nil, invert: invert)]
    }
}

/// Conntrack states, as `ct state` tests them.
public struct CtState: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let invalid = CtState(rawValue: 1)
    public static let established = CtState(rawValue: 2)
    public static let related = CtState(rawValue: 4)
    public static let new = CtState(rawValue: 8)
    public static let untracked = CtState(rawValue: 64)
}

/// Builders for statements: what a rule does once it matches.
public enum Statement {
    /// `<keys> vmap <set>`: one lookup on the concatenation decides the verdict.
    public static func vmap(_ keys: [Key], _ set: SetReference) -> [Expression] {
        let (load, _) = loadConcatenation(keys)
        return load + [.lookup(from: .r1, set: set, into: .verdict, invert: false)]
    }

    /// `numgen random mod N vmap { 0 : v0, 1 : v1, ... }`.
    public static func numgenVmap(_ table: TableID, _ verdicts: [Verdict]) -> [Expression] {
        let elements = verdicts.enumerated().map { SetElement([.u32(UInt32($0.offset))], verdict: $0.element) }
        let set = NFSet.anonymous(table, key: [.integer32], data: .verdict, elements: elements)
        return [
            .numgen(.random, modulus: UInt32(verdicts.count), offset: 0, into: .r1),
            .lookup(from: .r1, set: .anonymous(set), into: .verdict, invert: false),
        ]
    }

    /// `jhash <key> mod N seed S vmap { ... }`: the same key always picks the same verdict.
    public static func jhashVmap(_ table: TableID, _ key: Key, seed: UInt32, _ verdicts: [Verdict]) -> [Expression] {
        let elements = verdicts.enumerated().map { SetElement([.u32(UInt32($0.offset))], verdict: $0.element) }
        let set = NFSet.anonymous(table, key: [.integer32], data: .verdict, elements: elements)
        return key.dependency + [
            key.load(into: .r2),
            .hash(.jenkins, from: .r2, length: UInt32(key.length), modulus: UInt32(verdicts.count), seed: seed, offset: 0, into: .r1),
            .lookup(from: .r1, set: .anonymous(set), into: .verdict, invert: false),
        ]
    }

    /// `dnat to addr` or `dnat to addr:port` (a port needs a protocol match earlier in the rule).
    /// Written the way the kernel reports nat back (max registers equal to min, `map-ips` and
    /// `proto-specified` flags), so readback of our rules and of nft's compares equal.
    public static func dnat(to address: IPAddress, port: UInt16? = nil) -> [Expression] {
        var e: [Expression] = [.immediate(address.bytes, into: .r1)]
        if let port {
            e.append(.immediate(Value.port(port).bytes, into: .r2))
            e.append(.nat(.dnat, family: address.nftFamily, addressMin: .r1, addressMax: .r1, portMin: .r2, portMax: .r2,
                          flags: [.mapIPs, .protoSpecified]))
        } else {
            e.append(.nat(.dnat, family: address.nftFamily, addressMin: .r1, addressMax: .r1, portMin: nil, portMax: nil, flags: [.mapIPs]))
        }
        return e
    }

    /// `dnat ip to <keys> map @set`: the map gives `address . port` for the concatenated key.
    public static func dnatMap(_ family: Family, _ keys: [Key], _ set: SetReference) -> [Expression] {
        let (load, _) = loadConcatenation(keys)
        let port = Register.r1.advanced(byFieldOf: family == .ip6 ? 16 : 4)
        return load + [
            .lookup(from: .r1, set: set, into: .r1, invert: false),
            .nat(.dnat, family: family, addressMin: .r1, addressMax: .r1, portMin: port, portMax: port, flags: [.mapIPs, .protoSpecified]),
        ]
    }

    /// `masquerade` (optionally `fully-random`).
    public static func masquerade(fullyRandom: Bool = false) -> [Expression] {
        [.masquerade(flags: fullyRandom ? .protoRandomFully : [], portMin: nil, portMax: nil)]
    }

    /// `meta mark set meta mark | bits`.
    public static func setMarkBits(_ bits: UInt32) -> [Expression] {
        [
            .meta(.mark, into: .r1),
            .bitwise(from: .r1, into: .r1, length: 4, mask: Value.u32(~bits).bytes, xor: Value.u32(bits).bytes),
            .metaSet(.mark, from: .r1),
        ]
    }

    /// `reject with tcp reset`.
    public static let rejectTCPReset: [Expression] = [.reject(.tcpReset, code: 0)]

    /// `reject` with ICMP port unreachable (the default in ip and ip6 tables).
    public static func reject(_ family: Family) -> [Expression] {
        [.reject(.icmpUnreachable, code: family == .ip6 ? 4 : 3)]
    }

    /// `update @set { <keys> timeout T }` (add the key or refresh its timeout).
    public static func update(_ set: String, _ keys: [Key], timeoutMillis: UInt64?) -> [Expression] {
        let (load, _) = loadConcatenation(keys)
        return load + [.dynset(.update, key: .r1, data: nil, set: set, timeoutMillis: timeoutMillis)]
    }
}
