import CNetfilter

/// A growable buffer of netlink messages. libnftnl writes each message straight into it;
/// it keeps enough room ahead that no builder can run past the end.
struct MessageBuffer: ~Copyable {
    /// Room kept free before each message is built. Element messages are capped well below
    /// this (`Encoder.elementBytesPerMessage`) and rules are small.
    static let headroom = 256 * 1024

    private(set) var base: UnsafeMutableRawPointer
    private(set) var capacity: Int
    private(set) var length = 0

    init(capacity: Int = 1 << 20) {
        self.capacity = max(capacity, Self.headroom * 2)
        base = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    /// The place for the next message, with at least `headroom` bytes free.
    mutating func tail() -> UnsafeMutablePointer<CChar> {
        if capacity - length < Self.headroom {
            var newCapacity = capacity * 2
            while newCapacity - length < Self.headroom { newCapacity *= 2 }
            let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
            grown.copyMemory(from: base, byteCount: length)
            base.deallocate()
            base = grown
            capacity = newCapacity
        }
        return (base + length).assumingMemoryBound(to: CChar.self)
    }

    /// Takes the message just built at `tail()` into the buffer.
    mutating func commit(_ nlh: UnsafeMutablePointer<nlmsghdr>) {
        length += Int((Int(nlh.pointee.nlmsg_len) + 3) & ~3)
    }
}
