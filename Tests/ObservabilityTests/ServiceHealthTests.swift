import Agent
import Foundation
import KubeModels
import MetricsTestKit
import NetworkTypes
import NIOCore
import NIOPosix
import Prometheus
import ProxyCore
import ServiceLifecycleTestKit
import SluiceTestSupport
import Testing

let localhost = IPAddress("127.0.0.1")!


func address(_ port: UInt16) throws -> SocketAddress { try SocketAddress(ipAddress: "127.0.0.1", port: Int(port)) }

/// Whether a TCP connection to `port` on 127.0.0.1 is refused.
func refused(_ port: UInt16) async throws -> Bool {
    do {
        _ = try await get(address(port), "/")
        return false
    } catch let error as NIOConnectionError {
        return error.connectionErrors.contains { ($0.error as? IOError)?.errnoCode == ECONNREFUSED }
    } catch let error as IOError {
        return error.errnoCode == ECONNREFUSED
    }
}

func healthBody(_ name: String, _ count: Int, _ healthy: Bool) -> String {
    "{\n\t\"service\": {\n\t\t\"namespace\": \"ns\",\n\t\t\"name\": \"\(name)\"\n\t},\n\t\"localEndpoints\": \(count),\n\t\"serviceProxyHealthy\": \(healthy)\n}"
}

@Suite("healthCheckNodePort servers")
struct ServiceHealthTests {
    @Test("servers follow the Services through the pipeline: 200 with a local endpoint, 503 without, closed when the Service goes")
    func followsServices() async throws {
        var loop = try LoopRig(healthChecksOn: [localhost])
        let servers = try #require(loop.observer.healthCheckServers)
        let port = try await freePort()
        let lb = service("lb", "10.96.0.20", type: "LoadBalancer", nodePort: 30080, externalLocal: true,
                         healthCheckNodePort: Int32(port))
        // Two local endpoints (one of them not ready) and one elsewhere.
        var endpoints = slice("lb", [("10.1.0.4", "node-a"), ("10.1.0.5", "node-b"), ("10.1.0.6", "node-a")])
        endpoints.endpoints[2].conditions = EndpointConditions(ready: false)

        try await withService(servers) {
            loop.record(StoreEvent.added(lb))
            loop.record(StoreEvent.added(endpoints))
            await loop.sync()
            #expect(servers.listening == ["ns/lb": [try address(port)]])

            let up = try await get(address(port), "/any/path?x=1")
            #expect(up.statusLine == "HTTP/1.1 200 OK")
            #expect(up.stableHeaders == ["Content-Type: application/json", "X-Content-Type-Options: nosniff",
                                         "X-Load-Balancing-Endpoint-Weight: 1", "Content-Length: \(up.body.utf8.count)",
                                         "Connection: close"])
            #expect(up.body == healthBody("lb", 1, true))

            // The proxy falls behind: the load balancer must stop sending here, whatever the endpoints.
            loop.health.queuedUpdate()
            loop.clock.advance(by: .seconds(60))
            let behind = try await get(address(port), "/")
            #expect(behind.status == 503)
            #expect(behind.body == healthBody("lb", 1, false))

            // The local endpoint leaves; the sync that removes it also brings the proxy back.
            let away = slice("lb", [("10.1.0.5", "node-b")])
            loop.record(StoreEvent.updated(old: endpoints, new: away))
            await loop.sync()
            let none = try await get(address(port), "/")
            #expect(none.statusLine == "HTTP/1.1 503 Service Unavailable")
            #expect(none.header("X-Load-Balancing-Endpoint-Weight") == "0")
            #expect(none.body == healthBody("lb", 0, true))

