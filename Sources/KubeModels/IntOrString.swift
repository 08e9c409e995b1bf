/// A Kubernetes `IntOrString` (e.g. `targetPort: 8080` or `targetPort: "http"`).
public enum IntOrString: Codable, Sendable, Hashable, CustomStringConvertible {
    case int(Int32)
    case string(String)

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let i = try? c.decode(Int32.self) {
            self = .int(i)
        } else {
            self = .string(try c.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .int(let i): try c.encode(i)
        case .string(let s): try c.encode(s)
        }
    }

    public var description: String {
        switch self {
        case .int(let i): String(i)
        case .string(let s): s
        }
    }
}

/// L4 protocol of a port; the API default when absent is TCP.
public enum PortProtocol: String, Codable, Sendable, Hashable {
    case tcp = "TCP"
    case udp = "UDP"
    case sctp = "SCTP"

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let p = PortProtocol(rawValue: text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected TCP, UDP or SCTP")
        }
        self = p
    }
}
