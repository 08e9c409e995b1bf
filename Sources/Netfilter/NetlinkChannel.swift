import CNetfilter
import Glibc

/// Requests and dumps over a netlink socket of a family without batches (generic netlink,
/// rtnetlink): many requests travel in one sendmsg, the kernel runs each on its own and
/// answers an error for each one that fails, and an ack for the last one, so a whole chunk
/// costs one round trip while every failure is still told apart by its sequence number.
final class NetlinkChannel {
    let socket: NetlinkSocket
    private(set) var seq: UInt32
    private let receiveBuffer: UnsafeMutableRawBufferPointer
    var answerTimeoutMillis: Int32 = 120_000

    init(protocol: Int32, name: String) throws(NetfilterError) {
        socket = try NetlinkSocket(protocol: `protocol`, name: name)
        seq = UInt32(truncatingIfNeeded: time(nil))
        receiveBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    }

    deinit { receiveBuffer.deallocate() }

    /// A failure the kernel reported for one request of a chunk.
    struct Failure {
        /// Position of the request in the chunk.
        var index: Int
        var errno: Int32
        var kernelMessage: String?
    }

    /// Builds one request per item with `build` (which fills in the message after its
    /// nlmsghdr, whose type and flags it sets), sends them in chunks of about `chunkBytes`
    /// and returns every failure. `build` returns false to skip an item.
    func send<Item>(
        _ items: [Item], chunkBytes: Int = 1 << 20,
        build: (Item, UnsafeMutablePointer<nlmsghdr>) -> Void
    ) throws(NetfilterError) -> [Failure] {
        var failures: [Failure] = []
        var start = 0
        while start < items.count {
            var buffer = MessageBuffer(capacity: chunkBytes + MessageBuffer.headroom)
            let firstSeq = seq
            var end = start
            var last: UnsafeMutablePointer<nlmsghdr>?
            while end < items.count && buffer.length < chunkBytes {
                guard let nlh = mnl_nlmsg_put_header(buffer.tail()) else {
                    throw NetfilterError(kind: .protocolError, object: "could not build a netlink request")
                }
                build(items[end], nlh)
                nlh.pointee.nlmsg_flags |= UInt16(NLM_F_REQUEST)
                nlh.pointee.nlmsg_seq = seq
                seq &+= 1
                last = nlh
                buffer.commit(nlh)
                end += 1
            }
            // Only the last request asks for an ack: acks for every request would flood the
            // receive buffer (ENOBUFS) on large chunks; errors are sent regardless.
            guard let last else { break }
            last.pointee.nlmsg_flags |= UInt16(NLM_F_ACK)
            let lastSeq = last.pointee.nlmsg_seq
            try socket.ensureSendBuffer(buffer.length)
            try socket.send(buffer.base, buffer.length)
            var done = false
            while !done {
                try receiveMessages { (m: UnsafePointer<nlmsghdr>) throws(NetfilterError) in
                    guard m.pointee.nlmsg_type == UInt16(NLMSG_ERROR) else { return }
                    let (err, text) = Self.parseError(m)
                    let s = m.pointee.nlmsg_seq
                    let index = Int(s &- firstSeq)
                    if err != 0, index >= 0, index < end - start {
                        failures.append(Failure(index: start + index, errno: -err, kernelMessage: text))
                    }
                    if s == lastSeq { done = true }
                }
            }
            start = end
        }
        return failures
    }

    /// Sends one dump request (built by `build` after the nlmsghdr) and hands each answer to
    /// `body`. Returns false when the kernel flagged the dump as interrupted (NLM_F_DUMP_INTR).
    func dump(
        what: String,
        build: (UnsafeMutablePointer<nlmsghdr>) -> Void,
        _ body: (UnsafePointer<nlmsghdr>) throws(NetfilterError) -> Void
    ) throws(NetfilterError) -> Bool {
        let request = UnsafeMutableRawPointer.allocate(byteCount: 8192, alignment: 16)
        defer { request.deallocate() }
        guard let nlh = mnl_nlmsg_put_header(request) else {
            throw NetfilterError(kind: .protocolError, object: "could not build the dump request for \(what)")
        }
        build(nlh)
        let mySeq = seq
        seq &+= 1
        nlh.pointee.nlmsg_flags |= UInt16(NLM_F_REQUEST | NLM_F_DUMP)
        nlh.pointee.nlmsg_seq = mySeq
        try socket.send(request, Int(nlh.pointee.nlmsg_len))
        var consistent = true
        var done = false
        while !done {
            try receiveMessages { (m: UnsafePointer<nlmsghdr>) throws(NetfilterError) in
                guard m.pointee.nlmsg_seq == mySeq else { return }
                if m.pointee.nlmsg_flags & UInt16(NLM_F_DUMP_INTR) != 0 { consistent = false }
                switch Int32(m.pointee.nlmsg_type) {
                case NLMSG_DONE:
                    done = true
                case NLMSG_ERROR:
                    let (err, text) = Self.parseError(m)
                    if err != 0 {
                        throw NetfilterError(kind: .readRefused, errno: -err, object: what, kernelMessage: text)
                    }
                    done = true
                default:
                    try body(m)
                }
            }
        }
        return consistent
    }