            loop.record(StoreEvent<Service>.deleted(lb))
            await loop.sync()
            #expect(servers.listening.isEmpty)
            #expect(try await refused(port))
        }
        #expect(try loop.scrape().value("sluice_health_check_node_port_servers", ["state": "serving"]) == 0)
    }

    @Test("a port that cannot be bound is reported, leaves the others serving, and is retried on the next update")
    func bindFailure() async throws {
        let health = ProxyHealth(families: [.v4], syncPeriod: .seconds(30))
        let testMetrics = TestMetrics()
        let metrics = ProxyMetrics(families: [.v4], factory: testMetrics)
        let servers = ServiceHealthServers(addresses: [localhost], health: health, metrics: metrics, logger: quiet)
        let blocker = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let taken = UInt16(try #require(blocker.localAddress?.port))
        let free = try await freePort()
        let wanted = [HealthCheckedService(namespace: "ns", name: "a", port: taken, localEndpoints: 1),
                      HealthCheckedService(namespace: "ns", name: "b", port: free, localEndpoints: 2)]

        try await withService(servers) {
            servers.update(wanted)
            await servers.reconciled()
            #expect(servers.failures.map(\.description) == [
                "could not listen on 127.0.0.1:\(taken) for the healthCheckNodePort server of ns/a: Address already in use (errno 98); "
                    + "another process holds the port; the load balancer will see this node as down for the Service",
            ])
            #expect(servers.needsRetry)
            #expect(servers.listening.keys.sorted() == ["ns/b"])
            #expect(try await get(address(free), "/").header("X-Load-Balancing-Endpoint-Weight") == "2")
            #expect(try testMetrics.expectGauge("sluice_health_check_node_port_servers", [("state", "failed")]).lastValue == 1)

            try await blocker.close()
            servers.update(wanted)
            await servers.reconciled()
            #expect(servers.failures.isEmpty && !servers.needsRetry)
            #expect(servers.listening.keys.sorted() == ["ns/a", "ns/b"])
            #expect(try await get(address(taken), "/").status == 200)
            #expect(try testMetrics.expectGauge("sluice_health_check_node_port_servers", [("state", "serving")]).lastValue == 2)
            #expect(try testMetrics.expectGauge("sluice_health_check_node_port_servers", [("state", "failed")]).lastValue == 0)

            // A new port for a Service: the old listener closes, the new one opens.
            let moved = try await freePort()
            servers.update([HealthCheckedService(namespace: "ns", name: "a", port: moved, localEndpoints: 1)])
            await servers.reconciled()
            #expect(servers.failures.isEmpty)
            #expect(try await refused(taken))
            #expect(try await refused(free))
            #expect(try await get(address(moved), "/").status == 200)
        }
        // After shutdown nothing listens, and updates open nothing.
        #expect(servers.listening.isEmpty)
        let later = try await freePort()
        servers.update([HealthCheckedService(namespace: "ns", name: "c", port: later, localEndpoints: 1)])
        await servers.reconciled()
        #expect(try await refused(later))
    }
}

func port(_ name: String, family: IPFamily = .v4, healthCheck: UInt16? = nil, externalLocal: Bool = false,
          internalLocal: Bool = false, endpoints: [ProxyCore.Endpoint], hasEndpoints: Bool? = nil,
          external: [ProxyCore.Endpoint]? = nil, cluster: [ProxyCore.Endpoint]? = nil, portName: String = "http") -> ServicePortInfo {
    ServicePortInfo(name: ServicePortName(namespace: "ns", name: name, port: portName, protocol: .tcp), family: family,
                    clusterIP: IPAddress(family == .v4 ? "10.96.0.1" : "fd00::1"), port: 80,
                    externalPolicyLocal: externalLocal, internalPolicyLocal: internalLocal, healthCheckNodePort: healthCheck,
                    clusterEndpoints: cluster ?? endpoints, externalEndpoints: external ?? endpoints,
                    hasEndpoints: hasEndpoints ?? !endpoints.isEmpty)
}

func ep(_ address: String, _ port: UInt16 = 8080, local: Bool = true, ready: Bool = true) -> ProxyCore.Endpoint {
    ProxyCore.Endpoint(address: IPAddress(address)!, port: port, isLocal: local, ready: ready, serving: true, terminating: !ready)
}

