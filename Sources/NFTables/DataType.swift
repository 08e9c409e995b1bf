/// An nft data type: what the bytes of a set key or map value mean. The ids are nft's
/// (`enum datatypes` in nftables); nft uses them to print and parse elements, so a set
/// that `nft list` must show correctly has to carry them.
public struct DataType: Hashable, Sendable, CustomStringConvertible {
    public enum ByteOrder: UInt32, Sendable, Hashable {
        case host = 1, big = 2
    }
    public var name: String
    public var id: UInt32
    /// Length in bytes, before concatenation padding.
    public var length: Int
    public var byteOrder: ByteOrder

    public init(name: String, id: UInt32, length: Int, byteOrder: ByteOrder) {
        self.name = name
        self.id = id
        self.length = length
        self.byteOrder = byteOrder
    }

    public var description: String { name }

    public static let verdict = DataType(name: "verdict", id: 1, length: 4, byteOrder: .host)
    public static let integer32 = DataType(name: "integer", id: 4, length: 4, byteOrder: .host)
    public static let ipv4Address = DataType(name: "ipv4_addr", id: 7, length: 4, byteOrder: .big)
    public static let ipv6Address = DataType(name: "ipv6_addr", id: 8, length: 16, byteOrder: .big)
    public static let etherAddress = DataType(name: "ether_addr", id: 9, length: 6, byteOrder: .big)
    public static let inetProto = DataType(name: "inet_proto", id: 12, length: 1, byteOrder: .big)
    public static let inetService = DataType(name: "inet_service", id: 13, length: 2, byteOrder: .big)
    public static let mark = DataType(name: "mark", id: 19, length: 4, byteOrder: .host)
    public static let ifname = DataType(name: "ifname", id: 41, length: 16, byteOrder: .host)

    public static let known: [DataType] = [
        .verdict, .integer32, .ipv4Address, .ipv6Address, .etherAddress, .inetProto, .inetService, .mark, .ifname,
    ]

    public static func known(id: UInt32) -> DataType? { known.first { $0.id == id } }

    /// The address type of a family: ipv4_addr for ip, ipv6_addr for ip6.
    public static func address(_ family: Family) -> DataType {
        family == .ip6 ? .ipv6Address : .ipv4Address
    }
}

/// nft's TYPE_BITS: a concatenation's type id packs each field's id into 6 bits.
let concatTypeBits: UInt32 = 6

/// A set key or map value type: one data type, or a concatenation of several.
public struct TypeList: Hashable, Sendable, CustomStringConvertible, ExpressibleByArrayLiteral {
    public var fields: [DataType]
    public init(_ fields: [DataType]) { self.fields = fields }
    public init(arrayLiteral elements: DataType...) { self.fields = elements }

    public var isConcatenation: Bool { fields.count > 1 }

    /// The id netlink carries: a single type's id, or the packed ids of a concatenation.
    public var id: UInt32 {
        fields.reduce(0) { ($0 << concatTypeBits) | $1.id }
    }

    /// Length in bytes as the kernel sees it: concatenated fields are padded to 4 bytes each.
    public var length: Int {
        isConcatenation ? fields.reduce(0) { $0 + ($1.length + 3) / 4 * 4 } : (fields.first?.length ?? 0)
    }

    public var description: String { fields.map(\.name).joined(separator: " . ") }

    /// Unpacks a concatenation id into known types, checking that lengths add up.
    public static func decode(id: UInt32, length: Int) -> TypeList? {
        if let single = DataType.known(id: id), single.length == length || single == .integer32 {
            var t = single
            if t == .integer32 { t.length = length }
            return TypeList([t])
        }
        var ids: [UInt32] = []
        var rest = id
        while rest != 0 {
            ids.insert(rest & ((1 << concatTypeBits) - 1), at: 0)
            rest >>= concatTypeBits
        }
        let types = ids.compactMap(DataType.known(id:))
        guard types.count == ids.count, types.count > 1 else { return nil }
        let list = TypeList(types)
        return list.length == length ? list : nil
    }
}
