import NFTables

/// Our expressions in the text `nft --debug=netlink` prints for the ones nft generates
/// (libnftnl's expression snprintf), so a test can check that the builders make exactly what
/// nft makes from the rendered text, which is what re-loading a listing must reproduce.
enum NetlinkDebug {
    static func lines(_ rule: Rule) -> [String] {
        rule.expressions.map(line)
    }

    /// Data as libnftnl prints it: 4-byte words read in host (little-endian) order.
    static func words(_ bytes: [UInt8]) -> String {
        stride(from: 0, to: bytes.count, by: 4).map { i -> String in
            let chunk = bytes[i..<min(i + 4, bytes.count)]
            let v = chunk.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
            let s = String(v, radix: 16)
            return "0x" + String(repeating: "0", count: 8 - s.count) + s
        }.joined(separator: " ")
    }

    static func line(_ e: Expression) -> String {
        "[ " + body(e) + " ]"
    }

    private static func body(_ e: Expression) -> String {
        switch e {
        case .payload(let base, let offset, let length, let into):
            let b = ["link", "network", "transport", "inner"][Int(base.rawValue)]
            return "payload load \(length)b @ \(b) header + \(offset) => reg \(into.rawValue)"
        case .meta(let key, let into):
            return "meta load \(metaName(key)) => reg \(into.rawValue)"
        case .metaSet(let key, let from):
            return "meta set \(metaName(key)) with reg \(from.rawValue)"
        case .cmp(let op, let reg, let data):
            let o = ["eq", "neq", "lt", "lte", "gt", "gte"][Int(op.rawValue)]
            return "cmp \(o) reg \(reg.rawValue) \(words(data))"
        case .range(let invert, let reg, let from, let to):
            return "range \(invert ? "neq" : "eq") reg \(reg.rawValue) \(words(from)) \(words(to))"
        case .bitwise(let from, let into, _, let mask, let xor):
            return "bitwise reg \(into.rawValue) = ( reg \(from.rawValue) & \(words(mask)) ) ^ \(words(xor))"
        case .lookup(let from, let set, let into, let invert):
            let name: String = switch set {
            case .named(let n): n
            case .anonymous(let s): s.isMap ? "__map%d" : "__set%d"
            }
            return "lookup reg \(from.rawValue) set \(name)" + (into.map { " dreg \($0.rawValue)" } ?? "") + (invert ? " 0x1" : "")
        case .immediate(let data, let into):
            return "immediate reg \(into.rawValue) \(words(data))"
        case .verdict(let v):
            let text: String = switch v {
            case .jump(let c): "jump -> \(c)"
            case .goto(let c): "goto -> \(c)"
            default: v.description
            }
            return "immediate reg 0 \(text)"
        case .numgen(let type, let modulus, let offset, let into):
            return "numgen reg \(into.rawValue) = \(type == .random ? "random" : "inc") mod \(modulus)" + (offset != 0 ? " offset \(offset)" : "")
        case .hash(let type, let from, let length, let modulus, let seed, let offset, let into):
            let f = type == .symmetric ? "symhash()" : "jhash(reg \(from?.rawValue ?? 0), \(length), 0x\(String(seed, radix: 16)))"
            return "hash reg \(into.rawValue) = \(f) % mod \(modulus)" + (offset != 0 ? " offset \(offset)" : "")
        case .nat(let type, let family, let amin, let amax, let pmin, let pmax, let flags):
            var s = "nat \(type == .dnat ? "dnat" : "snat") \(family.rawValue)"
            if let amin { s += " addr_min reg \(amin.rawValue)" }
            if let amax { s += " addr_max reg \(amax.rawValue)" }
            if let pmin { s += " proto_min reg \(pmin.rawValue)" }
            if let pmax { s += " proto_max reg \(pmax.rawValue)" }
            return s + (flags.rawValue != 0 ? " flags 0x\(String(flags.rawValue, radix: 16))" : "")
        case .masquerade(let flags, let pmin, let pmax):
            var s = "masq"
            if flags.rawValue != 0 { s += " flags 0x\(String(flags.rawValue, radix: 16))" }
            if let pmin { s += " proto_min reg \(pmin.rawValue)" }
            if let pmax { s += " proto_max reg \(pmax.rawValue)" }
            return s
        case .reject(let type, let code):
            return "reject type \(type.rawValue) code \(code)"
        case .ct(let key, _, let into):
            return "ct load \(ctName(key)) => reg \(into.rawValue)"
        case .fib(let flags, let result, let into):
            let inputs = [(FibFlags.saddr, "saddr"), (.daddr, "daddr"), (.mark, "mark"), (.iif, "iif"), (.oif, "oif")]
                .filter { flags.contains($0.0) }.map(\.1).joined(separator: " . ")
            let r = switch result {
            case .addrtype: "type"
            case .oif: "oif"
            case .oifname: "oifname"
            }
            return "fib \(inputs) \(r) => reg \(into.rawValue)"
        case .counter:
            return "counter pkts 0 bytes 0"
        case .dynset(let op, let key, _, let set, let timeout):
            let o = ["add", "update", "delete"][Int(op.rawValue)]
            return "dynset \(o) reg_key \(key.rawValue) set \(set)" + (timeout.map { " timeout \($0)ms" } ?? "")
        case .unknown(let name):
            return name
        }
    }