@Suite("LocalTrafficCensus: health-checked Services and ports without local endpoints")
struct LocalTrafficCensusTests {
    @Test("local ready endpoints counted as kube-proxy counts them: distinct address:port over the Service's ports and families")
    func counts() {
        var census = LocalTrafficCensus()
        census.replace(with: [
            port("lb", healthCheck: 31000, externalLocal: true, endpoints: [ep("10.1.0.4"), ep("10.1.0.5")]),
            port("lb", healthCheck: 31000, externalLocal: true, endpoints: [ep("10.1.0.4", 8443)], portName: "https"),
            port("lb", family: .v6, healthCheck: 31000, externalLocal: true, endpoints: [ep("fd01::4")]),
            // Serving but terminating local endpoints carry traffic as a fallback, but do not make the node healthy.
            port("draining", healthCheck: 31001, externalLocal: true, endpoints: [ep("10.1.0.6", ready: false)]),
            port("elsewhere", healthCheck: 31002, externalLocal: true, endpoints: [], hasEndpoints: true),
            port("plain", endpoints: [ep("10.1.0.7")]),
        ])
        #expect(census.healthCheckedServices == [
            HealthCheckedService(namespace: "ns", name: "draining", port: 31001, localEndpoints: 0),
            HealthCheckedService(namespace: "ns", name: "elsewhere", port: 31002, localEndpoints: 0),
            HealthCheckedService(namespace: "ns", name: "lb", port: 31000, localEndpoints: 4),
        ])
        #expect(census.noLocalEndpoints == [.v4: NoLocalEndpointCounts(internal: 0, external: 1)], "elsewhere only")
    }

    @Test("incremental changes cost the changed ports only and report whether the servers need an update")
    func incremental() {
        var census = LocalTrafficCensus()
        let lb = port("lb", healthCheck: 31000, externalLocal: true, endpoints: [ep("10.1.0.4")])
        let itp = port("itp", internalLocal: true, endpoints: [], hasEndpoints: true)
        var changed = census.replace(with: [lb, itp])
        #expect(changed)
        #expect(census.noLocalEndpoints[.v4] == NoLocalEndpointCounts(internal: 1, external: 0))

        changed = census.apply([(itp.key, itp)])
        #expect(!changed, "same values: nothing for the servers")
        changed = census.apply([(itp.key, nil)])
        #expect(!changed, "itp has no health check")
        #expect(census.noLocalEndpoints[.v4] == NoLocalEndpointCounts(internal: 0, external: 0))

        let lbAway = port("lb", healthCheck: 31000, externalLocal: true, endpoints: [], hasEndpoints: true)
        changed = census.apply([(lb.key, lbAway)])
        #expect(changed)
        #expect(census.healthCheckedServices.map(\.localEndpoints) == [0])
        #expect(census.noLocalEndpoints[.v4] == NoLocalEndpointCounts(internal: 0, external: 1))

        let lbMoved = port("lb", healthCheck: 31005, externalLocal: true, endpoints: [], hasEndpoints: true)
        changed = census.apply([(lb.key, lbMoved)])
        #expect(changed, "a new port")
        #expect(census.healthCheckedServices.map(\.port) == [31005])
        changed = census.apply([(lb.key, nil)])
        #expect(changed)
        #expect(census.healthCheckedServices.isEmpty)
        #expect(census.noLocalEndpoints[.v4] == NoLocalEndpointCounts(internal: 0, external: 0))
    }
}

@Suite("TriggerTimes: EndpointSlice last-change-trigger-time, as kube-proxy takes it")
struct TriggerTimesTests {
    @Test("times after the start are kept per family until taken; a deleted slice drops its Service's; bad times are ignored")
    func rules() {
        var times = TriggerTimes(start: t0)
        times.record(StoreEvent.added(slice("a", [], trigger: t0 + 1)))
        times.record(StoreEvent.added(slice("b", [], trigger: t0 - 1)))  // older than the agent
        var v6 = slice("c", [], trigger: t0 + 2)
        v6.addressType = "IPv6"
        times.record(StoreEvent.added(v6))
        var garbled = slice("d", [])
        garbled.metadata.annotations = [TriggerTimes.annotation: "yesterday"]
        times.record(StoreEvent.added(garbled))
        times.record(StoreEvent.updated(old: slice("e", []), new: slice("e", [], trigger: t0 + 3)))
        times.record(StoreEvent.deleted(slice("e", [])))
        #expect(times.take() == [.v4: [t0 + 1], .v6: [t0 + 2]])
        #expect(times.isEmpty)
        #expect(times.take().isEmpty)
    }
}

@Suite("The Prometheus text parser used by these tests rejects what scrapers reject")
struct PrometheusTextTests {
    @Test("malformed expositions", arguments: [
        "a{b=\"c\"} x\n",
        "# TYPE a counter\n# TYPE a counter\na 1\n",
        "a 1\n# TYPE a counter\n",
        "a 1\nb 1\na 2\n",
        "a 1\na 2\n",
        "a{b=c} 1\n",
        "1a 1\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
        "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n",
    ])
    func rejects(text: String) {
        #expect(throws: PrometheusText.ParseError.self) { try PrometheusText(parsing: text) }
    }

    @Test("a valid exposition")
    func accepts() throws {
        let text = try PrometheusText(parsing: """
            # HELP c A counter\\nwith a newline.
            # TYPE c counter
            c{a="x\\"y",b="1"} 3 1700000000000
            # TYPE h histogram
            h_bucket{le="0.5"} 1
            h_bucket{le="+Inf"} 2
            h_sum 1.5
            h_count 2
            u NaN

            """)
        #expect(text.families["c"]?.help == "A counter\nwith a newline.")
        #expect(text.value("c", ["a": "x\"y", "b": "1"]) == 3)
        #expect(text.families["h"]?.type == "histogram" && text.families["h"]?.samples.count == 4)
        #expect(text.families["u"]?.type == "untyped")
    }
}
