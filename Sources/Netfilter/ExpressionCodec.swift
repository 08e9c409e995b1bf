import CNetfilter
import NFTables

/// Builds libnftnl expressions from model expressions, and reads them back.
enum ExpressionEncoder {
    private static func attr(_ a: Int) -> UInt16 { UInt16(a) }

    private static func setU32(_ e: OpaquePointer, _ a: Int, _ v: UInt32) { nftnl_expr_set_u32(e, attr(a), v) }
    private static func setData(_ e: OpaquePointer, _ a: Int, _ bytes: [UInt8]) {
        bytes.withUnsafeBytes { _ = nftnl_expr_set(e, attr(a), $0.baseAddress, UInt32($0.count)) }
    }
    private static func setReg(_ e: OpaquePointer, _ a: Int, _ r: Register?) {
        if let r { setU32(e, a, r.rawValue) }
    }

    /// A new libnftnl expression (owned by the rule it is added to), or nil for `.unknown`.
    static func make(_ expr: Expression, anonymousSet: (name: String, id: UInt32)?) -> OpaquePointer? {
        func alloc(_ name: String) -> OpaquePointer? { nftnl_expr_alloc(name) }
        switch expr {
        case .payload(let base, let offset, let length, let into):
            guard let e = alloc("payload") else { return nil }
            setU32(e, Int(NFTNL_EXPR_PAYLOAD_DREG), into.rawValue)
            setU32(e, Int(NFTNL_EXPR_PAYLOAD_BASE), base.rawValue)
            setU32(e, Int(NFTNL_EXPR_PAYLOAD_OFFSET), offset)
            setU32(e, Int(NFTNL_EXPR_PAYLOAD_LEN), length)
            return e
        case .meta(let key, let into):
            guard let e = alloc("meta") else { return nil }
            setU32(e, Int(NFTNL_EXPR_META_KEY), key.rawValue)
            setU32(e, Int(NFTNL_EXPR_META_DREG), into.rawValue)
            return e
        case .metaSet(let key, let from):
            guard let e = alloc("meta") else { return nil }
            setU32(e, Int(NFTNL_EXPR_META_KEY), key.rawValue)
            setU32(e, Int(NFTNL_EXPR_META_SREG), from.rawValue)
            return e
        case .cmp(let op, let reg, let data):
            guard let e = alloc("cmp") else { return nil }
            setU32(e, Int(NFTNL_EXPR_CMP_SREG), reg.rawValue)
            setU32(e, Int(NFTNL_EXPR_CMP_OP), op.rawValue)
            setData(e, Int(NFTNL_EXPR_CMP_DATA), data)
            return e
        case .range(let invert, let reg, let from, let to):
            guard let e = alloc("range") else { return nil }
            setU32(e, Int(NFTNL_EXPR_RANGE_SREG), reg.rawValue)
            setU32(e, Int(NFTNL_EXPR_RANGE_OP), invert ? UInt32(NFT_RANGE_NEQ.rawValue) : UInt32(NFT_RANGE_EQ.rawValue))
            setData(e, Int(NFTNL_EXPR_RANGE_FROM_DATA), from)
            setData(e, Int(NFTNL_EXPR_RANGE_TO_DATA), to)
            return e
        case .bitwise(let from, let into, let length, let mask, let xor):
            guard let e = alloc("bitwise") else { return nil }
            setU32(e, Int(NFTNL_EXPR_BITWISE_SREG), from.rawValue)
            setU32(e, Int(NFTNL_EXPR_BITWISE_DREG), into.rawValue)
            setU32(e, Int(NFTNL_EXPR_BITWISE_LEN), length)
            setData(e, Int(NFTNL_EXPR_BITWISE_MASK), mask)
            setData(e, Int(NFTNL_EXPR_BITWISE_XOR), xor)
            return e
        case .lookup(let from, let set, let into, let invert):
            guard let e = alloc("lookup") else { return nil }
            setU32(e, Int(NFTNL_EXPR_LOOKUP_SREG), from.rawValue)
            setReg(e, Int(NFTNL_EXPR_LOOKUP_DREG), into)
            if let anonymousSet {
                nftnl_expr_set_str(e, attr(Int(NFTNL_EXPR_LOOKUP_SET)), anonymousSet.name)
                setU32(e, Int(NFTNL_EXPR_LOOKUP_SET_ID), anonymousSet.id)
            } else {
                nftnl_expr_set_str(e, attr(Int(NFTNL_EXPR_LOOKUP_SET)), set.name)
            }
            if invert { setU32(e, Int(NFTNL_EXPR_LOOKUP_FLAGS), UInt32(NFT_LOOKUP_F_INV.rawValue)) }
            return e
        case .immediate(let data, let into):
            guard let e = alloc("immediate") else { return nil }
            setU32(e, Int(NFTNL_EXPR_IMM_DREG), into.rawValue)
            setData(e, Int(NFTNL_EXPR_IMM_DATA), data)
            return e
        case .verdict(let v):
            guard let e = alloc("immediate") else { return nil }
            setU32(e, Int(NFTNL_EXPR_IMM_DREG), Register.verdict.rawValue)
            setU32(e, Int(NFTNL_EXPR_IMM_VERDICT), UInt32(bitPattern: v.code))
            if let c = v.chain { nftnl_expr_set_str(e, attr(Int(NFTNL_EXPR_IMM_CHAIN)), c) }
            return e
        case .numgen(let type, let modulus, let offset, let into):
            guard let e = alloc("numgen") else { return nil }
            setU32(e, Int(NFTNL_EXPR_NG_DREG), into.rawValue)
            setU32(e, Int(NFTNL_EXPR_NG_MODULUS), modulus)
            setU32(e, Int(NFTNL_EXPR_NG_TYPE), type.rawValue)
            setU32(e, Int(NFTNL_EXPR_NG_OFFSET), offset)
            return e
        case .hash(let type, let from, let length, let modulus, let seed, let offset, let into):
            guard let e = alloc("hash") else { return nil }
            setU32(e, Int(NFTNL_EXPR_HASH_TYPE), type.rawValue)
            if let from {
                setU32(e, Int(NFTNL_EXPR_HASH_SREG), from.rawValue)
                setU32(e, Int(NFTNL_EXPR_HASH_LEN), length)
            }
            setU32(e, Int(NFTNL_EXPR_HASH_DREG), into.rawValue)
            setU32(e, Int(NFTNL_EXPR_HASH_MODULUS), modulus)
            if type == .jenkins { setU32(e, Int(NFTNL_EXPR_HASH_SEED), seed) }
            setU32(e, Int(NFTNL_EXPR_HASH_OFFSET), offset)
            return e
        case .nat(let type, let family, let amin, let amax, let pmin, let pmax, let flags):
            guard let e = alloc("nat") else { return nil }
            setU32(e, Int(NFTNL_EXPR_NAT_TYPE), type.rawValue)
            setU32(e, Int(NFTNL_EXPR_NAT_FAMILY), UInt32(family.nfproto))
            setReg(e, Int(NFTNL_EXPR_NAT_REG_ADDR_MIN), amin)
            setReg(e, Int(NFTNL_EXPR_NAT_REG_ADDR_MAX), amax)
            setReg(e, Int(NFTNL_EXPR_NAT_REG_PROTO_MIN), pmin)
            setReg(e, Int(NFTNL_EXPR_NAT_REG_PROTO_MAX), pmax)
            if !flags.isEmpty { setU32(e, Int(NFTNL_EXPR_NAT_FLAGS), flags.rawValue) }
            return e
        case .masquerade(let flags, let pmin, let pmax):
            guard let e = alloc("masq") else { return nil }
            if !flags.isEmpty { setU32(e, Int(NFTNL_EXPR_MASQ_FLAGS), flags.rawValue) }
            setReg(e, Int(NFTNL_EXPR_MASQ_REG_PROTO_MIN), pmin)
            setReg(e, Int(NFTNL_EXPR_MASQ_REG_PROTO_MAX), pmax)
            return e
        case .reject(let type, let code):
            guard let e = alloc("reject") else { return nil }
            setU32(e, Int(NFTNL_EXPR_REJECT_TYPE), type.rawValue)
            nftnl_expr_set_u8(e, attr(Int(NFTNL_EXPR_REJECT_CODE)), code)
            return e
        case .ct(let key, let direction, let into):
            guard let e = alloc("ct") else { return nil }
            setU32(e, Int(NFTNL_EXPR_CT_KEY), key.rawValue)
            setU32(e, Int(NFTNL_EXPR_CT_DREG), into.rawValue)
            if let direction { nftnl_expr_set_u8(e, attr(Int(NFTNL_EXPR_CT_DIR)), direction.rawValue) }
            return e
        case .fib(let flags, let result, let into):
            guard let e = alloc("fib") else { return nil }
            setU32(e, Int(NFTNL_EXPR_FIB_FLAGS), flags.rawValue)
            setU32(e, Int(NFTNL_EXPR_FIB_RESULT), result.rawValue)
            setU32(e, Int(NFTNL_EXPR_FIB_DREG), into.rawValue)
            return e
        case .counter:
            guard let e = alloc("counter") else { return nil }
            nftnl_expr_set_u64(e, attr(Int(NFTNL_EXPR_CTR_PACKETS)), 0)
            nftnl_expr_set_u64(e, attr(Int(NFTNL_EXPR_CTR_BYTES)), 0)
            return e
        case .dynset(let op, let key, let data, let set, let timeout):
            guard let e = alloc("dynset") else { return nil }
            setU32(e, Int(NFTNL_EXPR_DYNSET_OP), op.rawValue)
            setU32(e, Int(NFTNL_EXPR_DYNSET_SREG_KEY), key.rawValue)
            setReg(e, Int(NFTNL_EXPR_DYNSET_SREG_DATA), data)
            nftnl_expr_set_str(e, attr(Int(NFTNL_EXPR_DYNSET_SET_NAME)), set)
            if let timeout { nftnl_expr_set_u64(e, attr(Int(NFTNL_EXPR_DYNSET_TIMEOUT)), timeout) }
            return e
        case .unknown:
            return nil
        }
    }
}

