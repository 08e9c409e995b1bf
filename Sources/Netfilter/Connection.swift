import CNetfilter
import Glibc
import NFTables

/// A connection to nf_tables in the network namespace of the thread that opens it.
/// Not shareable across tasks: the owner (an actor in the agent) serialises its use.
public final class NFTablesConnection {
    private let socket: NetlinkSocket
    private var seq: UInt32
    /// The largest batch sent as one message. The kernel caps a socket's send buffer at
    /// INT_MAX/2; a larger transaction must be split by the caller.
    public var maxBatchBytes: Int = 1 << 30
    /// How long to wait for the kernel's answer to a batch or dump.
    public var answerTimeoutMillis: Int32 = 300_000
    private var receiveBuffer: UnsafeMutableRawBufferPointer

    public init() throws(NetfilterError) {
        socket = try NetlinkSocket()
        seq = UInt32(truncatingIfNeeded: time(nil))
        receiveBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
    }

    deinit { receiveBuffer.deallocate() }

    /// Size in bytes of the batch `transaction` encodes to (encodes it, sends nothing).
    public static func encodedSize(of transaction: Transaction) throws(NetfilterError) -> Int {
        let commands = try validated(transaction)
        var enc = Encoder(firstSeq: 0)
        enc.begin()
        for (i, c) in commands.enumerated() { enc.encode(c, index: i) }
        enc.end()
        return enc.buffer.length
    }

    private static func validated(_ t: Transaction) throws(NetfilterError) -> [Transaction.Command] {
        do {
            return try t.validated()
        } catch {
            throw NetfilterError(kind: .invalid, object: error.description)
        }
    }

    /// Sends the transaction as one batch and waits for the kernel's verdict. All of it
    /// applies, or none of it: on any error the kernel rolls the whole batch back.
    public func apply(_ transaction: Transaction) throws(NetfilterError) {
        let commands = try Self.validated(transaction)
        guard !commands.isEmpty else { return }
        var enc = Encoder(firstSeq: seq)
        enc.begin()
        for (i, c) in commands.enumerated() { enc.encode(c, index: i) }
        let ackSeq = enc.requestAckOnLastCommand()
        enc.end()
        seq = enc.nextSeq &+ 1
        let length = enc.buffer.length
        guard length <= maxBatchBytes else {
            throw NetfilterError(kind: .batchTooLarge(bytes: length, limit: maxBatchBytes),
                                 object: "the batch of \(commands.count) commands")
        }
        try socket.ensureSendBuffer(length)
        try socket.send(enc.buffer.base, length)
        guard let ackSeq else { return }
        try awaitAck(lastSeq: ackSeq, firstSeq: enc.firstSeq, origins: enc.origins, commands: commands)
    }

    /// Reads answers until the ack (or error) for the last command arrives. Errors for earlier
    /// messages come first; the first one is the cause, later ones are usually its echoes.
    private func awaitAck(
        lastSeq: UInt32, firstSeq: UInt32, origins: [Encoder.Origin], commands: [Transaction.Command]
    ) throws(NetfilterError) {
        var firstError: NetfilterError?
        var done = false
        while !done {
            let n = try socket.receive(into: receiveBuffer, timeoutMillis: answerTimeoutMillis)
            try forEachMessage(n) { (nlh: UnsafePointer<nlmsghdr>) throws(NetfilterError) in
                guard nlh.pointee.nlmsg_type == UInt16(NLMSG_ERROR) else { return }
                let (err, text) = Self.parseError(nlh)
                let s = nlh.pointee.nlmsg_seq
                if err != 0 && firstError == nil {
                    let index = Int(s &- firstSeq)
                    let object = index >= 0 && index < origins.count
                        ? Encoder.describe(origins[index], in: commands) : "message \(s)"
                    firstError = NetfilterError(kind: .rejected, errno: -err, object: object, kernelMessage: text)
                }
                // The batch-begin message failing (EPERM, say) means nothing else will answer.
                if s == lastSeq || (err != 0 && s == firstSeq) { done = true }
            }
        }
        if let firstError { throw firstError }
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
    private static func parseError(_ nlh: UnsafePointer<nlmsghdr>) -> (Int32, String?) {
        let payload = UnsafeRawPointer(nlh) + MemoryLayout<nlmsghdr>.size
        let err = payload.loadUnaligned(as: Int32.self)
        guard nlh.pointee.nlmsg_flags & UInt16(NLM_F_ACK_TLVS) != 0 else { return (err, nil) }
        // With NETLINK_CAP_ACK the echoed request is its header alone.
        var offset = MemoryLayout<nlmsghdr>.size + 4 + MemoryLayout<nlmsghdr>.size
        let total = Int(nlh.pointee.nlmsg_len)
        while offset + 4 <= total {
            let attr = UnsafeRawPointer(nlh) + offset
            let len = Int(attr.loadUnaligned(as: UInt16.self))
            let type = attr.loadUnaligned(fromByteOffset: 2, as: UInt16.self) & 0x3fff
            guard len >= 4, offset + len <= total else { break }
            if type == UInt16(NLMSGERR_ATTR_MSG.rawValue) {
                let bytes = UnsafeRawBufferPointer(start: attr + 4, count: len - 4)
                return (err, String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self))
            }
            offset += (len + 3) & ~3
        }
        return (err, nil)
    }

    // MARK: dumps

    /// Sends a dump request and hands each answer message to `body`. Returns false when the
    /// kernel flagged the dump as interrupted by a concurrent change (NLM_F_DUMP_INTR).
    func dump(
        _ type: nf_tables_msg_types, family: UInt8 = 0,
        payload: ((UnsafeMutablePointer<nlmsghdr>) -> Void)? = nil,
        _ body: (UnsafePointer<nlmsghdr>) throws(NetfilterError) -> Void
    ) throws(NetfilterError) -> Bool {
        let request = UnsafeMutableRawPointer.allocate(byteCount: 8192, alignment: 16)
        defer { request.deallocate() }
        let mySeq = seq
        seq &+= 1
        let msgType = UInt16(NFNL_SUBSYS_NFTABLES << 8) | UInt16(type.rawValue)
        guard let nlh = nftnl_nlmsg_build_hdr(request.assumingMemoryBound(to: CChar.self), msgType, UInt16(family),
                                              UInt16(NLM_F_DUMP | NLM_F_ACK), mySeq) else {
            throw NetfilterError(kind: .protocolError, object: "could not build a dump request")
        }
        payload?(nlh)
        try socket.send(request, Int(nlh.pointee.nlmsg_len))
        var consistent = true
        var done = false
        while !done {
            let n = try socket.receive(into: receiveBuffer, timeoutMillis: answerTimeoutMillis)
            try forEachMessage(n) { (m: UnsafePointer<nlmsghdr>) throws(NetfilterError) in
                guard m.pointee.nlmsg_seq == mySeq else { return }
                if m.pointee.nlmsg_flags & UInt16(NLM_F_DUMP_INTR) != 0 { consistent = false }
                switch Int32(m.pointee.nlmsg_type) {
                case NLMSG_DONE:
                    done = true
                case NLMSG_ERROR:
                    let (err, text) = Self.parseError(m)
                    if err != 0 {
                        throw NetfilterError(kind: .rejected, errno: -err, object: "dump request \(type)", kernelMessage: text)
                    }
                    done = true
                default:
                    try body(m)
                }
            }
        }
        return consistent
    }
}
