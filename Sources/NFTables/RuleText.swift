import NetworkTypes

/// Turns a rule's low-level expressions back into the statements nft prints, the way nft's
/// `netlink_delinearize` does: it follows what each register holds, so that a load and the
/// cmp, lookup, nat or set that consumes it print as one statement.
///
/// Only patterns nft itself generates (and our builders copy) print exactly like nft; anything
/// else still prints, deterministically, as the closest readable text.
struct RuleDecompiler {
    /// What a register holds.
    enum Content {
        /// A header field, meta or ct key, generator, fib result: its nft text and how nft
        /// prints constants compared with it. `fullLength` is the field's length when only a
        /// prefix of it was loaded (`ip saddr 10.0.0.0/8` loads one byte).
        case field(text: String, format: ValueFormat, length: Int, fullLength: Int, isL4Proto: Bool)
        case constant([UInt8])
        /// `(base & mask) ^ xor`.
        indirect case masked(Content, mask: [UInt8], xor: [UInt8])
        /// The value a map lookup wrote: `<key> map <set>`.
        case mapResult(text: String, format: [ElementText.Field]?)
    }
    struct Slot {
        var content: Content
        var seq: Int
        var words: UInt32
    }

    let family: Family
    /// Named sets of the rule's table, when known: they give lookups their key length.
    let sets: [String: NFSet]

    private var regs: [UInt32: Slot] = [:]
    private var seq = 0
    private var statements: [String?] = []
    /// The `meta l4proto tcp` statement a later `tcp dport` makes redundant, as nft drops it.
    private var dependency: (index: Int, proto: UInt8)?
    private var l4proto: UInt8?
    /// Values loaded but not yet used, by load order: printed at the end rather than lost.
    private var unused: [Int: String] = [:]

    init(family: Family, sets: [String: NFSet]) {
        self.family = family
        self.sets = sets
    }

    static func text(_ expressions: [Expression], family: Family, sets: [String: NFSet]) -> String {
        var d = RuleDecompiler(family: family, sets: sets)
        return d.run(expressions)
    }

    private mutating func run(_ exprs: [Expression]) -> String {
        var i = 0
        while i < exprs.count {
            // `a-b` is a cmp gte and a cmp lte on the same register.
            if case .cmp(.gte, let reg, let low) = exprs[i], i + 1 < exprs.count,
                case .cmp(.lte, reg, let high) = exprs[i + 1]
            {
                compareRange(reg, low, high)
                i += 2
                continue
            }
            step(exprs[i])
            i += 1
        }
        let leftovers = unused.sorted { $0.key < $1.key }.map(\.value)
        return (statements.compactMap { $0 } + leftovers).joined(separator: " ")
    }

    // MARK: registers

    private mutating func store(_ content: Content, _ reg: Register, length: Int) {
        guard let word = reg.word else { return }
        seq += 1
        let words = UInt32(max(1, (length + 3) / 4))
        for w in word..<(word + words) { regs[w] = nil }
        regs[word] = Slot(content: content, seq: seq, words: words)
        if case .constant = content {} else { unused[seq] = text(content) }
    }

    private mutating func take(_ reg: Register) -> Content? {
        guard let word = reg.word, let slot = regs[word] else { return nil }
        unused[slot.seq] = nil
        return slot.content
    }

    /// The fields of a concatenation starting at `reg`: each next field starts in the word after
    /// the previous one and was loaded after it. With a known key length, stops there.
    private mutating func concatenation(at reg: Register, length: Int?) -> [Content] {
        guard var word = reg.word, let first = regs[word] else { return [] }
        unused[first.seq] = nil
        var out = [first.content]
        var bytes = Int(first.words) * 4
        var lastSeq = first.seq
        word += first.words
        while length.map({ bytes < $0 }) ?? true, let next = regs[word], next.seq > lastSeq {
            out.append(next.content)
            unused[next.seq] = nil
            bytes += Int(next.words) * 4
            lastSeq = next.seq
            word += next.words
        }
        return out
    }

    private mutating func keyText(at reg: Register, length: Int?) -> String {
        let parts = concatenation(at: reg, length: length)
        if parts.isEmpty { return "reg \(reg.rawValue)" }
        return parts.map { text($0) }.joined(separator: " . ")
    }

