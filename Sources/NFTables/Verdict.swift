/// A verdict: the end of a packet's walk through a chain, or a move to another chain.
public enum Verdict: Hashable, Sendable, CustomStringConvertible {
    case accept, drop, `continue`, `return`
    case jump(String)
    case goto(String)

    /// NF_DROP / NF_ACCEPT and the NFT_* negative verdict codes.
    public var code: Int32 {
        switch self {
        case .drop: 0
        case .accept: 1
        case .continue: -1
        case .return: -5
        case .jump: -3
        case .goto: -4
        }
    }

    public var chain: String? {
        switch self {
        case .jump(let c), .goto(let c): c
        default: nil
        }
    }

    public init?(code: Int32, chain: String?) {
        switch code {
        case 0: self = .drop
        case 1: self = .accept
        case -1: self = .continue
        case -5: self = .return
        case -3: guard let chain else { return nil }; self = .jump(chain)
        case -4: guard let chain else { return nil }; self = .goto(chain)
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .accept: "accept"
        case .drop: "drop"
        case .continue: "continue"
        case .return: "return"
        case .jump(let c): "jump \(c)"
        case .goto(let c): "goto \(c)"
        }
    }
}
