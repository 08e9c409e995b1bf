/// A register of the nf_tables virtual machine. The verdict register is 0; the four
/// 16-byte registers are 1–4; the sixteen 4-byte registers are 8–23 (`r32(0)`…`r32(15)`).
/// nft writes the first field of a concatenation to `r1` and the next ones to `r32(1)`,
/// `r32(2)`…, and so must we, or readback of nft's own rules would not compare equal.
public struct Register: RawRepresentable, Hashable, Sendable, Comparable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let verdict = Register(rawValue: 0)
    public static let r1 = Register(rawValue: 1)
    public static let r2 = Register(rawValue: 2)
    public static let r3 = Register(rawValue: 3)
    public static let r4 = Register(rawValue: 4)
    public static func r32(_ n: UInt32) -> Register { Register(rawValue: 8 + n) }

    /// Index in 4-byte units of where this register starts (the kernel's view).
    public var word: UInt32? {
        switch rawValue {
        case 1...4: (rawValue - 1) * 4
        case 8...23: rawValue - 8
        default: nil
        }
    }

    /// The register starting at 4-byte word `word`, named the way nft's `netlink_put_register`
    /// names it: a word that starts a 16-byte register gets that register's name (word 4 is
    /// `reg 2`, not `r32(4)`), any other word its 32-bit name.
    public init(word: UInt32) {
        self = word % 4 == 0 ? Register(rawValue: 1 + word / 4) : .r32(word)
    }

    /// The register that holds the next field after a field of `length` bytes starting here,
    /// named the way nft names it (`ip6 daddr . meta l4proto` puts l4proto in `reg 2`).
    public func advanced(byFieldOf length: Int) -> Register {
        let start = word ?? 0
        return Register(word: start + UInt32((length + 3) / 4))
    }

    public var isValidSource: Bool { word != nil }
    public var description: String { "reg \(rawValue)" }
    public static func < (a: Register, b: Register) -> Bool { a.rawValue < b.rawValue }
}

public enum PayloadBase: UInt32, Sendable, Hashable {
    case link = 0, network = 1, transport = 2, inner = 3
}

public enum CmpOp: UInt32, Sendable, Hashable {
    case eq = 0, neq, lt, lte, gt, gte
}

/// NFT_META_* keys that Sluice uses (and a few it may).
public enum MetaKey: UInt32, Sendable, Hashable {
    case len = 0, `protocol` = 1, priority = 2, mark = 3, iif = 4, oif = 5, iifname = 6, oifname = 7
    case iiftype = 8, oiftype = 9, skuid = 10, skgid = 11, nftrace = 12, rtclassid = 13
    case secmark = 14, nfproto = 15, l4proto = 16, bridgeIifname = 17, bridgeOifname = 18
    case pkttype = 19, cpu = 20, iifgroup = 21, oifgroup = 22, cgroup = 23, prandom = 24
}

public enum CtKey: UInt32, Sendable, Hashable {
    case state = 0, direction = 1, status = 2, mark = 3, secmark = 4, expiration = 5
    case helper = 6, l3protocol = 7, src = 8, dst = 9, `protocol` = 10, protoSrc = 11, protoDst = 12
}

public enum CtDirection: UInt8, Sendable, Hashable {
    case original = 0, reply = 1
}

public enum NumgenType: UInt32, Sendable, Hashable {
    case incremental = 0, random = 1
}

public enum HashType: UInt32, Sendable, Hashable {
    case jenkins = 0, symmetric = 1
}

public enum NatType: UInt32, Sendable, Hashable {
    case snat = 0, dnat = 1
}

/// NF_NAT_RANGE_* flags.
public struct NatFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let mapIPs = NatFlags(rawValue: 1)
    public static let protoSpecified = NatFlags(rawValue: 2)
    public static let protoRandom = NatFlags(rawValue: 4)
    public static let persistent = NatFlags(rawValue: 8)
    public static let protoRandomFully = NatFlags(rawValue: 16)
    public static let protoOffset = NatFlags(rawValue: 32)
    public static let netmap = NatFlags(rawValue: 64)
}