/// Reads libnftnl expressions back into model expressions.
enum ExpressionDecoder {
    private static func u32(_ e: OpaquePointer, _ a: Int) -> UInt32 { nftnl_expr_get_u32(e, UInt16(a)) }
    private static func isSet(_ e: OpaquePointer, _ a: Int) -> Bool { nftnl_expr_is_set(e, UInt16(a)) }
    private static func reg(_ e: OpaquePointer, _ a: Int) -> Register? {
        isSet(e, a) ? Register(rawValue: u32(e, a)) : nil
    }
    private static func data(_ e: OpaquePointer, _ a: Int) -> [UInt8] {
        var len: UInt32 = 0
        guard let p = nftnl_expr_get(e, UInt16(a), &len) else { return [] }
        return Array(UnsafeRawBufferPointer(start: p, count: Int(len)))
    }
    private static func string(_ e: OpaquePointer, _ a: Int) -> String? {
        guard isSet(e, a), let p = nftnl_expr_get_str(e, UInt16(a)) else { return nil }
        return String(cString: p)
    }

    /// The model expression, and for lookups the kernel's set name (resolved by the caller).
    static func read(_ e: OpaquePointer) -> Expression {
        guard let namePtr = nftnl_expr_get_str(e, UInt16(NFTNL_EXPR_NAME)) else { return .unknown("?") }
        let name = String(cString: namePtr)
        switch name {
        case "payload":
            guard let base = PayloadBase(rawValue: u32(e, NFTNL_EXPR_PAYLOAD_BASE)),
                  let dreg = reg(e, NFTNL_EXPR_PAYLOAD_DREG) else { return .unknown("payload set") }
            return .payload(base: base, offset: u32(e, NFTNL_EXPR_PAYLOAD_OFFSET),
                            length: u32(e, NFTNL_EXPR_PAYLOAD_LEN), into: dreg)
        case "meta":
            guard let key = MetaKey(rawValue: u32(e, NFTNL_EXPR_META_KEY)) else { return .unknown("meta") }
            if let d = reg(e, NFTNL_EXPR_META_DREG) { return .meta(key, into: d) }
            if let s = reg(e, NFTNL_EXPR_META_SREG) { return .metaSet(key, from: s) }
            return .unknown("meta")
        case "cmp":
            guard let op = CmpOp(rawValue: u32(e, NFTNL_EXPR_CMP_OP)),
                  let s = reg(e, NFTNL_EXPR_CMP_SREG) else { return .unknown("cmp") }
            return .cmp(op, s, data(e, NFTNL_EXPR_CMP_DATA))
        case "range":
            guard let s = reg(e, NFTNL_EXPR_RANGE_SREG) else { return .unknown("range") }
            return .range(invert: u32(e, NFTNL_EXPR_RANGE_OP) == UInt32(NFT_RANGE_NEQ.rawValue), s,
                          from: data(e, NFTNL_EXPR_RANGE_FROM_DATA), to: data(e, NFTNL_EXPR_RANGE_TO_DATA))
        case "bitwise":
            guard let s = reg(e, NFTNL_EXPR_BITWISE_SREG), let d = reg(e, NFTNL_EXPR_BITWISE_DREG),
                  isSet(e, NFTNL_EXPR_BITWISE_MASK) else { return .unknown("bitwise") }
            return .bitwise(from: s, into: d, length: u32(e, NFTNL_EXPR_BITWISE_LEN),
                            mask: data(e, NFTNL_EXPR_BITWISE_MASK), xor: data(e, NFTNL_EXPR_BITWISE_XOR))
        case "lookup":
            guard let s = reg(e, NFTNL_EXPR_LOOKUP_SREG), let set = string(e, NFTNL_EXPR_LOOKUP_SET) else {
                return .unknown("lookup")
            }
            let flags = isSet(e, NFTNL_EXPR_LOOKUP_FLAGS) ? u32(e, NFTNL_EXPR_LOOKUP_FLAGS) : 0
            return .lookup(from: s, set: .named(set), into: reg(e, NFTNL_EXPR_LOOKUP_DREG),
                           invert: flags & UInt32(NFT_LOOKUP_F_INV.rawValue) != 0)
        case "immediate":
            guard let d = reg(e, NFTNL_EXPR_IMM_DREG) else { return .unknown("immediate") }
            if d == .verdict {
                let code = Int32(bitPattern: u32(e, NFTNL_EXPR_IMM_VERDICT))
                guard let v = Verdict(code: code, chain: string(e, NFTNL_EXPR_IMM_CHAIN)) else { return .unknown("verdict") }
                return .verdict(v)
            }
            return .immediate(data(e, NFTNL_EXPR_IMM_DATA), into: d)
        case "numgen":
            guard let t = NumgenType(rawValue: u32(e, NFTNL_EXPR_NG_TYPE)),
                  let d = reg(e, NFTNL_EXPR_NG_DREG) else { return .unknown("numgen") }
            return .numgen(t, modulus: u32(e, NFTNL_EXPR_NG_MODULUS), offset: u32(e, NFTNL_EXPR_NG_OFFSET), into: d)
        case "hash":
            guard let t = HashType(rawValue: u32(e, NFTNL_EXPR_HASH_TYPE)),
                  let d = reg(e, NFTNL_EXPR_HASH_DREG) else { return .unknown("hash") }
            let from = reg(e, NFTNL_EXPR_HASH_SREG)
            return .hash(t, from: from, length: from == nil ? 0 : u32(e, NFTNL_EXPR_HASH_LEN),
                         modulus: u32(e, NFTNL_EXPR_HASH_MODULUS),
                         seed: t == .jenkins ? u32(e, NFTNL_EXPR_HASH_SEED) : 0,
                         offset: u32(e, NFTNL_EXPR_HASH_OFFSET), into: d)
        case "nat":
            guard let t = NatType(rawValue: u32(e, NFTNL_EXPR_NAT_TYPE)),
                  let f = Family(nfproto: UInt8(truncatingIfNeeded: u32(e, NFTNL_EXPR_NAT_FAMILY))) else { return .unknown("nat") }
            return .nat(t, family: f, addressMin: reg(e, NFTNL_EXPR_NAT_REG_ADDR_MIN),
                        addressMax: reg(e, NFTNL_EXPR_NAT_REG_ADDR_MAX),
                        portMin: reg(e, NFTNL_EXPR_NAT_REG_PROTO_MIN),
                        portMax: reg(e, NFTNL_EXPR_NAT_REG_PROTO_MAX),
                        flags: NatFlags(rawValue: isSet(e, NFTNL_EXPR_NAT_FLAGS) ? u32(e, NFTNL_EXPR_NAT_FLAGS) : 0))
        case "masq":
            return .masquerade(flags: NatFlags(rawValue: isSet(e, NFTNL_EXPR_MASQ_FLAGS) ? u32(e, NFTNL_EXPR_MASQ_FLAGS) : 0),
                               portMin: reg(e, NFTNL_EXPR_MASQ_REG_PROTO_MIN),
                               portMax: reg(e, NFTNL_EXPR_MASQ_REG_PROTO_MAX))
        case "reject":
            guard let t = RejectType(rawValue: u32(e, NFTNL_EXPR_REJECT_TYPE)) else { return .unknown("reject") }
            return .reject(t, code: nftnl_expr_get_u8(e, UInt16(NFTNL_EXPR_REJECT_CODE)))
        case "ct":
            guard let k = CtKey(rawValue: u32(e, NFTNL_EXPR_CT_KEY)), let d = reg(e, NFTNL_EXPR_CT_DREG) else {
                return .unknown("ct")
            }
            let dir = isSet(e, NFTNL_EXPR_CT_DIR) ? CtDirection(rawValue: nftnl_expr_get_u8(e, UInt16(NFTNL_EXPR_CT_DIR))) : nil
            return .ct(k, direction: dir, into: d)
        case "fib":
            guard let r = FibResult(rawValue: u32(e, NFTNL_EXPR_FIB_RESULT)), let d = reg(e, NFTNL_EXPR_FIB_DREG) else {
                return .unknown("fib")
            }
            return .fib(FibFlags(rawValue: u32(e, NFTNL_EXPR_FIB_FLAGS)), r, into: d)
        case "counter":
            return .counter
        case "dynset":
            guard let op = DynsetOp(rawValue: u32(e, NFTNL_EXPR_DYNSET_OP)),
                  let k = reg(e, NFTNL_EXPR_DYNSET_SREG_KEY),
                  let set = string(e, NFTNL_EXPR_DYNSET_SET_NAME) else { return .unknown("dynset") }
            let timeout = isSet(e, NFTNL_EXPR_DYNSET_TIMEOUT) ? nftnl_expr_get_u64(e, UInt16(NFTNL_EXPR_DYNSET_TIMEOUT)) : nil
            return .dynset(op, key: k, data: reg(e, NFTNL_EXPR_DYNSET_SREG_DATA), set: set,
                           timeoutMillis: timeout == 0 ? nil : timeout)
        default:
            return .unknown(name)
        }
    }
}
