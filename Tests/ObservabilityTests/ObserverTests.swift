import Agent
import Foundation
import KubeModels
import NetworkTypes
import NFTables
import NIOCore
import NIOPosix
import Prometheus
import ProxyCore
import SluiceTestSupport
import Testing

let nodeA = NodeContext(nodeName: "node-a", nodeIPs: [IPAddress("192.168.0.10")!], clusterCIDRs: [IPPrefix("10.1.0.0/16")!])

func service(_ name: String, _ clusterIP: String, type: String = "ClusterIP", nodePort: Int32? = nil,
             externalLocal: Bool = false, internalLocal: Bool = false, healthCheckNodePort: Int32? = nil,
             externalIPs: [String]? = nil) -> Service {
    Service(metadata: ObjectMeta(name: name, namespace: "ns"),
            spec: ServiceSpec(type: type, clusterIP: clusterIP, clusterIPs: [clusterIP],
                              ports: [ServicePort(name: "http", port: 80, targetPort: .int(8080), nodePort: nodePort)],
                              externalIPs: externalIPs, externalTrafficPolicy: externalLocal ? "Local" : nil,
                              internalTrafficPolicy: internalLocal ? "Local" : nil, healthCheckNodePort: healthCheckNodePort),
            status: type == "LoadBalancer"
                ? ServiceStatus(loadBalancer: LoadBalancerStatus(ingress: [LoadBalancerIngress(ip: "203.0.113.5")])) : nil)
}

/// A slice of `service` with endpoints on the given nodes, changed at `trigger`.
func slice(_ service: String, _ endpoints: [(String, String)], trigger: Date? = nil) -> EndpointSlice {
    EndpointSlice(metadata: ObjectMeta(name: "\(service)-1", namespace: "ns", labels: ["kubernetes.io/service-name": service],
                                       annotations: trigger.map { [TriggerTimes.annotation: RFC3339.format($0)] }),
                  endpoints: endpoints.map { KubeModels.Endpoint(addresses: [$0.0], nodeName: $0.1) },
                  ports: [EndpointPort(name: "http", port: 8080)])
}

/// A TCP port nothing listens on now (the kernel's pick, released at once).
func freePort() async throws -> UInt16 {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
    let port = try #require(channel.localAddress?.port)
    try await channel.close()
    return UInt16(port)
}

struct Refused: Error, CustomStringConvertible {
    var description: String { "the kernel refused the batch (injected)" }
}

/// The sync loop reduced to the calls it makes on its observer (`SyncLoop.record`,
/// `recordNode`, `finish`), made by hand: a pipeline over an in-memory kernel, the agent's
/// observer, a clock the test moves, and a registry to scrape.
struct LoopRig {
    let clock = ManualAgentClock(wall: t0)
    let registry = PrometheusCollectorRegistry()
    let kernel = InMemoryNFTables()
    let metrics: ProxyMetrics
    let health: ProxyHealth
    let observer: AgentObserver
    var pipeline: ProxyPipeline

    /// `healthChecksOn`: run healthCheckNodePort servers on these addresses.
    init(healthChecksOn addresses: [IPAddress]? = nil, nodeRequired: Bool = true) throws {
        let metrics = ProxyMetrics(families: [.v4], factory: ProxyMetrics.prometheusFactory(registry: registry), clock: clock)
        let health = ProxyHealth(families: [.v4], syncPeriod: .seconds(30), clock: clock)
        (self.metrics, self.health) = (metrics, health)
        pipeline = ProxyPipeline(node: nodeA, backend: try NFTablesBackend(node: nodeA, families: [.v4], kernel: kernel, conntrack: nil))
        let servers = addresses.map { ServiceHealthServers(addresses: $0, health: health, metrics: metrics, logger: quiet) }
        observer = AgentObserver(nodeName: nodeA.nodeName, nodeRequired: nodeRequired, health: health, metrics: metrics,
                                 healthCheckServers: servers, start: t0 - 60)
    }