    private func text(_ c: Content) -> String {
        switch c {
        case .field(let t, _, _, _, _): t
        case .constant(let b): rawHexText(b)
        case .masked(let base, let mask, let xor): text(base) + bitwiseText(mask: mask, xor: xor, format(of: base))
        case .mapResult(let t, _): t
        }
    }

    private func format(of c: Content) -> ValueFormat {
        switch c {
        case .field(_, let f, _, _, _): f
        case .masked(let base, _, _): format(of: base)
        case .mapResult(_, let f): f?.count == 1 ? f?[0].format ?? .hex : .hex
        case .constant: .hex
        }
    }

    /// nft prints `(x & m) ^ v` as `x & (m | v) | (v & ~m) ^ (v & m)`, leaving out the parts
    /// that do nothing: `meta mark | 0x00004000` is mask 0xffffbfff with xor 0x00004000.
    private func bitwiseText(mask: [UInt8], xor: [UInt8], _ format: ValueFormat) -> String {
        let and = zip(mask, xor).map { $0 | $1 }
        let or = zip(mask, xor).map { ~$0 & $1 }
        let flip = zip(mask, xor).map { $0 & $1 }
        var s = ""
        if and.contains(where: { $0 != 0xff }) { s += " & " + format.text(and) }
        if or.contains(where: { $0 != 0 }) { s += " | " + format.text(or) }
        if flip.contains(where: { $0 != 0 }) { s += " ^ " + format.text(flip) }
        return s
    }

    private mutating func emit(_ s: String) { statements.append(s) }

    // MARK: expressions

    private mutating func step(_ e: Expression) {
        switch e {
        case .payload(let base, let offset, let length, let into):
            store(payloadField(base, offset, Int(length)), into, length: Int(length))
        case .meta(let key, let into):
            let (name, format, length) = metaField(key)
            store(.field(text: name, format: format, length: length, fullLength: length, isL4Proto: key == .l4proto), into, length: length)
        case .ct(let key, let dir, let into):
            let (name, format, length) = ctField(key, dir)
            store(.field(text: name, format: format, length: length, fullLength: length, isL4Proto: false), into, length: length)
        case .fib(let flags, let result, let into):
            let (name, format) = fibField(flags, result)
            store(.field(text: name, format: format, length: 4, fullLength: 4, isL4Proto: false), into, length: 4)
        case .numgen(let type, let modulus, let offset, let into):
            let name = "numgen \(type == .random ? "random" : "inc") mod \(modulus)" + (offset != 0 ? " offset \(offset)" : "")
            store(.field(text: name, format: .integer(hostOrder: true), length: 4, fullLength: 4, isL4Proto: false), into, length: 4)
        case .hash(let type, let from, let length, let modulus, let seed, let offset, let into):
            var name: String
            if type == .symmetric {
                name = "symhash mod \(modulus)"
            } else {
                let key = from.map { keyText(at: $0, length: Int(length)) } ?? "reg ?"
                name = "jhash \(key) mod \(modulus) seed \(hexText(UInt64(seed), digits: 0))"
            }
            if offset != 0 { name += " offset \(offset)" }
            store(.field(text: name, format: .integer(hostOrder: true), length: 4, fullLength: 4, isL4Proto: false), into, length: 4)
        case .immediate(let data, let into):
            store(.constant(data), into, length: data.count)
        case .bitwise(let from, let into, let length, let mask, let xor):
            let base = take(from) ?? .field(text: "reg \(from.rawValue)", format: .hex, length: Int(length), fullLength: Int(length), isL4Proto: false)
            store(.masked(base, mask: mask, xor: xor), into, length: Int(length))
        case .cmp(let op, let reg, let data):
            compare(op, reg, data)
        case .range(let invert, let reg, let from, let to):
            compareRange(reg, from, to, invert: invert)
        case .lookup(let from, let set, let into, let invert):
            lookup(from, set, into, invert)
        case .verdict(let v):
            emit(v.description)
        case .metaSet(let key, let from):
            let (name, format, _) = metaField(key)
            emit("\(name) set " + valueText(take(from), format))
        case .nat(let type, let natFamily, let addrMin, let addrMax, let portMin, let portMax, let flags):
            nat(type, natFamily, addrMin, addrMax, portMin, portMax, flags)
        case .masquerade(let flags, let portMin, let portMax):
            var s = "masquerade"
            if let portMin { s += " to :" + portText(portMin, portMax) }
            emit(s + natFlagsText(flags))
        case .reject(let type, let code):
            reject(type, code)
        case .counter:
            emit("counter packets 0 bytes 0")
        case .dynset(let op, let key, let data, let set, let timeout):
            let def = sets[set]
            var s = keyText(at: key, length: def?.key.length)
            if let timeout { s += " timeout " + durationText(millis: timeout) }
            if let data { s += " : " + keyText(at: data, length: def.map { $0.data?.length ?? 0 }) }
            let verb = switch op {
            case .add: "add"
            case .update: "update"
            case .delete: "delete"
            }
            emit("\(verb) @\(set) { \(s) }")
        case .unknown(let name):
            emit("[unknown \(name)]")
        }
    }

