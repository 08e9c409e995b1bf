import CNetfilter

/// Reading netlink attributes (type-length-value, 4-byte aligned) straight from a received
/// message, for the netlink families libnftnl does not parse (generic netlink, rtnetlink).
struct NetlinkAttributes: Sequence {
    let bytes: UnsafeRawBufferPointer

    /// The attributes of a message after its fixed headers (`headerBytes` past the nlmsghdr).
    init(message nlh: UnsafePointer<nlmsghdr>, headerBytes: Int) {
        let total = Int(nlh.pointee.nlmsg_len)
        let start = MemoryLayout<nlmsghdr>.size + ((headerBytes + 3) & ~3)
        let base = UnsafeRawPointer(nlh)
        bytes = UnsafeRawBufferPointer(start: base + Swift.min(start, total), count: Swift.max(0, total - start))
    }

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    struct Attribute {
        /// The type without the nested and byte-order flags.
        let type: UInt16
        let payload: UnsafeRawBufferPointer

        var u16: UInt16? { payload.count >= 2 ? payload.loadUnaligned(as: UInt16.self) : nil }
        var u32: UInt32? { payload.count >= 4 ? payload.loadUnaligned(as: UInt32.self) : nil }
        /// A big-endian 16-bit field (ports).
        var be16: UInt16? { u16.map { UInt16(bigEndian: $0) } }
        var string: String { String(decoding: payload.prefix { $0 != 0 }, as: UTF8.self) }
        var nested: NetlinkAttributes { NetlinkAttributes(payload) }
        var bytes: [UInt8] { Array(payload) }
    }

    struct Iterator: IteratorProtocol {
        let bytes: UnsafeRawBufferPointer
        var offset = 0

        mutating func next() -> Attribute? {
            guard let base = bytes.baseAddress, offset + 4 <= bytes.count else { return nil }
            let length = Int(base.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
            let type = base.loadUnaligned(fromByteOffset: offset + 2, as: UInt16.self) & 0x3fff  // NLA_TYPE_MASK: without NLA_F_NESTED and NLA_F_NET_BYTEORDER
            guard length >= 4, offset + length <= bytes.count else { return nil }
            let payload = UnsafeRawBufferPointer(start: base + offset + 4, count: length - 4)
            offset += (length + 3) & ~3
            return Attribute(type: type, payload: payload)
        }
    }

    func makeIterator() -> Iterator { Iterator(bytes: bytes) }

    func first(_ type: UInt16) -> Attribute? { first { $0.type == type } }
}