/// NFT_REJECT_* types and their codes.
public enum RejectType: UInt32, Sendable, Hashable {
    case icmpUnreachable = 0, tcpReset = 1, icmpxUnreachable = 2
}

/// NFTA_FIB_F_* flags and NFT_FIB_RESULT_* results.
public struct FibFlags: OptionSet, Sendable, Hashable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let saddr = FibFlags(rawValue: 1)
    public static let daddr = FibFlags(rawValue: 2)
    public static let mark = FibFlags(rawValue: 4)
    public static let iif = FibFlags(rawValue: 8)
    public static let oif = FibFlags(rawValue: 16)
    public static let present = FibFlags(rawValue: 32)
}

public enum FibResult: UInt32, Sendable, Hashable {
    case oif = 1, oifname = 2, addrtype = 3
}

/// RTN_* address types, as `fib ... type` compares them.
public enum AddressType: UInt32, Sendable, Hashable {
    case unspec = 0, unicast = 1, local = 2, broadcast = 3, anycast = 4, multicast = 5
    case blackhole = 6, unreachable = 7, prohibit = 8
}

public enum DynsetOp: UInt32, Sendable, Hashable {
    case add = 0, update = 1, delete = 2
}

/// Where a lookup or dynset finds its set: a named set of the table, or an anonymous set that
/// lives and dies with the rule (nft's `{ ... }` and `vmap { ... }` literals).
public enum SetReference: Hashable, Sendable {
    case named(String)
    case anonymous(NFSet)

    public var name: String {
        switch self {
        case .named(let n): n
        case .anonymous(let s): s.name
        }
    }
}

/// One nf_tables expression, exactly as netlink carries it. Rules are lists of these.
public enum Expression: Hashable, Sendable {
    /// Load `length` bytes at `offset` from a header into `into`.
    case payload(base: PayloadBase, offset: UInt32, length: UInt32, into: Register)
    /// Load packet metadata into a register.
    case meta(MetaKey, into: Register)
    /// Set packet metadata from a register.
    case metaSet(MetaKey, from: Register)
    /// Compare a register with constant bytes; the rule stops here unless it holds.
    case cmp(CmpOp, Register, [UInt8])
    /// The register is (or, inverted, is not) within from…to, inclusive (nft's `range`).
    case range(invert: Bool, Register, from: [UInt8], to: [UInt8])
    /// `into = (from & mask) ^ xor` over `length` bytes.
    case bitwise(from: Register, into: Register, length: UInt32, mask: [UInt8], xor: [UInt8])
    /// Look the key in `from` up in a set; maps write the value to `into` (verdict maps to the verdict register).
    case lookup(from: Register, set: SetReference, into: Register?, invert: Bool)
    /// Load constant bytes into a register.
    case immediate([UInt8], into: Register)
    /// A verdict.
    case verdict(Verdict)
    /// A number generator: `into = (random or counter) mod modulus + offset`.
    case numgen(NumgenType, modulus: UInt32, offset: UInt32, into: Register)
    /// `into = hash(from[0..<length], seed) mod modulus + offset`; symmetric hashes ignore `from`.
    case hash(HashType, from: Register?, length: UInt32, modulus: UInt32, seed: UInt32, offset: UInt32, into: Register)
    /// dnat/snat to the address (and port) held in registers.
    case nat(NatType, family: Family, addressMin: Register?, addressMax: Register?, portMin: Register?, portMax: Register?, flags: NatFlags)
    /// Masquerade: snat to the outgoing interface's address.
    case masquerade(flags: NatFlags, portMin: Register?, portMax: Register?)
    case reject(RejectType, code: UInt8)
    case ct(CtKey, direction: CtDirection?, into: Register)
    case fib(FibFlags, FibResult, into: Register)
    /// A counter. Its values are not part of the model: readback leaves them out.
    case counter
    /// Add or update the key in `key` (and data in `data`) in a set, with an optional timeout (ms).
    case dynset(DynsetOp, key: Register, data: Register?, set: String, timeoutMillis: UInt64?)
    /// Any expression this model does not know, by name: readback keeps it so that nothing is lost.
    case unknown(String)
}