    private mutating func compare(_ op: CmpOp, _ reg: Register, _ data: [UInt8]) {
        guard let content = take(reg) else {
            emit("reg \(reg.rawValue) \(opText(op, explicit: true))\(rawHexText(data))")
            return
        }
        switch content {
        case .field(let name, let format, let length, let full, let isL4Proto):
            if length < full && format.isAddress {
                let padded = data + [UInt8](repeating: 0, count: max(0, full - data.count))
                emit("\(name) \(opText(op, explicit: false))\(format.text(padded))/\(length * 8)")
                return
            }
            emit("\(name) \(opText(op, explicit: false))\(format.text(data))")
            if isL4Proto && op == .eq && data.count == 1 {
                dependency = (statements.count - 1, data[0])
                l4proto = data[0]
            }
        case .masked(let base, let mask, let xor):
            let format = format(of: base)
            if case .field(let name, _, let length, let full, _) = base, format.isAddress, length == full,
                xor.allSatisfy({ $0 == 0 }), op == .eq || op == .neq, let len = prefixLength(mask)
            {
                emit("\(name) \(opText(op, explicit: false))\(format.text(data))/\(len)")
                return
            }
            if format == .ctState || format == .ctStatus, xor.allSatisfy({ $0 == 0 }), op == .neq,
                data.allSatisfy({ $0 == 0 })
            {
                emit("\(text(base)) \(format.text(mask))")
                return
            }
            emit("\(text(content)) \(opText(op, explicit: true))\(format.text(data))")
        case .constant, .mapResult:
            emit("\(text(content)) \(opText(op, explicit: true))\(format(of: content).text(data))")
        }
    }

    private mutating func compareRange(_ reg: Register, _ low: [UInt8], _ high: [UInt8], invert: Bool = false) {
        let content = take(reg)
        let f: ValueFormat = content.map { format(of: $0) } ?? .hex
        let name = content.map { text($0) } ?? "reg \(reg.rawValue)"
        emit("\(name) \(invert ? "!= " : "")\(f.text(low))-\(f.text(high))")
    }

    private mutating func lookup(_ from: Register, _ set: SetReference, _ into: Register?, _ invert: Bool) {
        let def: NFSet? = switch set {
        case .anonymous(let s): s
        case .named(let n): sets[n]
        }
        let key = keyText(at: from, length: def?.key.length)
        let setText: String = switch set {
        case .anonymous(let s): ElementText(s).braced(s.elements, named: false)
        case .named(let n): "@" + n
        }
        switch into {
        case nil:
            emit(key + " " + (invert ? "!= " : "") + setText)
        case .verdict?:
            emit(key + " vmap " + setText)
        case let reg?:
            let format = def.map { ElementText($0).data } ?? nil
            store(.mapResult(text: key + " map " + setText, format: format), reg, length: def?.data?.length ?? 4)
        }
    }

    private mutating func nat(
        _ type: NatType, _ natFamily: Family, _ addrMin: Register?, _ addrMax: Register?, _ portMin: Register?,
        _ portMax: Register?, _ flags: NatFlags
    ) {
        var s = type == .dnat ? "dnat" : "snat"
        let addrFormat: ValueFormat = natFamily == .ip6 ? .ipv6 : .ipv4
        let addr = addrMin.flatMap { take($0) }
        // A map whose value is `address . port` fills both registers with one lookup: nft
        // prints that as one expression and names the family (`dnat ip to ... map @m`). The
        // port's word then holds nothing loaded after the lookup.
        var concatMap = false
        if case .mapResult? = addr, let portMin, let pw = portMin.word, let aw = addrMin?.word,
            let lookupSeq = regs[aw]?.seq, pw == aw + UInt32((natFamily == .ip6 ? 16 : 4) / 4)
        {
            concatMap = (regs[pw]?.seq ?? 0) < lookupSeq
        }
        if addrMin != nil || portMin != nil {
            if concatMap || family == .inet { s += natFamily == .ip6 ? " ip6" : " ip" }
            s += " to"
        }
        if let addrMin {
            var a = valueText(addr, addrFormat)
            if let addrMax, addrMax != addrMin { a += "-" + valueText(take(addrMax), addrFormat) }
            if natFamily == .ip6 && portMin != nil && !concatMap, case .constant? = addr { a = "[" + a + "]" }
            s += " " + a
        }
        if let portMin, !concatMap {
            s += (addrMin == nil ? " " : "") + ":" + portText(portMin, portMax)
        }
        emit(s + natFlagsText(flags))
    }

