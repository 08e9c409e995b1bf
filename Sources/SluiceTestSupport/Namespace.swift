import CSluiceShims
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The result of running a command.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

public struct CommandError: Error, CustomStringConvertible {
    public var command: [String]
    public var result: CommandResult
    public var description: String {
        "\(command.joined(separator: " ")) exited \(result.status): \(result.stderr)\(result.stdout)"
    }
}

/// Runs a command and collects its output. Standard input is the given text (or empty).
@discardableResult
public func run(_ args: [String], input: String? = nil, check: Bool = true) throws -> CommandResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = args
    let out = Pipe(), err = Pipe(), inp = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = inp
    try p.run()
    if let input { inp.fileHandleForWriting.write(Data(input.utf8)) }
    try inp.fileHandleForWriting.close()
    // Read both pipes to the end before waiting, so a chatty command cannot block on a full pipe.
    nonisolated(unsafe) var errData = Data()
    let done = DispatchSemaphore(value: 0)
    let errHandle = err.fileHandleForReading
    Thread {
        errData = errHandle.readDataToEndOfFile()
        done.signal()
    }.start()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    done.wait()
    p.waitUntilExit()
    let r = CommandResult(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                          stderr: String(decoding: errData, as: UTF8.self))
    if check && r.status != 0 { throw CommandError(command: args, result: r) }
    return r
}

/// A private network namespace for a test: created on init, deleted by `delete()` (call it in
/// a `defer`). Names are unique per process and call.
public final class NetworkNamespace: @unchecked Sendable {
    public let name: String
    private static let counter = Counter()

    public init(_ prefix: String = "sluice-t") throws {
        name = "\(prefix)-\(getpid())-\(Self.counter.next())"
        try run(["ip", "netns", "add", name])
        try exec(["ip", "link", "set", "lo", "up"])
    }

    /// Kills every process still inside (listeners a test started) and removes the namespace.
    public func delete() {
        if let pids = try? run(["ip", "netns", "pids", name], check: false).stdout {
            for pid in pids.split(separator: "\n").compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
        }
        _ = try? run(["ip", "netns", "delete", name], check: false)
    }

    /// Starts a command inside the namespace and returns at once; `delete()` ends it.
    public func spawn(_ args: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["ip", "netns", "exec", name] + args
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
    }

    /// Runs a command inside the namespace.
    @discardableResult
    public func exec(_ args: [String], input: String? = nil, check: Bool = true) throws -> CommandResult {
        try run(["ip", "netns", "exec", name] + args, input: input, check: check)
    }

    /// Runs `body` on a fresh thread that has entered this namespace, and returns its result.
    /// Sockets opened there stay bound to the namespace after the thread ends.
    public func enter<T>(_ body: () throws -> T) throws -> T {
        try withoutActuallyEscaping(body) { body in try enterEscaping(body) }
    }

    private func enterEscaping<T>(_ body: @escaping () throws -> T) throws -> T {
        let fd = open("/var/run/netns/\(name)", O_RDONLY)
        guard fd >= 0 else { throw NamespaceError(message: "open netns \(name): errno \(errno)") }
        defer { close(fd) }
        // The thread must drop the closure before `enter` returns (withoutActuallyEscaping
        // checks), so it reaches the closure through a box it empties when done.
        let box = Box(body)
        let done = DispatchSemaphore(value: 0)
        let name = self.name
        let thread = Thread {
            if sluice_setns_net(fd) != 0 {
                box.result = .failure(NamespaceError(message: "setns \(name): errno \(errno)"))
            } else if let body = box.body {
                box.result = Result { try body() }
            }
            box.body = nil
            done.signal()
        }
        thread.start()
        done.wait()
        let result = box.result
        guard let result else { throw NamespaceError(message: "thread did not run") }
        return try result.get()
    }
}

public struct NamespaceError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

final class Counter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}

private final class Box<T>: @unchecked Sendable {
    var body: (() throws -> T)?
    var result: Result<T, any Error>?
    init(_ body: @escaping () throws -> T) { self.body = body }
}

/// Small TCP/UDP programs for packet tests, in Python (on every Debian machine with iproute2).
public enum Probe {
    /// A TCP server on `port` answering each connection with `<local addr>:<local port> <peer addr>`.
    public static let tcpEchoAddress = """
    import socket, sys
    fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((sys.argv[1], int(sys.argv[2])))
    s.listen(128)
    while True:
        c, peer = s.accept()
        local = c.getsockname()
        c.sendall(f"{local[0]}:{local[1]} {peer[0]}\\n".encode())
        c.close()
    """

    /// A UDP server on `port` (argv 1) bound to each given address (argv 2…), answering each
    /// datagram from that address with `<local addr>:<port> <peer addr>`.
    public static let udpEchoAddress = """
    import select, socket, sys
    port = int(sys.argv[1])
    socks = []
    for a in sys.argv[2:]:
        s = socket.socket(socket.AF_INET6 if ':' in a else socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((a, port))
        socks.append(s)
    while True:
        ready, _, _ = select.select(socks, [], [])
        for s in ready:
            data, peer = s.recvfrom(2048)
            s.sendto(f"{s.getsockname()[0]}:{port} {peer[0]}\\n".encode(), peer)
    """

