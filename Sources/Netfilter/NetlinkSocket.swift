import CNetfilter
import CSluiceShims
import Glibc

/// A netlink socket (NETLINK_NETFILTER unless told otherwise) that owns its descriptor. It is
/// opened in the network namespace of the calling thread and stays bound to it.
final class NetlinkSocket {
    private let nl: OpaquePointer
    let portID: UInt32
    private var sendBufferSize = 0

    init(protocol: Int32 = NETLINK_NETFILTER, name: String = "NETLINK_NETFILTER") throws(NetfilterError) {
        guard let nl = mnl_socket_open(`protocol`) else {
            throw NetfilterError(kind: .system(call: "mnl_socket_open(\(name))"), errno: Glibc.errno, object: "")
        }
        self.nl = nl
        guard mnl_socket_bind(nl, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0 else {
            let e = Glibc.errno
            mnl_socket_close(nl)
            throw NetfilterError(kind: .system(call: "mnl_socket_bind"), errno: e, object: "")
        }
        portID = mnl_socket_get_portid(nl)
        var one: Int32 = 1
        // Acks carry only the failing message's header, and errors carry the kernel's text.
        _ = mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, socklen_t(MemoryLayout<Int32>.size))
        _ = mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, socklen_t(MemoryLayout<Int32>.size))
        var rcv: Int32 = 8 << 20
        _ = setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcv, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { mnl_socket_close(nl) }

    var fd: Int32 { mnl_socket_get_fd(nl) }

    /// Makes sure one message of `bytes` fits the send buffer: the whole batch must travel in
    /// a single sendmsg, or the kernel sees a batch without its end and drops it.
    func ensureSendBuffer(_ bytes: Int) throws(NetfilterError) {
        guard bytes > sendBufferSize else { return }
        var size = Int32(clamping: bytes + 4096)
        if setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            throw NetfilterError(kind: .system(call: "setsockopt(SO_SNDBUFFORCE)"), errno: Glibc.errno, object: "")
        }
        sendBufferSize = Int(size)
    }

    func send(_ base: UnsafeRawPointer, _ length: Int) throws(NetfilterError) {
        while true {
            let n = mnl_socket_sendto(nl, base, length)
            if n >= 0 { return }
            if Glibc.errno == EINTR { continue }
            throw NetfilterError(kind: .system(call: "sendmsg"), errno: Glibc.errno, object: "")
        }
    }

    /// Receives one datagram (any number of netlink messages) into `buffer`; waits at most
    /// `timeoutMillis` for it.
    func receive(into buffer: UnsafeMutableRawBufferPointer, timeoutMillis: Int32) throws(NetfilterError) -> Int {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            let r = poll(&pfd, 1, timeoutMillis)
            if r < 0 && Glibc.errno == EINTR { continue }
            if r < 0 { throw NetfilterError(kind: .system(call: "poll"), errno: Glibc.errno, object: "") }
            if r == 0 { throw NetfilterError(kind: .system(call: "recvmsg"), errno: ETIMEDOUT, object: "no answer from the kernel") }
            break
        }
        while true {
            let n = mnl_socket_recvfrom(nl, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if Glibc.errno == EINTR { continue }
            throw NetfilterError(kind: .system(call: "recvmsg"), errno: Glibc.errno, object: "")
        }
    }
}