    private mutating func portText(_ min: Register, _ max: Register?) -> String {
        var p = valueText(take(min), .inetService)
        if let max, max != min { p += "-" + valueText(take(max), .inetService) }
        return p
    }

    private func natFlagsText(_ flags: NatFlags) -> String {
        var names: [String] = []
        if flags.contains(.protoRandom) { names.append("random") }
        if flags.contains(.protoRandomFully) { names.append("fully-random") }
        if flags.contains(.persistent) { names.append("persistent") }
        return names.isEmpty ? "" : " " + names.joined(separator: ",")
    }

    /// A register's value as an operand: constants in the type the consumer expects.
    private func valueText(_ c: Content?, _ format: ValueFormat) -> String {
        switch c {
        case .constant(let b)?: format.text(b)
        case let c?: text(c)
        case nil: "reg ?"
        }
    }

    private mutating func reject(_ type: RejectType, _ code: UInt8) {
        switch type {
        case .tcpReset:
            // nft adds `meta l4proto tcp` in front of a TCP reset, and hides it again.
            if let d = dependency, d.proto == IPProtocol.tcp {
                statements[d.index] = nil
                dependency = nil
            }
            emit("reject with tcp reset")
        case .icmpUnreachable:
            let v6 = family == .ip6
            let defaultCode: UInt8 = v6 ? 4 : 3
            if code == defaultCode && family != .inet {
                emit("reject")
            } else {
                let names = v6 ? icmpv6CodeNames : icmpCodeNames
                emit("reject with \(v6 ? "icmpv6" : "icmp") \(names[code] ?? String(code))")
            }
        case .icmpxUnreachable:
            emit(code == 1 && family == .inet ? "reject" : "reject with icmpx \(icmpxCodeNames[code] ?? String(code))")
        }
    }

    // MARK: fields

    private mutating func payloadField(_ base: PayloadBase, _ offset: UInt32, _ length: Int) -> Content {
        func field(_ name: String, _ format: ValueFormat, full: Int, l4: Bool = false) -> Content {
            .field(text: name, format: format, length: length, fullLength: full, isL4Proto: l4)
        }
        switch (base, family, offset) {
        case (.network, .ip, 12) where length <= 4: return field("ip saddr", .ipv4, full: 4)
        case (.network, .ip, 16) where length <= 4: return field("ip daddr", .ipv4, full: 4)
        case (.network, .ip, 9) where length == 1: return field("ip protocol", .inetProto, full: 1, l4: true)
        case (.network, .ip6, 8) where length <= 16: return field("ip6 saddr", .ipv6, full: 16)
        case (.network, .ip6, 24) where length <= 16: return field("ip6 daddr", .ipv6, full: 16)
        case (.network, .ip6, 6) where length == 1: return field("ip6 nexthdr", .inetProto, full: 1, l4: true)
        case (.transport, _, 0) where length == 2, (.transport, _, 2) where length == 2:
            // With a protocol match earlier in the rule, nft names the header and drops the match.
            let proto = l4proto.flatMap { transportNames[$0] } ?? "th"
            if proto != "th", let d = dependency {
                statements[d.index] = nil
                dependency = nil
            }
            return field("\(proto) \(offset == 0 ? "sport" : "dport")", .inetService, full: 2)
        default:
            let raw = switch base {
            case .link: "@ll"
            case .network: "@nh"
            case .transport: "@th"
            case .inner: "@ih"
            }
            return field("\(raw),\(offset * 8),\(length * 8)", .hex, full: length)
        }
    }

