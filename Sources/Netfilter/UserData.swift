import NFTables

/// nftnl's user-data TLVs (type byte, length byte, value), where nft keeps comments and the
/// byte order and typeof information it needs to print sets. Encoded the way nft encodes them
/// so that `nft list` shows what Sluice wrote.
enum UserData {
    // NFTNL_UDATA_{TABLE,CHAIN,RULE}_COMMENT and NFTNL_UDATA_SET_ELEM_COMMENT are all 0.
    static let comment: UInt8 = 0
    static let setKeyByteOrder: UInt8 = 0
    static let setDataByteOrder: UInt8 = 1
    static let setMergeElements: UInt8 = 2
    static let setKeyTypeof: UInt8 = 3
    static let setDataTypeof: UInt8 = 4
    static let setComment: UInt8 = 7

    static func tlv(_ type: UInt8, _ value: [UInt8]) -> [UInt8] {
        [type, UInt8(value.count)] + value
    }

    static func string(_ s: String) -> [UInt8] { Array(s.utf8) + [0] }

    static func u32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v) { Array($0) } }

    static func commentOnly(_ comment: String?) -> [UInt8]? {
        guard let comment else { return nil }
        return tlv(Self.comment, string(comment))
    }

    /// Parses TLVs into (type, value) pairs; stops at anything malformed.
    static func parse(_ bytes: [UInt8]) -> [(UInt8, [UInt8])] {
        var out: [(UInt8, [UInt8])] = []
        var i = 0
        while i + 2 <= bytes.count {
            let type = bytes[i], len = Int(bytes[i + 1])
            guard i + 2 + len <= bytes.count else { break }
            out.append((type, Array(bytes[(i + 2)..<(i + 2 + len)])))
            i += 2 + len
        }
        return out
    }

    static func string(from value: [UInt8]) -> String {
        String(decoding: value.prefix { $0 != 0 }, as: UTF8.self)
    }

    static func comment(in bytes: [UInt8]?, type: UInt8 = comment) -> String? {
        guard let bytes else { return nil }
        return parse(bytes).first { $0.0 == type }.map { string(from: $0.1) }
    }

    /// A set's user data as nft writes it: key (and data) byte order, typeof expressions,
    /// then the comment.
    static func set(_ s: NFSet) -> [UInt8] {
        var out = tlv(setKeyByteOrder, u32(byteOrder(s.key)))
        switch s.data {
        case .value(let t): out += tlv(setDataByteOrder, u32(byteOrder(t)))
        case .verdict: out += tlv(setDataByteOrder, u32(0))
        case nil: break
        }
        if let keys = s.keyTypeof, let enc = Typeof.encode(keys) { out += tlv(setKeyTypeof, enc) }
        if let keys = s.dataTypeof, let enc = Typeof.encode(keys) { out += tlv(setDataTypeof, enc) }
        if let c = s.comment { out += tlv(setComment, string(c)) }
        return out
    }

    /// nft's `enum byteorder`: 0 (invalid) for concatenations, 1 host, 2 big endian.
    static func byteOrder(_ t: TypeList) -> UInt32 {
        t.isConcatenation ? 0 : (t.fields.first?.byteOrder.rawValue ?? 0)
    }

    static func typeof(in bytes: [UInt8]?, type: UInt8) -> [Key]? {
        guard let bytes, let v = parse(bytes).first(where: { $0.0 == type })?.1 else { return nil }
        return Typeof.decode(v)
    }
}

/// nft's encoding of `typeof` expressions in set user data: an expression type id and its
/// own attributes, nested; a concatenation nests one such pair per field.
enum Typeof {
    // nft's enum expr_types.
    static let exprPayload: UInt32 = 7
    static let exprMeta: UInt32 = 9
    static let exprConcat: UInt32 = 13
    static let exprNumgen: UInt32 = 23

    // nft's proto_desc_id and header field indices for the fields Sluice declares sets with.
    static let payloadFields: [(base: PayloadBase, offset: UInt32, length: UInt32, desc: UInt32, field: UInt32, type: DataType)] = [
        (.network, 12, 4, 12, 11, .ipv4Address),   // ip saddr
        (.network, 16, 4, 12, 12, .ipv4Address),   // ip daddr
        (.network, 8, 16, 13, 8, .ipv6Address),    // ip6 saddr
        (.network, 24, 16, 13, 9, .ipv6Address),   // ip6 daddr
        (.transport, 0, 2, 11, 1, .inetService),   // th sport
        (.transport, 2, 2, 11, 2, .inetService),   // th dport
    ]

    static func encode(_ keys: [Key]) -> [UInt8]? {
        if keys.count == 1 { return one(keys[0]) }
        var fields: [UInt8] = []
        for (i, k) in keys.enumerated() {
            guard let f = one(k) else { return nil }
            fields += UserData.tlv(UInt8(i), f)
        }
        return UserData.tlv(0, UserData.u32(exprConcat)) + UserData.tlv(1, fields)
    }

    private static func one(_ k: Key) -> [UInt8]? {
        let (type, attrs): (UInt32, [UInt8])
        switch k.source {
        case .payload(let base, let offset, let length):
            guard let f = payloadFields.first(where: { $0.base == base && $0.offset == offset && $0.length == length }) else { return nil }
            (type, attrs) = (exprPayload, UserData.tlv(0, UserData.u32(f.desc)) + UserData.tlv(1, UserData.u32(f.field)))
        case .meta(let key):
            (type, attrs) = (exprMeta, UserData.tlv(0, UserData.u32(key.rawValue)))
        case .numgen(let t, let modulus, let offset):
            (type, attrs) = (exprNumgen, UserData.tlv(0, UserData.u32(t.rawValue)) + UserData.tlv(1, UserData.u32(modulus))
                + UserData.tlv(2, UserData.u32(offset)))
        case .ct:
            return nil
        }
        return UserData.tlv(0, UserData.u32(type)) + UserData.tlv(1, attrs)
    }

    static func decode(_ bytes: [UInt8]) -> [Key]? {
        let top = UserData.parse(bytes)
        guard let typeBytes = top.first(where: { $0.0 == 0 })?.1, let type = u32(typeBytes),
              let data = top.first(where: { $0.0 == 1 })?.1 else { return nil }
        if type == exprConcat {
            var keys: [Key] = []
            for (_, field) in UserData.parse(data) {
                guard let k = decode(field), k.count == 1 else { return nil }
                keys += k
            }
            return keys.isEmpty ? nil : keys
        }
        let attrs = Dictionary(UserData.parse(data).map { ($0.0, $0.1) }, uniquingKeysWith: { a, _ in a })
        func attr(_ i: UInt8) -> UInt32? { attrs[i].flatMap(u32) }
        switch type {
        case exprPayload:
            guard let desc = attr(0), let field = attr(1),
                  let f = payloadFields.first(where: { $0.desc == desc && $0.field == field }) else { return nil }
            return [Key(.payload(f.base, offset: f.offset, length: f.length), type: f.type)]
        case exprMeta:
            guard let raw = attr(0), let key = MetaKey(rawValue: raw) else { return nil }
            switch key {
            case .l4proto: return [.l4proto]
            case .mark: return [.mark]
            default: return nil
            }
        case exprNumgen:
            guard let t = attr(0).flatMap(NumgenType.init(rawValue:)), let mod = attr(1) else { return nil }
            return [Key(.numgen(t, modulus: mod, offset: attr(2) ?? 0), type: .integer32)]
        default:
            return nil
        }
    }

    private static func u32(_ b: [UInt8]) -> UInt32? {
        guard b.count == 4 else { return nil }
        return b.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
    }
}