    /// Sends `count` datagrams to addr:port (IPv4 or IPv6) from a connected socket on source port
    /// `sport` (0: a fresh socket, so a fresh source port and conntrack entry, for each datagram),
    /// waiting `timeout` seconds (argv 5, default 0.7) for each answer; prints each answer,
    /// `REFUSED` (an ICMP port unreachable came back), `TIMEOUT` or an errno name.
    public static let udpSend = """
    import errno, socket, sys
    addr, port, sport, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    timeout = float(sys.argv[5]) if len(sys.argv) > 5 else 0.7
    fam = socket.AF_INET6 if ':' in addr else socket.AF_INET
    s = None
    for _ in range(count):
        if s is None or sport == 0:
            if s is not None:
                s.close()
            s = socket.socket(fam, socket.SOCK_DGRAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", sport))
            s.connect((addr, port))
            s.settimeout(timeout)
        try:
            s.send(b"ping")
            print(s.recv(2048).decode().strip())
        except ConnectionRefusedError:
            print("REFUSED")
        except (socket.timeout, TimeoutError):
            print("TIMEOUT")
        except OSError as e:
            print(errno.errorcode.get(e.errno, str(e.errno)))
    """

    /// Sends `count` SCTP INIT chunks (a correct CRC32c, computed here: no sctp module needed)
    /// to addr:port over a raw socket in network namespace argv 1, each from a random source port
    /// and with its own initiate tag, and watches with a raw socket in namespace argv 2 for them to
    /// arrive. Prints, for each INIT in order, `<dst addr>:<dst port> <src addr>` as it arrived,
    /// `REFUSED` (an ICMP port or protocol unreachable quoting it came back to the sender) or
    /// `TIMEOUT`. Run it in the root namespace: it enters both namespaces itself (setns).
    public static let sctpInit = """
    import ctypes, os, random, select, socket, struct, sys, time
    cns, pns, addr, port, count, timeout = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), float(sys.argv[6])
    libc = ctypes.CDLL(None, use_errno=True)
    def enter(ns):
        fd = os.open("/var/run/netns/" + ns, os.O_RDONLY)
        if libc.setns(fd, 0x40000000) != 0:
            raise OSError(ctypes.get_errno(), "setns " + ns)
        os.close(fd)
    def crc32c(data):
        crc = 0xFFFFFFFF
        for b in data:
            crc ^= b
            for _ in range(8):
                crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
        return crc ^ 0xFFFFFFFF
    v6 = ':' in addr
    fam = socket.AF_INET6 if v6 else socket.AF_INET
    icmp = socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP
    enter(pns)
    sniff = socket.socket(fam, socket.SOCK_RAW, 132)
    if v6:
        sniff.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
    enter(cns)
    send = socket.socket(fam, socket.SOCK_RAW, 132)
    errs = socket.socket(fam, socket.SOCK_RAW, icmp)
    base = random.randrange(1, 1 << 30)
    tags = {}
    for i in range(count):
        tag = base + i
        tags[tag] = "TIMEOUT"
        hdr = struct.pack("!HHII", random.randrange(20000, 60000), port, 0, 0)
        init = struct.pack("!BBHIIHHI", 1, 0, 20, tag, 65535, 10, 10, tag)
        pkt = hdr + init
        pkt = pkt[:8] + struct.pack("<I", crc32c(pkt)) + pkt[12:]
        send.sendto(pkt, (addr, 0))
    def init_tag(sctp):
        if len(sctp) >= 20 and sctp[12] == 1:
            return struct.unpack("!I", sctp[16:20])[0]
        return None
    pending = set(tags)
    deadline = time.monotonic() + timeout
    while pending:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        ready, _, _ = select.select([sniff, errs], [], [], left)
        for s in ready:
            if s is sniff:
                if v6:
                    data, anc, _, peer = s.recvmsg(2048, 256)
                    dst = next((socket.inet_ntop(socket.AF_INET6, d[:16]) for l, t, d in anc
                                if l == socket.IPPROTO_IPV6 and t == socket.IPV6_PKTINFO), "?")
                    src, sctp = peer[0], data
                else:
                    data = s.recv(2048)
                    ihl = (data[0] & 15) * 4
                    src, dst = socket.inet_ntoa(data[12:16]), socket.inet_ntoa(data[16:20])
                    sctp = data[ihl:]
                tag = init_tag(sctp)
                if tag in pending:
                    dport = struct.unpack("!H", sctp[2:4])[0]
                    tags[tag] = f"{dst}:{dport} {src}"
                    pending.discard(tag)
            else:
                data = s.recv(2048)
                if v6:
                    ok = (data[0], data[1]) in ((1, 4), (4, 1))
                    inner = data[8 + 40:]
                else:
                    ihl = (data[0] & 15) * 4
                    icmph = data[ihl:]
                    ok = icmph[0] == 3 and icmph[1] in (2, 3)
                    iihl = (icmph[8] & 15) * 4
                    inner = icmph[8 + iihl:]
                if ok:
                    tag = init_tag(inner)
                    if tag in pending:
                        tags[tag] = "REFUSED"
                        pending.discard(tag)
    for tag in sorted(tags):
        print(tags[tag])
    """

    /// Connects `count` times to addr:port; prints each answer, `REFUSED` or `TIMEOUT`.
    public static let tcpConnect = """
    import errno, socket, sys
    addr, port, count, timeout = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    fam = socket.AF_INET6 if ':' in addr else socket.AF_INET
    for _ in range(count):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect((addr, port))
            print(s.makefile().readline().strip())
        except ConnectionRefusedError:
            print("REFUSED")
        except (socket.timeout, TimeoutError):
            print("TIMEOUT")
        except OSError as e:
            print(errno.errorcode.get(e.errno, str(e.errno)))
        finally:
            s.close()
    """
}
