/// An IPv4 address in network byte order.
public struct IPv4Address: Hashable, Sendable, Comparable, CustomStringConvertible, LosslessStringConvertible {
    public var bytes: [UInt8]

    public init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8) { bytes = [b0, b1, b2, b3] }

    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 else { return nil }
        self.bytes = bytes
    }

    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for p in parts {
            // Digits only (`UInt8("+1")` would accept a sign), and no leading zero: inet_pton
            // refuses "010", which other tools read as octal.
            guard !p.isEmpty, p.count <= 3, p.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
                p.count == 1 || p.utf8.first != 0x30, let v = UInt8(p)
            else { return nil }
            out.append(v)
        }
        bytes = out
    }

    public var description: String { bytes.map(String.init).joined(separator: ".") }

    public static func < (a: IPv4Address, b: IPv4Address) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }
}

/// An IPv6 address in network byte order.
public struct IPv6Address: Hashable, Sendable, Comparable, CustomStringConvertible, LosslessStringConvertible {
    public var bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    public init?(_ text: String) {
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawDoubleColon = false
        let halves: [String]
        if let r = text.firstRange(of: "::") {
            halves = [String(text[..<r.lowerBound]), String(text[r.upperBound...])]
            if halves[1].contains("::") { return nil }
        } else {
            halves = [text]
        }
        // An embedded IPv4 address may only end the whole address (`::ffff:1.2.3.4`).
        func groups(_ s: String, last: Bool) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out: [UInt16] = []
            let parts = s.split(separator: ":", omittingEmptySubsequences: false)
            for (i, p) in parts.enumerated() {
                if last, i == parts.count - 1, p.contains(".") {
                    guard let v4 = IPv4Address(String(p)) else { return nil }
                    out.append(UInt16(v4.bytes[0]) << 8 | UInt16(v4.bytes[1]))
                    out.append(UInt16(v4.bytes[2]) << 8 | UInt16(v4.bytes[3]))
                    continue
                }
                guard !p.isEmpty, p.count <= 4, p.allSatisfy(\.isHexDigit), p.allSatisfy(\.isASCII),
                    let v = UInt16(p, radix: 16)
                else { return nil }
                out.append(v)
            }
            return out
        }
        guard let h = groups(halves[0], last: halves.count == 1) else { return nil }
        head = h
        if halves.count == 2 {
            sawDoubleColon = true
            guard let t = groups(halves[1], last: true) else { return nil }
            tail = t
        }
        let total = head.count + tail.count
        guard sawDoubleColon ? total < 8 : total == 8 else { return nil }
        let words = head + [UInt16](repeating: 0, count: 8 - total) + tail
        bytes = words.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] }
    }

    /// RFC 5952 text: lowercase, leading zeros dropped, the longest (first of equal) run of two or
    /// more zero groups as `::`; IPv4-mapped (`::ffff:1.2.3.4`) and IPv4-compatible (`::1.2.3.4`)
    /// addresses end in dotted quads. This is glibc's `inet_ntop`, which is what nft prints.
    public var description: String {
        let words = stride(from: 0, to: 16, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
        var bestStart = -1, bestLen = 0, i = 0
        while i < 8 {
            if words[i] == 0 {
                var j = i
                while j < 8 && words[j] == 0 { j += 1 }
                if j - i > bestLen { bestStart = i; bestLen = j - i }
                i = j
            } else {
                i += 1
            }
        }
        let hex = words.map { String($0, radix: 16) }
        if bestStart == 0 && (bestLen == 6 || (bestLen == 5 && words[5] == 0xffff)) {
            let v4 = bytes[12...].map(String.init).joined(separator: ".")
            return bestLen == 6 ? "::" + v4 : "::ffff:" + v4
        }
        if bestLen < 2 { return hex.joined(separator: ":") }
        let left = hex[0..<bestStart].joined(separator: ":")
        let right = hex[(bestStart + bestLen)...].joined(separator: ":")
        return left + "::" + right
    }

    public static func < (a: IPv6Address, b: IPv6Address) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }
}

/// An IPv4 or IPv6 address.
public enum IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible, LosslessStringConvertible {
    case v4(IPv4Address)
    case v6(IPv6Address)

    public init?(_ text: String) {
        if let a = IPv4Address(text) {
            self = .v4(a)
        } else if let a = IPv6Address(text) {
            self = .v6(a)
        } else {
            return nil
        }
    }

    public var bytes: [UInt8] {
        switch self {
        case .v4(let a): a.bytes
        case .v6(let a): a.bytes
        }
    }

    public var family: IPFamily {
        switch self {
        case .v4: .v4
        case .v6: .v6
        }
    }

    public var description: String {
        switch self {
        case .v4(let a): a.description
        case .v6(let a): a.description
        }
    }

    public static func < (a: IPAddress, b: IPAddress) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }
}

/// An address prefix such as 10.0.0.0/8 or fd00::/64.
public struct IPPrefix: Hashable, Sendable, CustomStringConvertible, LosslessStringConvertible {
    public var address: IPAddress
    public var length: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let first = parts.first, let a = IPAddress(String(first)) else { return nil }
        let max = a.bytes.count * 8
        if parts.count == 2 {
            let digits = parts[1]
            guard !digits.isEmpty, digits.count <= 3, digits.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
                let l = Int(digits), (0...max).contains(l)
            else { return nil }
            length = l
        } else {
            length = max
        }
        address = a
        // Keep only the network part.
        var b = a.bytes
        for i in 0..<b.count {
            let bitsHere = Swift.max(0, Swift.min(8, length - i * 8))
            b[i] &= bitsHere == 0 ? 0 : UInt8(truncatingIfNeeded: 0xff << (8 - bitsHere))
        }
        switch a {
        case .v4(var v4):
            v4.bytes = b
            address = .v4(v4)
        case .v6(var v6):
            v6.bytes = b
            address = .v6(v6)
        }
    }

    /// The mask as bytes (ones for the network part).
    public var mask: [UInt8] {
        (0..<address.bytes.count).map { i in
            let bitsHere = Swift.max(0, Swift.min(8, length - i * 8))
            return bitsHere == 0 ? 0 : UInt8(truncatingIfNeeded: 0xff << (8 - bitsHere))
        }
    }

    /// The last address inside the prefix (what a concatenated range's inclusive end holds).
    public var last: [UInt8] {
        let m = mask
        return zip(address.bytes, m).map { $0 | ~$1 }
    }

    /// The first address after the prefix, or nil when the prefix reaches the top of the space.
    public var end: [UInt8]? {
        var b = address.bytes
        let m = mask
        for i in 0..<b.count { b[i] |= ~m[i] }
        var i = b.count - 1
        while i >= 0 {
            if b[i] == 0xff { b[i] = 0; i -= 1 } else { b[i] += 1; return b }
        }
        return nil
    }

    public var description: String { "\(address)/\(length)" }
}
