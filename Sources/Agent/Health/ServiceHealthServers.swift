import Logging
import NetworkTypes
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import ServiceLifecycle

/// One HTTP server per Service with `externalTrafficPolicy: Local` and a
/// `healthCheckNodePort`: the cloud load balancer probes it on every node and sends traffic
/// only to nodes that answer 200, which this server does only while the node has a ready
/// local endpoint for the Service and the proxy is healthy (kube-proxy's
/// `pkg/proxy/healthcheck/service_health.go`). Any path and method get the answer; the body
/// and headers are kube-proxy's, including `X-Load-Balancing-Endpoint-Weight` (the local
/// endpoint count, which weighted load balancers read).
///
/// `update(_:)` says which Services should have a server; it returns at once, and `run()`
/// opens and closes servers to match, in its own task, so the sync loop never waits on a
/// socket. A port that cannot be bound is logged, counted in
/// `sluice_health_check_node_port_servers{state="failed"}` and tried again on the next
/// `update`; it never stops the agent or the other Services.
///
/// A swift-service-lifecycle `Service`: `run()` serves until graceful shutdown (or
/// cancellation), then closes every server and returns. Answers read the state concurrently.
public final class ServiceHealthServers: Service, Sendable {
    private struct ServiceID: Hashable, Sendable {
        var namespace: String
        var name: String
    }

    private struct Open: Sendable {
        var port: UInt16
        var localEndpoints: Int
        var listeners: [HTTPServer]
    }

    private struct State: Sendable {
        var open: [ServiceID: Open] = [:]
        /// Services whose server could not be opened, with why.
        var failed: [ServiceID: HTTPListenError] = [:]
        /// The Services asked for by the latest `update` not yet acted on.
        var wanted: [HealthCheckedService]?
        /// `update` calls so far, and how many of them `run()` has acted on.
        var requested = 0
        var done = 0
        var waiters: [(generation: Int, continuation: CheckedContinuation<Void, Never>)] = []
        var stopped = false
    }

    private let addresses: [IPAddress]
    private let health: ProxyHealth
    private let metrics: ProxyMetrics?
    private let logger: Logger
    private let state = NIOLockedValueBox(State())
    private let wakes: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation

