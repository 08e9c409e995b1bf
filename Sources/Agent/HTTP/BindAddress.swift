import NetworkTypes

/// Where an HTTP server listens: an IP address and a port, written as kube-proxy's
/// `--healthz-bind-address` and `--metrics-bind-address` take them (`0.0.0.0:10256`,
/// `[::1]:10249`). Port 0 asks the kernel for a free port (tests).
public struct BindAddress: Sendable, Hashable, CustomStringConvertible {
    public var host: IPAddress
    public var port: UInt16

    public init(host: IPAddress, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `IPv4:port` or `[IPv6]:port`; nil for anything else (names are not resolved:
    /// a node agent must not depend on DNS to report its health).
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else { return nil }
        var host = Substring(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") {
            host = host.dropFirst().dropLast()
            guard let ip = IPAddress(String(host)), ip.family == .v6 else { return nil }
            self.init(host: ip, port: port)
        } else {
            guard let ip = IPAddress(String(host)), ip.family == .v4 else { return nil }
            self.init(host: ip, port: port)
        }
    }

    public var description: String { host.family == .v6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Whether the host is 0.0.0.0 or ::, which listen on every address.
    var isWildcard: Bool { host.bytes.allSatisfy { $0 == 0 } }
}
