import CNetfilter
import Glibc
import NFTables

/// A connection to nf_tables in the network namespace of the thread that opens it.
/// Not shareable across tasks: the owner (an actor in the agent) serialises its use.
public final class NFTablesConnection {
    private let channel: NetlinkChannel
    /// The largest batch sent as one message. The kernel caps a socket's send buffer at
    /// INT_MAX/2; a larger transaction must be split by the caller.
    public var maxBatchBytes: Int = 1 << 30
    /// How long to wait for the kernel's answer to a batch or dump.
    public var answerTimeoutMillis: Int32 {
        get { channel.answerTimeoutMillis }
        set { channel.answerTimeoutMillis = newValue }
    }

    public init() throws(NetfilterError) {
        channel = try NetlinkChannel(protocol: NETLINK_NETFILTER, name: "NETLINK_NETFILTER")
        channel.answerTimeoutMillis = 300_000
    }

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
        var enc = Encoder(firstSeq: channel.seq)
        enc.begin()
        for (i, c) in commands.enumerated() { enc.encode(c, index: i) }
        let ackSeq = enc.requestAckOnLastCommand()
        enc.end()
        channel.reserveSequence(through: enc.nextSeq)
        let length = enc.buffer.length
        guard length <= maxBatchBytes else {
            throw NetfilterError(kind: .batchTooLarge(bytes: length, limit: maxBatchBytes),
                                 object: "the batch of \(commands.count) commands")
        }
        try channel.socket.ensureSendBuffer(length)
        try channel.socket.send(enc.buffer.base, length)
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
            try channel.receiveMessages { (nlh: UnsafePointer<nlmsghdr>) throws(NetfilterError) in
                guard nlh.pointee.nlmsg_type == UInt16(NLMSG_ERROR) else { return }
                let (err, text) = NetlinkChannel.parseError(nlh)
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

    // MARK: dumps

    /// What a dump reads, as an operator would say it.
    static func readable(_ type: nf_tables_msg_types) -> String {
        switch type {
        case NFT_MSG_GETTABLE: "the nftables tables"
        case NFT_MSG_GETCHAIN: "the nftables chains"
        case NFT_MSG_GETRULE: "the nftables rules"
        case NFT_MSG_GETSET: "the nftables sets"
        case NFT_MSG_GETSETELEM: "the elements of an nftables set"
        default: "nftables objects (message \(type.rawValue))"
        }
    }

    /// Sends a dump request and hands each answer message to `body`. Returns false when the
    /// kernel flagged the dump as interrupted by a concurrent change (NLM_F_DUMP_INTR).
    func dump(
        _ type: nf_tables_msg_types, family: UInt8 = 0,
        payload: ((UnsafeMutablePointer<nlmsghdr>) -> Void)? = nil,
        _ body: (UnsafePointer<nlmsghdr>) throws(NetfilterError) -> Void
    ) throws(NetfilterError) -> Bool {
        try channel.dump(what: Self.readable(type), build: { nlh in
            nlh.pointee.nlmsg_type = UInt16(NFNL_SUBSYS_NFTABLES << 8) | UInt16(type.rawValue)
            nlh.pointee.nlmsg_flags = UInt16(NLM_F_ACK)
            if let raw = mnl_nlmsg_put_extra_header(nlh, MemoryLayout<nfgenmsg>.size) {
                let nfg = raw.assumingMemoryBound(to: nfgenmsg.self)
                nfg.pointee.nfgen_family = family
                nfg.pointee.version = UInt8(NFNETLINK_V0)
                nfg.pointee.res_id = 0
            }
            payload?(nlh)
        }, body)
    }
}