    /// Sends one request and hands each answer (other than the ack) to `body`; throws the
    /// kernel's error for it, naming `what`.
    func request(
        what: String,
        build: (UnsafeMutablePointer<nlmsghdr>) -> Void,
        _ body: (UnsafePointer<nlmsghdr>) throws(NetfilterError) -> Void
    ) throws(NetfilterError) {
        let request = UnsafeMutableRawPointer.allocate(byteCount: 8192, alignment: 16)
        defer { request.deallocate() }
        guard let nlh = mnl_nlmsg_put_header(request) else {
            throw NetfilterError(kind: .protocolError, object: "could not build the request for \(what)")
        }
        build(nlh)
        let mySeq = seq
        seq &+= 1
        nlh.pointee.nlmsg_flags |= UInt16(NLM_F_REQUEST | NLM_F_ACK)
        nlh.pointee.nlmsg_seq = mySeq
        try socket.send(request, Int(nlh.pointee.nlmsg_len))
        var done = false
        while !done {
            try receiveMessages { (m: UnsafePointer<nlmsghdr>) throws(NetfilterError) in
                guard m.pointee.nlmsg_seq == mySeq else { return }
                guard Int32(m.pointee.nlmsg_type) == NLMSG_ERROR else { return try body(m) }
                let (err, text) = Self.parseError(m)
                if err != 0 {
                    throw NetfilterError(kind: .rejected, errno: -err, object: what, kernelMessage: text)
                }
                done = true
            }
        }
    }

    /// Takes sequence numbers up to `last` for requests built elsewhere (nf_tables batches).
    func reserveSequence(through last: UInt32) { seq = last &+ 1 }

    /// Waits for one datagram and hands each netlink message in it to `body`.
    func receiveMessages(_ body: (UnsafePointer<nlmsghdr>) throws(NetfilterError) -> Void) throws(NetfilterError) {
        let n = try socket.receive(into: receiveBuffer, timeoutMillis: answerTimeoutMillis)
        try forEachMessage(n, body)
    }

    private func forEachMessage(_ count: Int, _ body: (UnsafePointer<nlmsghdr>) throws(NetfilterError) -> Void) throws(NetfilterError) {
        guard let base = receiveBuffer.baseAddress else { return }
        var remaining = Int32(count)
        var p: UnsafePointer<nlmsghdr>? = UnsafePointer(base.assumingMemoryBound(to: nlmsghdr.self))
        while let nlh = p, mnl_nlmsg_ok(nlh, remaining) {
            try body(nlh)
            p = UnsafePointer(mnl_nlmsg_next(nlh, &remaining))
        }
    }

    /// errno (negative, 0 for an ack) and the extended-ack text of an NLMSG_ERROR message.
    static func parseError(_ nlh: UnsafePointer<nlmsghdr>) -> (Int32, String?) {
        let payload = UnsafeRawPointer(nlh) + MemoryLayout<nlmsghdr>.size
        let err = payload.loadUnaligned(as: Int32.self)
        guard nlh.pointee.nlmsg_flags & UInt16(NLM_F_ACK_TLVS) != 0 else { return (err, nil) }
        // With NETLINK_CAP_ACK the echoed request is its header alone.
        let total = Int(nlh.pointee.nlmsg_len)
        let start = MemoryLayout<nlmsghdr>.size * 2 + 4
        guard total > start else { return (err, nil) }
        let tlvs = NetlinkAttributes(UnsafeRawBufferPointer(start: UnsafeRawPointer(nlh) + start, count: total - start))
        return (err, tlvs.first(UInt16(NLMSGERR_ATTR_MSG.rawValue))?.string)
    }
}
