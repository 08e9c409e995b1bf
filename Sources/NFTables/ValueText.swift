import NetworkTypes

/// How nft 1.0.6 prints the bytes of one field: the data type decides, not the length, so
/// every constant the renderer prints goes through one of these.
enum ValueFormat: Hashable, Sendable {
    case ipv4, ipv6, inetProto, inetService, mark, ifname, etherAddress, verdict
    /// Decimal; numgen and hash results, set keys typed `integer`.
    case integer(hostOrder: Bool)
    case ctState, ctDirection, ctStatus, addressType
    /// Anything the renderer has no type for: the bytes as one big-endian hex number.
    case hex

    init(_ type: DataType) {
        switch type.id {
        case DataType.verdict.id: self = .verdict
        case DataType.ipv4Address.id: self = .ipv4
        case DataType.ipv6Address.id: self = .ipv6
        case DataType.etherAddress.id: self = .etherAddress
        case DataType.inetProto.id: self = .inetProto
        case DataType.inetService.id: self = .inetService
        case DataType.mark.id: self = .mark
        case DataType.ifname.id: self = .ifname
        case DataType.integer32.id: self = .integer(hostOrder: type.byteOrder == .host)
        default: self = type.byteOrder == .host ? .integer(hostOrder: true) : .hex
        }
    }

    /// Whether nft stores values of this type in host byte order (it sorts set elements by the
    /// number the bytes stand for, so this decides the listing order).
    var isHostOrder: Bool {
        switch self {
        case .mark, .ifname, .ctState, .ctDirection, .ctStatus, .addressType, .verdict: true
        case .integer(let host): host
        default: false
        }
    }

    var isAddress: Bool { self == .ipv4 || self == .ipv6 }

    /// How many elements nft puts on one line of a named set's `elements = { ... }`
    /// (`calculate_delim` in nft 1.0.6); nil: one element per line.
    var elementsPerLine: Int? {
        switch self {
        case .integer, .inetProto, .inetService, .mark, .ctDirection: 5
        case .ipv4, .ctState: 2
        default: nil
        }
    }

    func text(_ bytes: [UInt8]) -> String {
        switch self {
        case .ipv4:
            if let a = IPv4Address(bytes: bytes) { return a.description }
        case .ipv6:
            if let a = IPv6Address(bytes: bytes) { return a.description }
        case .inetProto:
            if bytes.count == 1 { return ipProtocolNames[bytes[0]] ?? String(bytes[0]) }
        case .inetService:
            if bytes.count == 2 { return String(UInt16(bytes[0]) << 8 | UInt16(bytes[1])) }
        case .mark:
            if bytes.count == 4 { return hexText(hostOrderInteger(bytes), digits: 8) }
        case .integer(let host):
            if bytes.count <= 8 { return String(host ? hostOrderInteger(bytes) : bigEndianInteger(bytes)) }
        case .ifname:
            let name = bytes.prefix { $0 != 0 }
            return "\"" + String(decoding: name, as: UTF8.self) + "\""
        case .etherAddress:
            return bytes.map { hexDigits($0, 2) }.joined(separator: ":")
        case .ctState:
            return flagNames(hostOrderInteger(bytes), ctStateNames)
        case .ctStatus:
            return flagNames(hostOrderInteger(bytes), ctStatusNames)
        case .ctDirection:
            if bytes.count == 1 { return bytes[0] == 0 ? "original" : bytes[0] == 1 ? "reply" : String(bytes[0]) }
        case .addressType:
            let v = hostOrderInteger(bytes)
            return v < UInt64(addressTypeNames.count) ? addressTypeNames[Int(v)] : String(v)
        case .verdict, .hex:
            break
        }
        return rawHexText(bytes)
    }
}

/// getprotobynumber(3) names from Debian's /etc/protocols, which nft prints for `inet_proto`.
let ipProtocolNames: [UInt8: String] = [
    0: "ip", 1: "icmp", 2: "igmp", 3: "ggp", 4: "ipencap", 5: "st", 6: "tcp", 8: "egp", 9: "igp", 12: "pup",
    17: "udp", 20: "hmp", 22: "xns-idp", 27: "rdp", 29: "iso-tp4", 33: "dccp", 36: "xtp", 37: "ddp",
    38: "idpr-cmtp", 41: "ipv6", 43: "ipv6-route", 44: "ipv6-frag", 45: "idrp", 46: "rsvp", 47: "gre",
    50: "esp", 51: "ah", 57: "skip", 58: "ipv6-icmp", 59: "ipv6-nonxt", 60: "ipv6-opts", 73: "rspf",
    81: "vmtp", 88: "eigrp", 89: "ospf", 93: "ax.25", 94: "ipip", 97: "etherip", 98: "encap", 103: "pim",
    108: "ipcomp", 112: "vrrp", 115: "l2tp", 124: "isis", 132: "sctp", 133: "fc", 135: "mobility-header",
    136: "udplite", 137: "mpls-in-ip", 138: "manet", 139: "hip", 140: "shim6", 141: "wesp", 142: "rohc",
    143: "ethernet",
]

let ctStateNames: [(UInt64, String)] = [(1, "invalid"), (2, "established"), (4, "related"), (8, "new"), (64, "untracked")]
let ctStatusNames: [(UInt64, String)] = [
    (1, "expected"), (2, "seen-reply"), (4, "assured"), (8, "confirmed"), (16, "snat"), (32, "dnat"), (512, "dying"),
]
let addressTypeNames = [
    "unspec", "unicast", "local", "broadcast", "anycast", "multicast", "blackhole", "unreachable", "prohibit",
]

func flagNames(_ value: UInt64, _ names: [(UInt64, String)]) -> String {
    var rest = value
    var out: [String] = []
    for (bit, name) in names where value & bit != 0 {
        out.append(name)
        rest &= ~bit
    }
    if rest != 0 || out.isEmpty { out.append(hexText(rest, digits: 0)) }
    return out.joined(separator: ",")
}

/// Little-endian bytes (x86 host order) as a number; at most 8 bytes count.
func hostOrderInteger(_ bytes: [UInt8]) -> UInt64 {
    bytes.prefix(8).enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
}

func bigEndianInteger(_ bytes: [UInt8]) -> UInt64 {
    bytes.suffix(8).reduce(0) { $0 << 8 | UInt64($1) }
}

func hexDigits(_ byte: UInt8, _ width: Int) -> String {
    let s = String(byte, radix: 16)
    return String(repeating: "0", count: max(0, width - s.count)) + s
}

/// `0x` and the value, zero-padded to `digits` (nft prints marks as `0x%08x`).
func hexText(_ value: UInt64, digits: Int) -> String {
    let s = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, digits - s.count)) + s
}

/// Bytes as one big-endian hex number, leading zeros kept (what nft shows for raw payloads).
func rawHexText(_ bytes: [UInt8]) -> String {
    bytes.isEmpty ? "0x0" : "0x" + bytes.map { hexDigits($0, 2) }.joined()
}

/// nft's `time_print`: days, hours, minutes, seconds and milliseconds, each only when not zero.
func durationText(millis: UInt64) -> String {
    let units: [(UInt64, String)] = [(86_400_000, "d"), (3_600_000, "h"), (60_000, "m"), (1000, "s"), (1, "ms")]
    var rest = millis
    var out = ""
    for (size, unit) in units where rest >= size {
        out += String(rest / size) + unit
        rest %= size
    }
    return out
}

func quoted(_ s: String) -> String { "\"" + s + "\"" }