    mutating func post(_ input: AgentInput) {
        switch input {
        case .services(let events): for e in events where !e.isSynced { pipeline.record(e) }
        case .slices(let events): for e in events where !e.isSynced { pipeline.record(e) }
        case .nodes(let events):
            for e in events {
                switch e {
                case .added(let n), .updated(_, let n): observer.nodeChanged(n)
                case .deleted: observer.nodeChanged(nil)
                case .synced: break
                }
            }
        }
        observer.recorded(input, pendingServices: pipeline.tracker.pendingServiceCount,
                          pendingSlices: pipeline.tracker.pendingSliceCount)
        if pipeline.hasWork { observer.queued(at: .now) }
    }

    mutating func record(_ event: StoreEvent<Service>) { post(.services([event])) }
    mutating func record(_ event: StoreEvent<EndpointSlice>) { post(.slices([event])) }

    mutating func sync() async {
        observer.synced(pipeline.sync(), ports: pipeline.tracker.ports)
        await observer.healthCheckServers?.reconciled()
    }

    mutating func repair() async {
        observer.synced(pipeline.repair(), ports: pipeline.tracker.ports)
        await observer.healthCheckServers?.reconciled()
    }

    /// What `/metrics` would serve now, parsed strictly.
    func scrape() throws -> PrometheusText { try PrometheusText(parsing: registry.emitToString()) }
}

extension StoreEvent {
    var isSynced: Bool {
        if case .synced = self { return true }
        return false
    }
}

