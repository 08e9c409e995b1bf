import Agent
import Foundation
import KubeModels
import NetworkTypes
import NFTables
import NIOCore
import Prometheus
import ProxyCore
import SluiceTestSupport
import Testing

/// Polls `condition` every 10 ms for up to `limit`; whether it came true.
func eventually(within limit: Duration = .seconds(10), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return await condition()
}

@Suite("The agent's parts together: the real sync loop behind the HTTP servers")
struct AgentLoopTests {
    @Test("a refusing kernel turns /healthz to 503 after 2 × the sync period; the agent recovers by itself")
    func refusingKernel() async throws {
        let kernel = InMemoryNFTables()
        let backend = try NFTablesBackend(node: nodeA, families: [.v4], kernel: kernel, conntrack: nil)
        let timing = SyncTiming(minSyncPeriod: .milliseconds(10), syncPeriod: .milliseconds(300), retryInitial: .milliseconds(50))
        let health = ProxyHealth(families: [.v4], syncPeriod: timing.syncPeriod)
        let registry = PrometheusCollectorRegistry()
        let metrics = ProxyMetrics(families: [.v4], factory: ProxyMetrics.prometheusFactory(registry: registry))
        let servers = ServiceHealthServers(addresses: [localhost], health: health, metrics: metrics, logger: quiet)
        let observer = AgentObserver(nodeName: nodeA.nodeName, nodeRequired: true, health: health, metrics: metrics,
                                     healthCheckServers: servers)
        let loop = SyncLoop(pipeline: ProxyPipeline(node: nodeA, backend: backend), settings: NodeSettings(nodeA), timing: timing,
                            requires: Set(SourceKind.allCases), observer: observer, logger: quiet)
        let port = try await freePort()
        let lb = service("lb", "10.96.0.20", type: "LoadBalancer", nodePort: 30080, externalLocal: true,
                         healthCheckNodePort: Int32(port))
        let endpoints = slice("lb", [("10.1.0.4", "node-a")])

        try await withRunning({ HealthzServer(address: loopback, health: health, metrics: metrics, logger: quiet, onListening: $0) }) { healthz in
            try await withService(servers) {
                try await withService(loop) {
                    loop.inbox.post(.services([.added(lb), .synced]))
                    loop.inbox.post(.slices([.added(endpoints), .synced]))
                    loop.inbox.post(.nodes([.added(node()), .synced]))
                    #expect(await eventually { (try? await get(address(port), "/"))?.status == 200 },
                            "the healthCheckNodePort server opens after the first sync and finds the local endpoint")
                    #expect(try await get(healthz, "/healthz").status == 200)

                    kernel.refuse(with: Refused())
                    let refusedAt = ContinuousClock.now
                    loop.inbox.post(.slices([.updated(old: endpoints, new: slice("lb", [("10.1.0.4", "node-a"), ("10.1.0.5", "node-b")]))]))
                    #expect(await eventually { (try? await get(healthz, "/healthz"))?.status == 503 })
                    #expect(ContinuousClock.now - refusedAt >= .milliseconds(600), "not before 2 × the sync period")
                    #expect(try await get(healthz, "/livez").status == 503)
                    #expect(try await get(address(port), "/").body == healthBody("lb", 1, false),
                            "the load balancer is told the proxy is behind")

                    kernel.refuse(with: nil)
                    #expect(await eventually { (try? await get(healthz, "/healthz"))?.status == 200 })
                    #expect(kernel.ruleset.nftText.contains("10.1.0.5"))
                    let text = try PrometheusText(parsing: registry.emitToString())
                    #expect((text.value("kubeproxy_sync_proxy_rules_nftables_sync_failures_total", ["ip_family": "IPv4"]) ?? 0) >= 1)
                    #expect((text.value("kubeproxy_proxy_healthz_total", ["code": "503"]) ?? 0) >= 1)
                }
            }
        }
    }
}