    private static func metaName(_ key: MetaKey) -> String {
        switch key {
        case .l4proto: "l4proto"
        case .mark: "mark"
        case .iifname: "iifname"
        case .oifname: "oifname"
        case .iif: "iif"
        case .oif: "oif"
        default: "meta-\(key.rawValue)"
        }
    }

    private static func ctName(_ key: CtKey) -> String {
        switch key {
        case .state: "state"
        case .direction: "direction"
        case .status: "status"
        case .mark: "mark"
        default: "ct-\(key.rawValue)"
        }
    }

    /// A nat line as the kernel reports it back: nft sends `addr_min` alone and sometimes no
    /// flags; the kernel fills max registers from the min ones and sets `map-ips` (0x1) and
    /// `proto-specified` (0x2) for the registers given, which our builders copy (so readback
    /// compares equal). Other lines are unchanged.
    static func kernelForm(_ line: String) -> String {
        guard line.hasPrefix("[ nat ") else { return line }
        let t = line.split(separator: " ").map(String.init)
        var regs: [String: String] = [:]
        var flags: UInt32 = 0
        var i = 4
        while i < t.count {
            if t[i] == "flags", i + 1 < t.count {
                flags = UInt32(t[i + 1].dropFirst(2), radix: 16) ?? 0
                i += 2
            } else if i + 2 < t.count, t[i + 1] == "reg" {
                regs[t[i]] = t[i + 2]
                i += 3
            } else {
                i += 1
            }
        }
        var s = "[ nat \(t[2]) \(t[3])"
        if let a = regs["addr_min"] {
            s += " addr_min reg \(a) addr_max reg \(regs["addr_max"] ?? a)"
            flags |= 1
        }
        if let p = regs["proto_min"] {
            s += " proto_min reg \(p) proto_max reg \(regs["proto_max"] ?? p)"
            flags |= 2
        }
        return s + (flags != 0 ? " flags 0x\(String(flags, radix: 16))" : "") + " ]"
    }

    /// The expression lines of each rule in `nft --debug=netlink -f` output, in order: a rule
    /// is the `family table chain` line followed by `  [ ... ]` lines.
    static func rules(inDebugOutput text: String) -> [[String]] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var out: [[String]] = []
        var current: [String]?
        for (i, l) in lines.enumerated() {
            if l.hasPrefix("  [") {
                current?.append(String(l.dropFirst(2)))
                continue
            }
            if let c = current { out.append(c) }
            current = i + 1 < lines.count && lines[i + 1].hasPrefix("  [") ? [] : nil
        }
        if let c = current { out.append(c) }
        return out
    }
}
