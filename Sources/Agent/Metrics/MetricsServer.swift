import Logging
import NIOCore
import NIOHTTP1
import Prometheus
import ServiceLifecycle

/// The metrics server (`--metrics-bind-address`, default `127.0.0.1:10249`), as kube-proxy's:
/// `/metrics` (Prometheus text format, from the registry `ProxyMetrics` writes into),
/// `/proxyMode` (the backend's mode, e.g. `nftables`, which tools read to tell how a node
/// proxies) and `/healthz` (`ok`: the server itself is up).
///
/// A swift-service-lifecycle `Service`: `run()` listens, serves until graceful shutdown or
/// cancellation, and throws `HTTPListenError` (naming the address) when it cannot listen.
public struct MetricsServer: Service {
    public let address: BindAddress
    private let registry: PrometheusCollectorRegistry
    private let mode: String
    private let logger: Logger
    private let onListening: @Sendable (SocketAddress) -> Void

    /// `mode`: `ProxyBackend.mode`. `onListening` is called with the address actually bound.
    public init(address: BindAddress, registry: PrometheusCollectorRegistry, mode: String, logger: Logger,
                onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in }) {
        self.address = address
        self.registry = registry
        self.mode = mode
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        try await HTTPServer.listenAndServe(address, server: "metrics server", flag: "--metrics-bind-address", logger: logger,
                                            onListening: onListening) { [registry, mode] request in
            Self.answer(request, registry: registry, mode: mode)
        }
    }

    static func answer(_ request: HTTPRequestHead, registry: PrometheusCollectorRegistry, mode: String) -> HTTPReply {
        let text = [("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff")]
        switch path(request.uri) {
        case "/metrics":
            return HTTPReply(.ok, headers: [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")],
                             body: registry.emitToBuffer())
        case "/proxyMode":
            return HTTPReply(.ok, headers: text, body: mode)
        case "/healthz":
            return HTTPReply(.ok, headers: text, body: "ok")
        default:
            return .notFound
        }
    }
}
