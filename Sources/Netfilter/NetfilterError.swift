import NFTables

/// What went wrong talking to nf_tables, naming the object that failed and what to do.
public struct NetfilterError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// A system call failed (socket, setsockopt, sendmsg, recvmsg).
        case system(call: String)
        /// The kernel refused a message of the batch; the whole batch was rolled back.
        case rejected
        /// The kernel refused a read (a dump); nothing was changed.
        case readRefused
        /// The transaction failed validation before anything was sent.
        case invalid
        /// The batch is larger than the socket may send in one message.
        case batchTooLarge(bytes: Int, limit: Int)
        /// The kernel's answer could not be read (truncated or unexpected messages).
        case protocolError
    }

    public var kind: Kind
    /// errno, when there is one.
    public var errno: Int32
    /// The object the failing message was about, e.g. `add rule to chain ip sluice svc-abc`.
    public var object: String
    /// The kernel's extended-ack message, if it sent one.
    public var kernelMessage: String?

    public init(kind: Kind, errno: Int32 = 0, object: String, kernelMessage: String? = nil) {
        self.kind = kind
        self.errno = errno
        self.object = object
        self.kernelMessage = kernelMessage
    }

    public var errnoName: String { Errno.name(errno) }

    public var description: String {
        var s: String
        switch kind {
        case .system(let call):
            s = "\(call) failed: \(errnoName)"
            if !object.isEmpty { s += " (\(object))" }
        case .rejected:
            s = "the kernel rejected \(object): \(errnoName)"
            if let hint = Errno.hint(errno) { s += " — \(hint)" }
        case .readRefused:
            s = "the kernel refused to let us read \(object): \(errnoName)"
            if let hint = Errno.hint(errno) { s += " — \(hint)" }
        case .invalid:
            s = "invalid \(object)"
        case .batchTooLarge(let bytes, let limit):
            s = "\(object) is \(bytes) bytes, more than the \(limit) bytes one netlink message may carry; split the transaction"
        case .protocolError:
            s = "unexpected netlink answer: \(object)"
        }
        if let kernelMessage, !kernelMessage.isEmpty { s += " (kernel: \(kernelMessage))" }
        if case .rejected = kind { s += "; nothing in the batch was applied" }
        return s
    }
}

/// Readable errno names and what each means for an nf_tables batch.
enum Errno {
    static func name(_ e: Int32) -> String {
        switch e {
        case 0: "success"
        case 1: "EPERM"
        case 2: "ENOENT"
        case 3: "ESRCH"
        case 4: "EINTR"
        case 7: "E2BIG"
        case 9: "EBADF"
        case 11: "EAGAIN"
        case 12: "ENOMEM"
        case 13: "EACCES"
        case 16: "EBUSY"
        case 17: "EEXIST"
        case 22: "EINVAL"
        case 28: "ENOSPC"
        case 34: "ERANGE"
        case 40: "ELOOP"
        case 90: "EMSGSIZE"
        case 93: "EPROTONOSUPPORT"
        case 95: "EOPNOTSUPP"
        case 105: "ENOBUFS"
        default: "errno \(e)"
        }
    }

    static func hint(_ e: Int32) -> String? {
        switch e {
        case 1: "needs CAP_NET_ADMIN in this network namespace"
        case 2: "it refers to a table, chain or set that does not exist"
        case 17: "it already exists (use add instead of create, or delete and re-add an element to change its data)"
        case 22: "an attribute is malformed (wrong key or data length, bad register)"
        case 16: "it is still in use (a rule jumps to the chain or looks up the set)"
        case 34: "a value is out of range (key or data longer than the set allows)"
        case 40: "a jump or goto makes a loop"
        case 90: "a message is too large"
        case 95: "this kernel does not support it"
        default: nil
        }
    }
}
