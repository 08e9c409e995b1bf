import IPVS

/// What went wrong talking to the kernel's IPVS, naming the virtual service and what to do.
///
/// Unlike an nf_tables batch, IPVS commands are not transactional: each one the kernel
/// accepted stays applied even when another failed. `otherFailures` counts the failures after
/// the first one; the caller's next sync reads the kernel back and repairs the rest.
public struct IPVSError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// The kernel has no IPVS (module ip_vs not loaded and not loadable).
        case unavailable
        /// A system call or netlink exchange failed.
        case system(NetfilterError)
        /// The kernel refused `command`.
        case rejected(IPVSCommand)
        /// A reply could not be read.
        case protocolError(String)
    }

    public var kind: Kind
    public var errno: Int32
    public var kernelMessage: String?
    public var otherFailures: Int

    public init(kind: Kind, errno: Int32 = 0, kernelMessage: String? = nil, otherFailures: Int = 0) {
        self.kind = kind
        self.errno = errno
        self.kernelMessage = kernelMessage
        self.otherFailures = otherFailures
    }

    /// The virtual service the failed command was about, when it was about one.
    public var virtualService: VirtualServiceKey? {
        if case .rejected(let c) = kind { return c.serviceKey }
        return nil
    }

    public var description: String {
        var s: String
        switch kind {
        case .unavailable:
            s = "this kernel has no IPVS (generic netlink family \"IPVS\" not found): load it with `modprobe ip_vs`, or use the nftables backend"
        case .system(let e):
            s = e.description
        case .rejected(let command):
            s = "the kernel refused to \(command): \(Errno.name(errno))"
            if let hint = Self.hint(errno, command) { s += " — \(hint)" }
        case .protocolError(let what):
            s = "unexpected IPVS netlink answer: \(what)"
        }
        if let kernelMessage, !kernelMessage.isEmpty { s += " (kernel: \(kernelMessage))" }
        if otherFailures > 0 { s += "; \(otherFailures) more command(s) failed, the rest were applied" }
        return s
    }

    /// What an errno means for an IPVS command (ip_vs_ctl.c's choices).
    static func hint(_ e: Int32, _ command: IPVSCommand) -> String? {
        switch (e, command) {
        case (17, .addService): "the virtual service already exists (edit it instead)"
        case (17, _): "the destination already exists in this virtual service (edit it instead)"
        case (3, _): "no such virtual service (it was deleted, or never added)"
        case (2, .addService), (2, .editService): "no such scheduler: load its module (ip_vs_rr, ip_vs_wrr, ip_vs_sh, ip_vs_mh)"
        case (2, _): "no such destination in this virtual service"
        case (22, _): "an attribute is malformed or out of range (weight, netmask, address family)"
        case (1, _): "needs CAP_NET_ADMIN in this network namespace"
        case (12, _): "the kernel is out of memory"
        default: nil
        }
    }
}