@Suite("The sync loop's observers, driven by a real pipeline over an in-memory kernel")
struct ObserverTests {
    @Test("/metrics: every kube-proxy and Sluice metric, with kube-proxy's types, labels and buckets, and the values syncs leave")
    func metricsEndToEnd() async throws {
        var loop = try LoopRig()
        let services = [
            service("web", "10.96.0.10"),
            service("lb", "10.96.0.20", type: "LoadBalancer", nodePort: 30080, externalLocal: true, healthCheckNodePort: 32000),
            service("itp", "10.96.0.30", internalLocal: true),
            service("odd", "10.96.0.40", externalIPs: ["not-an-ip"]),
        ]
        for s in services { loop.record(StoreEvent.added(s)) }
        #expect(try loop.scrape().value("kubeproxy_sync_proxy_rules_service_changes_pending") == 4)
        let slices = [
            slice("web", [("10.1.0.2", "node-b"), ("10.1.0.3", "node-c")], trigger: t0 - 2),
            slice("lb", [("10.1.0.4", "node-a"), ("10.1.0.5", "node-b")], trigger: t0 - 3),
            slice("itp", [("10.1.0.6", "node-b")], trigger: t0 - 120),  // before the agent started: not measured
        ]
        for s in slices { loop.record(StoreEvent.added(s)) }
        var text = try loop.scrape()
        #expect(text.value("kubeproxy_sync_proxy_rules_endpoint_changes_pending") == 3)
        #expect(text.value("kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds", ["ip_family": "IPv4"]) == 1_700_000_000)

        await loop.sync()  // full
        loop.clock.advance(by: .seconds(1))
        let moved = slice("lb", [("10.1.0.7", "node-b"), ("10.1.0.5", "node-b")], trigger: t0 + 0.5)
        loop.record(StoreEvent.updated(old: slices[1], new: moved))
        await loop.sync()  // partial: lb has no local endpoint now

        loop.kernel.refuse(with: Refused())
        loop.record(StoreEvent<Service>.deleted(services[0]))
        await loop.sync()  // refused
        loop.kernel.refuse(with: nil)
        await loop.sync()  // full, recovers
        loop.kernel.tamper { r in
            for i in r.sets.indices where r.sets[i].name == "backends" { r.sets[i].elements = [] }
        }
        await loop.repair()  // drift repaired
        loop.metrics.conntrackReconciled(family: .v4, duration: .milliseconds(3), deleted: 2)

        text = try loop.scrape()
        let expected: [(String, String, [String])] = [
            ("kubeproxy_sync_proxy_rules_duration_seconds", "histogram", ["ip_family"]),
            ("kubeproxy_sync_full_proxy_rules_duration_seconds", "histogram", ["ip_family"]),
            ("kubeproxy_sync_partial_proxy_rules_duration_seconds", "histogram", ["ip_family"]),
            ("kubeproxy_network_programming_duration_seconds", "histogram", ["ip_family"]),
            ("kubeproxy_sync_proxy_rules_last_timestamp_seconds", "gauge", ["ip_family"]),
            ("kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds", "gauge", ["ip_family"]),
            ("kubeproxy_sync_proxy_rules_endpoint_changes_pending", "gauge", []),
            ("kubeproxy_sync_proxy_rules_endpoint_changes_total", "counter", []),
            ("kubeproxy_sync_proxy_rules_service_changes_pending", "gauge", []),
            ("kubeproxy_sync_proxy_rules_service_changes_total", "counter", []),
            ("kubeproxy_sync_proxy_rules_no_local_endpoints_total", "gauge", ["ip_family", "traffic_policy"]),
            ("kubeproxy_sync_proxy_rules_nftables_sync_failures_total", "counter", ["ip_family"]),
            ("kubeproxy_proxy_healthz_total", "counter", ["code"]),
            ("kubeproxy_proxy_livez_total", "counter", ["code"]),
            ("kubeproxy_conntrack_reconciler_sync_duration_seconds", "histogram", ["ip_family"]),
            ("kubeproxy_conntrack_reconciler_deleted_entries_total", "counter", ["ip_family"]),
            ("sluice_transaction_commands", "histogram", ["kind"]),
            ("sluice_kernel_errors_total", "counter", ["kind"]),
            ("sluice_drift_repairs_total", "counter", []),
            ("sluice_drift_check_duration_seconds", "histogram", []),
            ("sluice_skipped_fields_total", "counter", ["field", "kind"]),
            ("sluice_service_ports", "gauge", []),
            ("sluice_health_check_node_port_servers", "gauge", ["state"]),
        ]
        for (name, type, labels) in expected {
            let family = try #require(text.families[name], "\(name) missing")
            #expect(family.type == type, "\(name)")
            #expect(!family.samples.isEmpty, "\(name) has no samples")
            for sample in family.samples {
                #expect(Set(sample.labels.keys).subtracting(["le"]) == Set(labels), "\(sample.name) \(sample.labels)")
            }
        }
        #expect(Set(text.families.keys) == Set(expected.map(\.0)), "no other metric")

        let v4 = ["ip_family": "IPv4"]
        // Five syncs: full, partial, refused partial, full, repair; all timed, as kube-proxy times failures too.
        #expect(text.value("kubeproxy_sync_proxy_rules_duration_seconds_count", v4) == 5)
        #expect(text.value("kubeproxy_sync_full_proxy_rules_duration_seconds_count", v4) == 2)
        #expect(text.value("kubeproxy_sync_partial_proxy_rules_duration_seconds_count", v4) == 2)
        #expect(text.value("sluice_drift_check_duration_seconds_count") == 1)
        #expect(text.value("kubeproxy_sync_proxy_rules_nftables_sync_failures_total", v4) == 1)
        #expect(text.value("sluice_kernel_errors_total", ["kind": "partial"]) == 1)
        #expect(text.value("sluice_kernel_errors_total", ["kind": "full"]) == 0)
        #expect(text.value("sluice_drift_repairs_total") == 1)
        #expect(text.value("sluice_transaction_commands_count", ["kind": "repair"]) == 1)
        #expect(text.value("sluice_transaction_commands_count", ["kind": "full"]) == 2)
        #expect(text.value("kubeproxy_sync_proxy_rules_last_timestamp_seconds", v4) == 1_700_000_001)
        #expect(text.value("kubeproxy_sync_proxy_rules_service_changes_total") == 5)
        #expect(text.value("kubeproxy_sync_proxy_rules_endpoint_changes_total") == 4)
        #expect(text.value("kubeproxy_sync_proxy_rules_service_changes_pending") == 0)
        #expect(text.value("kubeproxy_sync_proxy_rules_endpoint_changes_pending") == 0)
        #expect(text.value("sluice_service_ports") == 3, "web is gone")
        // itp: iTP Local, endpoints only elsewhere; lb: eTP Local, its local endpoint moved away.
        #expect(text.value("kubeproxy_sync_proxy_rules_no_local_endpoints_total", ["ip_family": "IPv4", "traffic_policy": "internal"]) == 1)
        #expect(text.value("kubeproxy_sync_proxy_rules_no_local_endpoints_total", ["ip_family": "IPv4", "traffic_policy": "external"]) == 1)
        // web (2 s before its sync), lb (3 s), lb again (0.5 s before the partial sync at t0 + 1); itp's is too old.
        #expect(text.value("kubeproxy_network_programming_duration_seconds_count", v4) == 3)
        #expect(text.value("kubeproxy_network_programming_duration_seconds_sum", v4) == 5.5)
        #expect(text.value("kubeproxy_network_programming_duration_seconds_bucket", ["ip_family": "IPv4", "le": "0.5"]) == 1)
        #expect(text.value("kubeproxy_network_programming_duration_seconds_bucket", ["ip_family": "IPv4", "le": "3.0"]) == 3)
        // The odd Service's bad externalIP, reported when the Service was computed (once: nothing changed it since).
        #expect(text.value("sluice_skipped_fields_total", ["kind": "Service", "field": "spec.externalIPs[]"]) == 1)
        #expect(text.value("kubeproxy_conntrack_reconciler_deleted_entries_total", v4) == 2)
        #expect(text.value("kubeproxy_conntrack_reconciler_sync_duration_seconds_sum", v4) == 0.003)
        #expect(text.value("kubeproxy_proxy_healthz_total", ["code": "200"]) == 0)

        // kube-proxy's buckets.
        #expect(bounds(text, "kubeproxy_sync_proxy_rules_duration_seconds")
                == [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192, 16.384, .infinity])
        let programming = bounds(text, "kubeproxy_network_programming_duration_seconds")
        #expect(programming.count == 82)
        #expect(Array(programming.prefix(5)) == [0, 0.25, 0.5, 1, 2])
        #expect(Array(programming.suffix(9)) == [115, 120, 150, 180, 210, 240, 270, 300, .infinity])
        #expect(bounds(text, "kubeproxy_conntrack_reconciler_sync_duration_seconds") == bounds(text, "kubeproxy_sync_proxy_rules_duration_seconds"))
        #expect(loop.health.isHealthy)