    /// `addresses`: where each server listens (kube-proxy uses the `--nodeport-addresses`
    /// addresses of the node); empty: every address of the node, both families.
    public init(addresses: [IPAddress] = [], health: ProxyHealth, metrics: ProxyMetrics?, logger: Logger) {
        self.addresses = addresses.isEmpty ? [IPAddress("0.0.0.0")].compactMap { $0 } : addresses
        self.health = health
        self.metrics = metrics
        self.logger = logger
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Makes the servers those of `services` (the latest call wins): opens the new ones,
    /// closes those whose Service left or whose port changed, and updates the local endpoint
    /// counts the others report. Returns at once; `run()` does the work.
    public func update(_ services: [HealthCheckedService]) {
        state.withLockedValue { s in
            guard !s.stopped else { return }
            s.wanted = services
            s.requested += 1
        }
        wake.yield()
    }

    /// Returns once `run()` has acted on every `update` made before this call (or stopped).
    /// For tests and for callers that must know the ports are open.
    public func reconciled() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let ready = state.withLockedValue { s -> Bool in
                guard !s.stopped, s.done < s.requested else { return true }
                s.waiters.append((s.requested, continuation))
                return false
            }
            if ready { continuation.resume() }
        }
    }

    /// Whether some Service's server could not be opened: call `update` again even when the
    /// Services did not change, to retry.
    public var needsRetry: Bool { state.withLockedValue { !$0.failed.isEmpty } }

    /// Why the servers that could not be opened were not, by Service.
    public var failures: [HTTPListenError] {
        state.withLockedValue { s in s.failed.sorted { ($0.key.namespace, $0.key.name) < ($1.key.namespace, $1.key.name) }.map(\.value) }
    }

    /// The addresses each Service's server listens on, by `namespace/name` (ports picked by
    /// the kernel show here).
    public var listening: [String: [SocketAddress]] {
        state.withLockedValue { s in
            Dictionary(uniqueKeysWithValues: s.open.map { ("\($0.key.namespace)/\($0.key.name)", $0.value.listeners.map(\.localAddress)) })
        }
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            await withTaskCancellationOrGracefulShutdownHandler {
                for await _ in wakes {
                    guard let (services, generation) = state.withLockedValue({ s -> ([HealthCheckedService], Int)? in
                        defer { s.wanted = nil }
                        return s.wanted.map { ($0, s.requested) }
                    }) else { continue }
                    for (id, listener) in await reconcile(services) {
                        group.addTask { [self] in
                            await listener.serve(logger: logger) { [self] _ in answer(id) }
                        }
                    }
                    finished(generation)
                }
            } onCancelOrGracefulShutdown: {
                self.stop()
            }
        }
    }

    /// Opens and closes servers to match `services`; returns the listeners opened.
    private func reconcile(_ services: [HealthCheckedService]) async -> [(ServiceID, HTTPServer)] {
        var wanted: [ServiceID: HealthCheckedService] = [:]
        for s in services { wanted[ServiceID(namespace: s.namespace, name: s.name)] = s }

        let (toClose, toOpen) = state.withLockedValue { s -> ([HTTPServer], [HealthCheckedService]) in
            var close: [HTTPServer] = []
            for (id, open) in s.open where wanted[id]?.port != open.port {
                close += open.listeners
                s.open[id] = nil
            }
            for id in s.failed.keys where wanted[id] == nil { s.failed[id] = nil }
            var toOpen: [HealthCheckedService] = []
            for (id, service) in wanted {
                if s.open[id] != nil {
                    s.open[id]?.localEndpoints = service.localEndpoints
                } else {
                    toOpen.append(service)
                }
            }
            return (close, toOpen.sorted())
        }
        for server in toClose { await server.closeListener() }

        var opened: [(ServiceID, HTTPServer)] = []
        for service in toOpen {
            let id = ServiceID(namespace: service.namespace, name: service.name)
            do {
                let listeners = try await listen(service)
                let accepted = state.withLockedValue { s -> Bool in
                    guard !s.stopped else { return false }
                    s.open[id] = Open(port: service.port, localEndpoints: service.localEndpoints, listeners: listeners)
                    s.failed[id] = nil
                    return true
                }
                guard accepted else {
                    for l in listeners { l.close() }
                    continue
                }
                opened += listeners.map { (id, $0) }
                logger.info("healthCheckNodePort server listening", metadata: [
                    "service": "\(service)", "http.address": "\(listeners.map(\.localAddress))",
                ])
            } catch let error as HTTPListenError {
                let repeated = state.withLockedValue { s -> Bool in
                    defer { s.failed[id] = error }
                    return s.failed[id]?.description == error.description
                }
                // Retried on every update: said once, not once per sync.
                logger.log(level: repeated ? .debug : .warning, "\(error)", metadata: ["service": "\(service)"])
            } catch {
                logger.error("unexpected error opening a healthCheckNodePort server: \(error)", metadata: ["service": "\(service)"])
            }
        }
        let (serving, failed) = state.withLockedValue { ($0.open.count, $0.failed.count) }
        metrics?.healthCheckServers(serving: serving, failed: failed)
        return opened
    }

    /// Listens on every address, or on none: a node that answers on some of its addresses
    /// only would confuse the load balancer's view of it.
    private func listen(_ service: HealthCheckedService) async throws -> [HTTPServer] {
        var listeners: [HTTPServer] = []
        do {
            for address in addresses {
                listeners.append(try await HTTPServer.bind(
                    BindAddress(host: address, port: service.port), server: "healthCheckNodePort server of \(service)",
                    hint: "another process holds the port; the load balancer will see this node as down for the Service"))
            }
        } catch {
            for l in listeners { l.close() }
            throw error
        }
        return listeners
    }

    private func finished(_ generation: Int) {
        let ready = state.withLockedValue { s -> [CheckedContinuation<Void, Never>] in
            s.done = max(s.done, generation)
            let ready = s.waiters.filter { $0.generation <= s.done }.map(\.continuation)
            s.waiters.removeAll { $0.generation <= s.done }
            return ready
        }
        for c in ready { c.resume() }
    }

    /// Closes every server; later updates open none.
    private func stop() {
        let (listeners, waiters) = state.withLockedValue { s -> ([HTTPServer], [CheckedContinuation<Void, Never>]) in
            s.stopped = true
            defer {
                s.open = [:]
                s.waiters = []
            }
            return (s.open.values.flatMap(\.listeners), s.waiters.map(\.continuation))
        }
        for l in listeners { l.close() }
        wake.finish()
        for w in waiters { w.resume() }
    }

    private func answer(_ id: ServiceID) -> HTTPReply {
        // A server being closed may still answer one request; it reports no endpoints.
        let count = state.withLockedValue { $0.open[id]?.localEndpoints } ?? 0
        let healthy = health.isHealthy
        return Self.reply(namespace: id.namespace, name: id.name, localEndpoints: count, proxyHealthy: healthy)
    }

    static func reply(namespace: String, name: String, localEndpoints: Int, proxyHealthy: Bool) -> HTTPReply {
        let body = """
            {
            \t"service": {
            \t\t"namespace": \(jsonString(namespace)),
            \t\t"name": \(jsonString(name))
            \t},
            \t"localEndpoints": \(localEndpoints),
            \t"serviceProxyHealthy": \(proxyHealthy)
            }
            """
        return HTTPReply(localEndpoints > 0 && proxyHealthy ? .ok : .serviceUnavailable,
                         headers: [("Content-Type", "application/json"), ("X-Content-Type-Options", "nosniff"),
                                   ("X-Load-Balancing-Endpoint-Weight", String(localEndpoints))],
                         body: body)
    }
}

/// `text` as a JSON string literal.
func jsonString(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
