import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// The proxy health server (`--healthz-bind-address`, default `0.0.0.0:10256`): `/healthz`
/// for readiness and load balancers (includes the node's eligibility), `/livez` for liveness
/// (the proxy only), with kube-proxy's status codes, JSON bodies and headers. Each answer is
/// counted in `kubeproxy_proxy_healthz_total` / `kubeproxy_proxy_livez_total` by code.
///
/// A swift-service-lifecycle `Service`: `run()` listens, serves until graceful shutdown or
/// cancellation, and throws `HTTPListenError` (naming the address) when it cannot listen.
public struct HealthzServer: Service {
    public let address: BindAddress
    private let health: ProxyHealth
    private let metrics: ProxyMetrics?
    private let logger: Logger
    private let onListening: @Sendable (SocketAddress) -> Void

    /// `onListening` is called with the address actually bound (port 0 picks one).
    public init(address: BindAddress, health: ProxyHealth, metrics: ProxyMetrics?, logger: Logger,
                onListening: @escaping @Sendable (SocketAddress) -> Void = { _ in }) {
        self.address = address
        self.health = health
        self.metrics = metrics
        self.logger = logger
        self.onListening = onListening
    }

    public func run() async throws {
        try await HTTPServer.listenAndServe(address, server: "healthz server", flag: "--healthz-bind-address", logger: logger,
                                            onListening: onListening) { [health, metrics] request in
            Self.answer(request, health: health.status(), metrics: metrics)
        }
    }

    static func answer(_ request: HTTPRequestHead, health: ProxyHealthStatus, metrics: ProxyMetrics?) -> HTTPReply {
        switch path(request.uri) {
        case "/healthz":
            metrics?.healthzAnswered(ok: health.healthzOK)
            return json(ok: health.healthzOK, health.healthzJSON)
        case "/livez":
            metrics?.livezAnswered(ok: health.healthy)
            return json(ok: health.healthy, health.livezJSON)
        default:
            return .notFound
        }
    }

    private static func json(ok: Bool, _ body: String) -> HTTPReply {
        HTTPReply(ok ? .ok : .serviceUnavailable,
                  headers: [("Content-Type", "application/json"), ("X-Content-Type-Options", "nosniff")], body: body)
    }
}

/// The path of a request target, without its query (Go's ServeMux matches paths only).
func path(_ uri: String) -> Substring {
    uri[..<(uri.firstIndex(where: { $0 == "?" || $0 == "#" }) ?? uri.endIndex)]
}