    private func metaField(_ key: MetaKey) -> (String, ValueFormat, Int) {
        switch key {
        case .l4proto: ("meta l4proto", .inetProto, 1)
        case .mark: ("meta mark", .mark, 4)
        case .iifname: ("iifname", .ifname, 16)
        case .oifname: ("oifname", .ifname, 16)
        case .iif: ("iif", .integer(hostOrder: true), 4)
        case .oif: ("oif", .integer(hostOrder: true), 4)
        case .nfproto: ("meta nfproto", .integer(hostOrder: true), 1)
        case .protocol: ("meta protocol", .hex, 2)
        default: ("meta \(metaKeyNames[key] ?? String(key.rawValue))", .integer(hostOrder: true), 4)
        }
    }

    private func ctField(_ key: CtKey, _ dir: CtDirection?) -> (String, ValueFormat, Int) {
        let prefix = dir.map { "ct \($0 == .original ? "original" : "reply") " } ?? "ct "
        return switch key {
        case .state: (prefix + "state", .ctState, 4)
        case .direction: (prefix + "direction", .ctDirection, 1)
        case .status: (prefix + "status", .ctStatus, 4)
        case .mark: (prefix + "mark", .mark, 4)
        case .src: (prefix + "saddr", family == .ip6 ? .ipv6 : .ipv4, family == .ip6 ? 16 : 4)
        case .dst: (prefix + "daddr", family == .ip6 ? .ipv6 : .ipv4, family == .ip6 ? 16 : 4)
        case .protocol: (prefix + "protocol", .inetProto, 1)
        case .protoSrc: (prefix + "proto-src", .inetService, 2)
        case .protoDst: (prefix + "proto-dst", .inetService, 2)
        case .l3protocol: (prefix + "l3proto", .integer(hostOrder: true), 1)
        case .expiration: (prefix + "expiration", .integer(hostOrder: true), 4)
        case .secmark: (prefix + "secmark", .integer(hostOrder: true), 4)
        case .helper: (prefix + "helper", .hex, 16)
        }
    }

    private func fibField(_ flags: FibFlags, _ result: FibResult) -> (String, ValueFormat) {
        let names: [(FibFlags, String)] = [(.saddr, "saddr"), (.daddr, "daddr"), (.mark, "mark"), (.iif, "iif"), (.oif, "oif")]
        let inputs = names.filter { flags.contains($0.0) }.map(\.1).joined(separator: " . ")
        return switch result {
        case .addrtype: ("fib \(inputs) type", .addressType)
        case .oif: ("fib \(inputs) oif", .integer(hostOrder: true))
        case .oifname: ("fib \(inputs) oifname", .ifname)
        }
    }
}

private func opText(_ op: CmpOp, explicit: Bool) -> String {
    switch op {
    case .eq: explicit ? "== " : ""
    case .neq: "!= "
    case .lt: "< "
    case .lte: "<= "
    case .gt: "> "
    case .gte: ">= "
    }
}

/// The length of the prefix a mask selects, when it is one (leading ones, then zeros).
private func prefixLength(_ mask: [UInt8]) -> Int? {
    prefixLength(mask.map { _ in 0 }, mask.map { ~$0 })
}

private let transportNames: [UInt8: String] = [6: "tcp", 17: "udp", 132: "sctp", 33: "dccp", 136: "udplite"]

private let icmpCodeNames: [UInt8: String] = [
    0: "net-unreachable", 1: "host-unreachable", 2: "prot-unreachable", 3: "port-unreachable", 4: "frag-needed",
    9: "net-prohibited", 10: "host-prohibited", 13: "admin-prohibited",
]
private let icmpv6CodeNames: [UInt8: String] = [
    0: "no-route", 1: "admin-prohibited", 3: "addr-unreachable", 4: "port-unreachable", 5: "policy-fail", 6: "reject-route",
]
private let icmpxCodeNames: [UInt8: String] = [0: "no-route", 1: "port-unreachable", 2: "host-unreachable", 3: "admin-prohibited"]

private let metaKeyNames: [MetaKey: String] = [
    .len: "length", .priority: "priority", .iiftype: "iiftype", .oiftype: "oiftype", .skuid: "skuid", .skgid: "skgid",
    .nftrace: "nftrace", .rtclassid: "rtclassid", .secmark: "secmark", .bridgeIifname: "ibrname",
    .bridgeOifname: "obrname", .pkttype: "pkttype", .cpu: "cpu", .iifgroup: "iifgroup", .oifgroup: "oifgroup",
    .cgroup: "cgroup", .prandom: "random",
]