        // The same registry over HTTP, as Prometheus scrapes it, and kube-proxy's other answers.
        let (registry, mode) = (loop.registry, loop.pipeline.backend.mode)
        try await withRunning({ MetricsServer(address: loopback, registry: registry, mode: mode, logger: quiet, onListening: $0) }) { address in
            let scraped = try await get(address, "/metrics")
            #expect(scraped.statusLine == "HTTP/1.1 200 OK")
            #expect(scraped.stableHeaders == ["Content-Type: text/plain; version=0.0.4; charset=utf-8",
                                              "Content-Length: \(scraped.body.utf8.count)", "Connection: close"])
            let parsed = try PrometheusText(parsing: scraped.body)
            #expect(Set(parsed.families.keys) == Set(expected.map(\.0)))
            #expect(parsed.value("sluice_drift_repairs_total") == 1)

            let proxyMode = try await get(address, "/proxyMode")
            #expect(proxyMode.statusLine == "HTTP/1.1 200 OK")
            #expect(proxyMode.stableHeaders == ["Content-Type: text/plain; charset=utf-8", "X-Content-Type-Options: nosniff",
                                           "Content-Length: 8", "Connection: close"])
            #expect(proxyMode.body == "nftables")

            let up = try await get(address, "/healthz")
            #expect(up.status == 200 && up.body == "ok")
            #expect(try await get(address, "/debug/pprof").status == 404)
        }
    }

    @Test("a failed sync keeps the trigger times: the sync that lands the change reports its whole latency")
    func triggerTimesSurviveFailure() async throws {
        var loop = try LoopRig()
        loop.record(StoreEvent.added(service("web", "10.96.0.10")))
        loop.record(StoreEvent.added(slice("web", [("10.1.0.2", "node-b")], trigger: t0 - 1)))
        loop.kernel.refuse(with: Refused())
        await loop.sync()
        loop.clock.advance(by: .seconds(70))
        #expect(!loop.health.isHealthy, "queued 70 s ago, nothing synced since")
        loop.kernel.refuse(with: nil)
        await loop.sync()
        #expect(loop.health.isHealthy)
        let text = try loop.scrape()
        #expect(text.value("kubeproxy_network_programming_duration_seconds_count", ["ip_family": "IPv4"]) == 1)
        #expect(text.value("kubeproxy_network_programming_duration_seconds_sum", ["ip_family": "IPv4"]) == 71)
    }

    @Test("a repair does not answer a queued update: only the sync that takes it does")
    func repairKeepsQueue() async throws {
        var loop = try LoopRig()
        loop.record(StoreEvent.added(service("web", "10.96.0.10")))
        await loop.sync()
        loop.record(StoreEvent.added(slice("web", [("10.1.0.2", "node-b")])))
        loop.clock.advance(by: .seconds(45))
        await loop.repair()
        loop.clock.advance(by: .seconds(15))
        #expect(!loop.health.isHealthy, "the slice has waited 60 s")
        await loop.sync()
        #expect(loop.health.isHealthy)
    }

    @Test("a first list without this node's Node, then the Node, then its deletion")
    func nodeEvents() throws {
        var loop = try LoopRig()
        #expect(loop.health.status().nodeEligible, "eligible until the Nodes are listed")
        loop.post(.nodes([.synced]))
        #expect(!loop.health.status().nodeEligible, "the first list came back without this node")
        loop.post(.nodes([.added(node())]))
        #expect(loop.health.status().nodeEligible)
        loop.post(.nodes([.updated(old: node(), new: node(deleting: true))]))
        #expect(!loop.health.status().nodeEligible)
        loop.post(.nodes([.deleted(node(deleting: true))]))
        #expect(!loop.health.status().nodeEligible)
    }

    @Test("manifest files need no Node, but one given there counts")
    func nodeFromManifests() throws {
        var loop = try LoopRig(nodeRequired: false)
        loop.post(.nodes([.synced]))
        #expect(loop.health.status().nodeEligible)
        loop.post(.nodes([.added(node(taints: [Taint(key: ProxyHealth.toBeDeletedTaint, effect: "NoSchedule")]))]))
        #expect(!loop.health.status().nodeEligible)
        loop.post(.nodes([.deleted(node())]))
        #expect(loop.health.status().nodeEligible)
    }
}

/// A histogram's bucket bounds (of its first label set), ascending.
func bounds(_ text: PrometheusText, _ name: String) -> [Double] {
    let buckets = text.families[name]?.samples.filter { $0.name == name + "_bucket" } ?? []
    let first = buckets.first.map { $0.labels.filter { $0.key != "le" } }
    return buckets.filter { $0.labels.filter { $0.key != "le" } == first }
        .compactMap { $0.labels["le"] == "+Inf" ? .infinity : Double($0.labels["le"] ?? "") }.sorted()
}
