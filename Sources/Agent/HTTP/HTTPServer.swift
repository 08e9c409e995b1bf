import Foundation
import Logging
import NetworkTypes
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// What a handler answers to one request. The server adds `Content-Length`, `Date` and, when
/// it closes the connection, `Connection: close`, as Go's net/http (kube-proxy's server) does.
struct HTTPReply: Sendable {
    var status: HTTPResponseStatus
    var headers: [(String, String)]
    var body: [UInt8]

    init(_ status: HTTPResponseStatus, headers: [(String, String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    init(_ status: HTTPResponseStatus, headers: [(String, String)], body: String) {
        self.init(status, headers: headers, body: Array(body.utf8))
    }

    /// Go's ServeMux answer to a path it does not know.
    static let notFound = HTTPReply(.notFound, headers: [("Content-Type", "text/plain; charset=utf-8"),
                                                         ("X-Content-Type-Options", "nosniff")],
                                    body: "404 page not found\n")
}

/// A listener could not be opened.
public struct HTTPListenError: Error, CustomStringConvertible {
    /// What the listener was for: "healthz server", "health check server of ns/name", ...
    public var server: String
    public var address: String
    /// The system's reason, e.g. "Address already in use (errno 98)".
    public var reason: String
    /// What the operator can do about it.
    public var hint: String

    public var description: String { "could not listen on \(address) for the \(server): \(reason); \(hint)" }
}

/// A small HTTP/1.1 server on SwiftNIO for a handful of fixed answers: health, metrics,
/// healthCheckNodePorts. Requests are answered by a synchronous closure (every answer here is
/// a snapshot of in-memory state); bodies sent to it are discarded unread, so a request costs
/// no more memory than its headers (NIO's parser caps those). Keep-alive connections are kept
/// until they idle for a minute, and at most `maxConnections` at once.
///
/// `close()` stops accepting, closes idle connections and lets a request being answered
/// finish; `serve` returns once every connection is gone. Graceful shutdown (a
/// swift-service-lifecycle `ServiceGroup`) and task cancellation both call it.
final class HTTPServer: Sendable {
    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>

    static let maxConnections = 512
    static let idleTimeout = TimeAmount.seconds(60)

    let localAddress: SocketAddress
    private let channel: NIOAsyncChannel<Connection, Never>
    private let connections = ConnectionTracker()

    private init(channel: NIOAsyncChannel<Connection, Never>, localAddress: SocketAddress) {
        self.channel = channel
        self.localAddress = localAddress
    }

    /// Opens a listener on `address`. A wildcard IPv4 address (0.0.0.0) listens on both
    /// families when the kernel allows, as Go's listener (kube-proxy's) does; otherwise on
    /// IPv4 only.
    static func bind(_ address: BindAddress, server: String, hint: String,
                     group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> HTTPServer {
        // Go listens on [::] with IPV6_V6ONLY off for "0.0.0.0"; a kernel without IPv6 refuses
        // that, and then IPv4 alone is what was asked for.
        if address.isWildcard, address.host.family == .v4,
           let dual = try? await bind(SocketAddress(ipAddress: "::", port: Int(address.port)), dualStack: true, group: group) {
            return dual
        }
        do {
            let socketAddress = try SocketAddress(ipAddress: address.host.description, port: Int(address.port))
            return try await bind(socketAddress, dualStack: false, group: group)
        } catch {
            throw HTTPListenError(server: server, address: address.description, reason: Self.reason(error), hint: hint)
        }
    }

    private static func bind(_ address: SocketAddress, dualStack: Bool, group: any EventLoopGroup) async throws -> HTTPServer {
        // SO_REUSEADDR: an agent restarted at once rebinds while its old connections linger in TIME_WAIT.
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        if dualStack {
            bootstrap = bootstrap.serverChannelOption(ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only), value: 0)
        }
        let channel = try await bootstrap.bind(to: address) { child in
            child.eventLoop.makeCompletedFuture {
                try child.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: idleTimeout))
                try child.pipeline.syncOperations.addHandler(CloseWhenIdle())
                try child.pipeline.syncOperations.configureHTTPServerPipeline()
                return try Connection(wrappingChannelSynchronously: child)
            }
        }
        guard let local = channel.channel.localAddress else {
            try? await channel.channel.close()
            throw ChannelError.inappropriateOperationForState
        }
        return HTTPServer(channel: channel, localAddress: local)
    }

    /// What a server on one configured address does in its `run()`: listen (or throw
    /// `HTTPListenError`), report the address bound, serve until shutdown.
    static func listenAndServe(_ address: BindAddress, server: String, flag: String, logger: Logger,
                               onListening: @Sendable (SocketAddress) -> Void,
                               respond: @escaping @Sendable (HTTPRequestHead) -> HTTPReply) async throws {
        let listener = try await bind(address, server: server, hint: "free the port or choose another with \(flag)")
        logger.info("\(server) listening", metadata: ["http.address": "\(listener.localAddress)"])
        onListening(listener.localAddress)
        await listener.serve(logger: logger, respond: respond)
    }

    private static func reason(_ error: any Error) -> String {
        if let io = error as? IOError { return "\(String(cString: strerror(io.errnoCode))) (errno \(io.errnoCode))" }
        return "\(error)"
    }

    /// Answers requests until `close()` (or graceful shutdown, or cancellation), then waits
    /// for open connections to finish.
    func serve(logger: Logger, respond: @escaping @Sendable (HTTPRequestHead) -> HTTPReply) async {
        await withTaskCancellationOrGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                do {
                    try await channel.executeThenClose { inbound in
                        for try await connection in inbound {
                            guard connections.opened(connection.channel) else {
                                connection.channel.close(promise: nil)
                                continue
                            }
                            group.addTask {
                                await self.serve(connection, logger: logger, respond: respond)
                            }
                        }
                    }
                } catch {
                    logger.debug("listener closed", metadata: ["http.address": "\(localAddress)", "error": "\(error)"])
                }
            }
        } onCancelOrGracefulShutdown: {
            self.close()
        }
    }

    /// Stops accepting connections and closes idle ones; a request being answered finishes first.
    func close() {
        channel.channel.close(promise: nil)
        for idle in connections.shutDown() { idle.close(promise: nil) }
    }

    /// As `close()`, and returns once the listening socket is gone (new connections are refused).
    func closeListener() async {
        close()
        try? await channel.channel.closeFuture.get()
    }

    private func serve(_ connection: Connection, logger: Logger, respond: @Sendable (HTTPRequestHead) -> HTTPReply) async {
        let id = ObjectIdentifier(connection.channel)
        defer { connections.closed(id) }
        do {
            try await connection.executeThenClose { inbound, outbound in
                var request: HTTPRequestHead?
                for try await part in inbound {
                    switch part {
                    case .head(let head):
                        request = head
                        connections.busy(id)
                    case .body:
                        continue
                    case .end:
                        guard let head = request else { continue }
                        request = nil
                        let keepAlive = head.isKeepAlive && !connections.isShuttingDown
                        try await write(respond(head), to: head, keepAlive: keepAlive, outbound)
                        guard keepAlive, connections.idle(id) else { return }
                    }
                }
            }
        } catch {
            logger.debug("connection closed", metadata: ["http.address": "\(localAddress)", "error": "\(error)"])
        }
    }

    private func write(_ reply: HTTPReply, to request: HTTPRequestHead, keepAlive: Bool,
                       _ outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>) async throws {
        var headers = HTTPHeaders(reply.headers)
        headers.add(name: "Date", value: Self.httpDate(Date()))
        headers.add(name: "Content-Length", value: String(reply.body.count))
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        } else if request.version == .http1_0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        let version = request.version == .http1_0 ? HTTPVersion.http1_0 : .http1_1
        try await outbound.write(.head(HTTPResponseHead(version: version, status: reply.status, headers: headers)))
        if request.method != .HEAD, !reply.body.isEmpty {
            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: reply.body))))
        }
        try await outbound.write(.end(nil))
    }

    /// RFC 9110's IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    static func httpDate(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = RFC3339.civil(fromDays: days)
        // 1970-01-01 was a Thursday.
        let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][Int(((days % 7) + 7) % 7)]
        let monthName = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][Int(month - 1)]
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(weekday), \(two(day)) \(monthName) \(year) \(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60)) GMT"
    }
}

