import NetworkTypes

/// NFT_SET_* flags.
public struct SetFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let anonymous = SetFlags(rawValue: 0x1)
    public static let constant = SetFlags(rawValue: 0x2)
    public static let interval = SetFlags(rawValue: 0x4)
    public static let map = SetFlags(rawValue: 0x8)
    public static let timeout = SetFlags(rawValue: 0x10)
    public static let eval = SetFlags(rawValue: 0x20)
    public static let object = SetFlags(rawValue: 0x40)
    public static let concat = SetFlags(rawValue: 0x80)
    /// nft's `dynamic` flag (NFT_SET_EVAL): the packet path may add elements.
    public static let dynamic = SetFlags.eval
}

/// What a map maps to.
public enum SetData: Hashable, Sendable {
    case verdict
    case value(TypeList)

    /// NFT_DATA_VERDICT, as NFTA_SET_DATA_TYPE carries it for verdict maps.
    public static let verdictTypeID: UInt32 = 0xffff_ff00

    public var length: Int {
        switch self {
        case .verdict: 0
        case .value(let t): t.length
        }
    }
}

/// A set or map. Anonymous sets have an empty name: the kernel names them (`__set0`,
/// `__map3`) and they are owned by the rule that refers to them.
public struct NFSet: Hashable, Sendable {
    public var table: TableID
    public var name: String
    public var key: TypeList
    public var data: SetData?
    public var flags: SetFlags
    public var timeoutMillis: UInt64?
    public var size: UInt32?
    public var comment: String?
    /// The expressions the key (and map value) were declared from (`typeof ip daddr . numgen
    /// random mod 2`), which nft needs to print keys whose types have no name (integers).
    public var keyTypeof: [Key]?
    public var dataTypeof: [Key]?
    public var elements: [SetElement]

    /// A set declared `typeof <keys> [: <values>]`: types come from the expressions.
    public init(
        _ table: TableID, _ name: String, typeof keys: [Key], dataTypeof: [Key]? = nil, verdictMap: Bool = false,
        flags: SetFlags = [], timeoutMillis: UInt64? = nil, size: UInt32? = nil, comment: String? = nil,
        elements: [SetElement] = []
    ) {
        let data: SetData? = verdictMap ? .verdict : dataTypeof.map { .value(TypeList($0.map(\.type))) }
        self.init(table, name, key: TypeList(keys.map(\.type)), data: data, flags: flags, timeoutMillis: timeoutMillis,
                  size: size, comment: comment, elements: elements)
        self.keyTypeof = keys
        self.dataTypeof = dataTypeof
    }

    public init(
        _ table: TableID, _ name: String, key: TypeList, data: SetData? = nil, flags: SetFlags = [],
        timeoutMillis: UInt64? = nil, size: UInt32? = nil, comment: String? = nil, elements: [SetElement] = []
    ) {
        self.table = table
        self.name = name
        self.key = key
        self.data = data
        var f = flags
        if data != nil { f.insert(.map) }
        if key.isConcatenation && f.contains(.interval) { f.insert(.concat) }
        if timeoutMillis != nil { f.insert(.timeout) }
        self.flags = f
        self.timeoutMillis = timeoutMillis
        self.size = size
        self.comment = comment
        self.elements = elements
    }

    /// An anonymous, constant set or map, as used inline in one rule.
    public static func anonymous(
        _ table: TableID, key: TypeList, data: SetData? = nil, interval: Bool = false, elements: [SetElement]
    ) -> NFSet {
        var flags: SetFlags = [.anonymous, .constant]
        if interval { flags.insert(.interval) }
        return NFSet(table, "", key: key, data: data, flags: flags, elements: elements)
    }

    public var isMap: Bool { data != nil }
    public var isAnonymous: Bool { flags.contains(.anonymous) }

    /// The same set without its elements (its definition).
    public var definition: NFSet {
        var s = self
        s.elements = []
        return s
    }
}

public enum ElementData: Hashable, Sendable {
    case verdict(Verdict)
    case value([UInt8])
}

/// One element of a set, exactly as the kernel holds it: interval sets hold each range as
/// a start element and an end element flagged `intervalEnd` (nft's rbtree representation),
/// or, for concatenations, as `key`…`keyEnd`.
public struct SetElement: Hashable, Sendable {
    public var key: [UInt8]
    public var keyEnd: [UInt8]?
    public var data: ElementData?
    public var timeoutMillis: UInt64?
    public var intervalEnd: Bool
    public var comment: String?

