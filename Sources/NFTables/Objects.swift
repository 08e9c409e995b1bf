/// The kernel's limit on table, chain and set names (NFT_NAME_MAXLEN, including the NUL).
public let maxNameLength = 255
/// nft refuses comments longer than this (NFTNL_UDATA_COMMENT_MAXLEN).
public let maxCommentLength = 128

/// Identifies a table: family and name.
public struct TableID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var family: Family
    public var name: String
    public init(_ family: Family, _ name: String) {
        self.family = family
        self.name = name
    }
    public var description: String { "\(family.rawValue) \(name)" }
    public static func < (a: TableID, b: TableID) -> Bool { (a.family, a.name) < (b.family, b.name) }
}

public struct Table: Hashable, Sendable {
    public var id: TableID
    public var comment: String?
    public init(_ family: Family, _ name: String, comment: String? = nil) {
        self.id = TableID(family, name)
        self.comment = comment
    }
    public var family: Family { id.family }
    public var name: String { id.name }
}

public enum ChainType: String, Sendable, Hashable {
    case filter, nat, route
}

public enum Hook: String, Sendable, Hashable {
    case prerouting, input, forward, output, postrouting, ingress

    /// NF_INET_* (NF_NETDEV_INGRESS is 0, like prerouting, for the netdev family).
    public var number: UInt32 {
        switch self {
        case .prerouting, .ingress: 0
        case .input: 1
        case .forward: 2
        case .output: 3
        case .postrouting: 4
        }
    }

    public static func from(number: UInt32, family: Family) -> Hook? {
        switch number {
        case 0: family == .netdev ? .ingress : .prerouting
        case 1: .input
        case 2: .forward
        case 3: .output
        case 4: .postrouting
        default: nil
        }
    }
}

/// What makes a chain a base chain: it is attached to a hook.
public struct BaseChain: Hashable, Sendable {
    public var type: ChainType
    public var hook: Hook
    public var priority: Int32
    /// The verdict for packets that fall off the end: accept (default) or drop.
    public var policy: Verdict
    public init(type: ChainType, hook: Hook, priority: Int32, policy: Verdict = .accept) {
        self.type = type
        self.hook = hook
        self.priority = priority
        self.policy = policy
    }

    /// Standard priorities by name (nft's `dstnat`, `srcnat`, `filter`, ...).
    public static let dstnat: Int32 = -100
    public static let srcnat: Int32 = 100
    public static let filterPriority: Int32 = 0
    public static let mangle: Int32 = -150
    public static let raw: Int32 = -300
}

public struct ChainID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var table: TableID
    public var name: String
    public init(_ table: TableID, _ name: String) {
        self.table = table
        self.name = name
    }
    public var description: String { "\(table) \(name)" }
    public static func < (a: ChainID, b: ChainID) -> Bool { (a.table, a.name) < (b.table, b.name) }
}

public struct Chain: Hashable, Sendable {
    public var id: ChainID
    public var base: BaseChain?
    public var comment: String?
    public init(_ table: TableID, _ name: String, base: BaseChain? = nil, comment: String? = nil) {
        self.id = ChainID(table, name)
        self.base = base
        self.comment = comment
    }
    public var name: String { id.name }
    public var table: TableID { id.table }
}

/// A rule: an ordered list of low-level expressions, exactly as the kernel holds them.
/// Build the expressions with the helpers in `Match` and `Statement`.
public struct Rule: Hashable, Sendable {
    public var chain: ChainID
    public var expressions: [Expression]
    public var comment: String?
    /// The kernel's handle; set by readback, ignored for equality.
    public var handle: UInt64?

    public init(_ chain: ChainID, _ expressions: [Expression], comment: String? = nil) {
        self.chain = chain
        self.expressions = expressions
        self.comment = comment
    }

    public static func == (a: Rule, b: Rule) -> Bool {
        a.chain == b.chain && a.expressions == b.expressions && a.comment == b.comment
    }
    public func hash(into h: inout Hasher) {
        h.combine(chain)
        h.combine(expressions)
        h.combine(comment)
    }
}