/// Which connections are open and which of them are between requests, so that a shutdown
/// can close the idle ones at once and let the others answer first.
private final class ConnectionTracker: Sendable {
    private struct State {
        var idle: [ObjectIdentifier: any Channel] = [:]
        var busy: [ObjectIdentifier: any Channel] = [:]
        var shuttingDown = false
    }
    private let state = NIOLockedValueBox(State())

    var isShuttingDown: Bool { state.withLockedValue { $0.shuttingDown } }

    /// false: refuse the connection (shutting down, or too many open).
    func opened(_ channel: any Channel) -> Bool {
        state.withLockedValue { s in
            guard !s.shuttingDown, s.idle.count + s.busy.count < HTTPServer.maxConnections else { return false }
            s.idle[ObjectIdentifier(channel)] = channel
            return true
        }
    }

    func busy(_ id: ObjectIdentifier) {
        state.withLockedValue { s in
            if let channel = s.idle.removeValue(forKey: id) { s.busy[id] = channel }
        }
    }

    /// false: the server is shutting down and the connection should close now.
    func idle(_ id: ObjectIdentifier) -> Bool {
        state.withLockedValue { s in
            guard let channel = s.busy.removeValue(forKey: id) else { return false }
            guard !s.shuttingDown else { return false }
            s.idle[id] = channel
            return true
        }
    }

    func closed(_ id: ObjectIdentifier) {
        state.withLockedValue { s in
            s.idle[id] = nil
            s.busy[id] = nil
        }
    }

    /// Marks the server as shutting down and returns the idle connections to close.
    func shutDown() -> [any Channel] {
        state.withLockedValue { s in
            s.shuttingDown = true
            return Array(s.idle.values)
        }
    }
}

/// Closes a connection that sent nothing for `HTTPServer.idleTimeout`.
private final class CloseWhenIdle: ChannelInboundHandler {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