    public init(
        key: [UInt8], keyEnd: [UInt8]? = nil, data: ElementData? = nil, timeoutMillis: UInt64? = nil,
        intervalEnd: Bool = false, comment: String? = nil
    ) {
        self.key = key
        self.keyEnd = keyEnd
        self.data = data
        self.timeoutMillis = timeoutMillis
        self.intervalEnd = intervalEnd
        self.comment = comment
    }

    /// An element from typed values; several values form a concatenation (each padded to 4 bytes).
    public init(_ key: [Value], data: ElementData? = nil, comment: String? = nil) {
        self.init(key: Value.bytes(key), data: data, comment: comment)
    }

    public init(_ key: [Value], verdict: Verdict, comment: String? = nil) {
        self.init(key: Value.bytes(key), data: .verdict(verdict), comment: comment)
    }

    public init(_ key: [Value], value: [Value], comment: String? = nil) {
        self.init(key: Value.bytes(key), data: .value(Value.bytes(value)), comment: comment)
    }

    /// The elements of an interval set for the half-open ranges given (start, end-exclusive), as nft
    /// lays them out: a start element for each range, an end element where the next range does not
    /// start, and an end element at the zero key when the first range does not start at zero.
    public static func intervals(_ ranges: [(start: [UInt8], end: [UInt8]?, data: ElementData?)]) -> [SetElement] {
        let sorted = ranges.sorted { $0.start.lexicographicallyPrecedes($1.start) }
        var out: [SetElement] = []
        guard let first = sorted.first else { return [] }
        if first.start.contains(where: { $0 != 0 }) {
            out.append(SetElement(key: [UInt8](repeating: 0, count: first.start.count), intervalEnd: true))
        }
        for (i, r) in sorted.enumerated() {
            out.append(SetElement(key: r.start, data: r.data))
            if let end = r.end, i + 1 == sorted.count || sorted[i + 1].start != end {
                out.append(SetElement(key: end, intervalEnd: true))
            }
        }
        return out
    }
}

/// A typed value for building set keys, map values and comparisons.
public enum Value: Hashable, Sendable {
    case ipv4(IPv4Address)
    case ipv6(IPv6Address)
    case proto(UInt8)
    case port(UInt16)
    /// A 32-bit integer in host byte order (marks, numgen and hash results).
    case u32(UInt32)
    /// Raw bytes.
    case raw([UInt8])

    public var bytes: [UInt8] {
        switch self {
        case .ipv4(let a): a.bytes
        case .ipv6(let a): a.bytes
        case .proto(let p): [p]
        case .port(let p): [UInt8(p >> 8), UInt8(p & 0xff)]
        case .u32(let v): withUnsafeBytes(of: v) { Array($0) }
        case .raw(let b): b
        }
    }

    /// Concatenates values the way the kernel lays out a concatenated key: a single value
    /// as is, several each padded to a multiple of 4 bytes. (Hot in a full sync: one buffer,
    /// no intermediate arrays.)
    public static func bytes(_ values: [Value]) -> [UInt8] {
        if values.count == 1 { return values[0].bytes }
        var out: [UInt8] = []
        out.reserveCapacity(values.reduce(0) { $0 + ($1.byteCount + 3) / 4 * 4 })
        for v in values {
            v.append(to: &out)
            for _ in 0..<((4 - v.byteCount % 4) % 4) { out.append(0) }
        }
        return out
    }

    var byteCount: Int {
        switch self {
        case .ipv4: 4
        case .ipv6: 16
        case .proto: 1
        case .port: 2
        case .u32: 4
        case .raw(let b): b.count
        }
    }

    func append(to out: inout [UInt8]) {
        switch self {
        case .ipv4(let a): out.append(contentsOf: a.bytes)
        case .ipv6(let a): out.append(contentsOf: a.bytes)
        case .proto(let p): out.append(p)
        case .port(let p):
            out.append(UInt8(p >> 8))
            out.append(UInt8(p & 0xff))
        case .u32(let v):
            withUnsafeBytes(of: v) { out.append(contentsOf: $0) }
        case .raw(let b): out.append(contentsOf: b)
        }
    }
}
