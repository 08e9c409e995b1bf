import Foundation
import Glibc
import SluiceTestSupport

/// TCP connect latency measured in-process (no interpreter in the loop), from a thread inside
/// the client namespace, alternating between targets so that drift on a noisy machine hits
/// every target alike. Each connect is a new connection: its first packet goes through NAT.
enum ConnectLatency {
    struct Result {
        var p50: Double
        var p99: Double
        var failures: Int
    }

    static func measure(from ns: NetworkNamespace, targets: [(String, UInt16)], count: Int) throws -> [Result] {
        try ns.enter {
            var samples = [[Double]](repeating: [], count: targets.count)
            var failures = [Int](repeating: 0, count: targets.count)
            for round in 0..<(count + 20) {
                for (i, (addr, port)) in targets.enumerated() {
                    guard let t = once(addr, port) else {
                        failures[i] += 1
                        continue
                    }
                    if round >= 20 { samples[i].append(t) }  // the first 20 rounds warm up
                }
            }
            return samples.enumerated().map { i, s in
                let sorted = s.sorted()
                func q(_ p: Double) -> Double { sorted.isEmpty ? -1 : sorted[min(sorted.count - 1, Int(p * Double(sorted.count)))] }
                return Result(p50: q(0.5), p99: q(0.99), failures: failures[i])
            }
        }
    }

    /// One connect; microseconds, or nil on failure.
    static func once(_ address: String, _ port: UInt16) -> Double? {
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = port.bigEndian
        guard inet_pton(AF_INET, address, &sin.sin_addr) == 1 else { return nil }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let start = now()
        let r = withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        let elapsed = (now() - start) * 1e6
        return r == 0 ? elapsed : nil
    }
}
