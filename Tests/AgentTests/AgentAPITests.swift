import Agent
import Foundation
import KubeAPI
import KubeAPITesting
import KubeModels
import Logging
import NFTables
import Netfilter
import NetworkTypes
import Proxier
import ProxyCore
import SluiceTestSupport
import Synchronization
import Testing

/// After every sync, compares what the kernel holds with what a full sync of the loop's
/// desired state would hold: an incremental sync that left anything wrong shows here.
final class KernelChecker: SyncObserver {
    private let connection: Mutex<NFTablesConnection>
    private let options: ProxierOptions
    private let state = Mutex<(syncs: Int, wrong: [String])>((0, []))

    init(_ connection: consuming sending NFTablesConnection, node: NodeContext) {
        self.connection = Mutex(connection)
        options = ProxierOptions(node)
    }

    func synced(_ outcome: SyncOutcome, ports: [ServicePortKey: ServicePortInfo]) {
        guard outcome.succeeded else { return }
        let ids: Set<TableID> = [TableID(.ip, Layout.tableName), TableID(.ip6, Layout.tableName)]
        let options = self.options
        let problem: String? = connection.withLock { conn in
            do {
                let live = try conn.ruleset(tables: ids)
                let sorted = ports.values.sorted { $0.key < $1.key }
                let want = NFTProxier.desiredRuleset(sorted, families: [.v4, .v6], options: options, live: live)
                let diff = Ruleset.diff(from: live, to: want)
                // Class chains no element refers to any more are deleted by the next transaction
                // (DESIGN.md: never in the one that stops referring to them).
                let pendingCleanup = diff.commands.allSatisfy { c in
                    switch c {
                    case .flushChain, .deleteChain: true
                    default: false
                    }
                }
                return pendingCleanup ? nil : "after a \(outcome.kind) sync: \(diff.nftText)"
            } catch {
                return "readback failed: \(error)"
            }
        }
        state.withLock { s in
            s.syncs += 1
            if let problem { s.wrong.append(problem) }
        }
    }

    var syncs: Int { state.withLock { $0.syncs } }
    var wrong: [String] { state.withLock { $0.wrong } }
}

func apiService(_ name: String, _ ip: String) -> Service {
    Service(metadata: ObjectMeta(name: name, namespace: "default"),
            spec: ServiceSpec(type: "ClusterIP", clusterIP: ip, clusterIPs: [ip],
                              ports: [ServicePort(name: "http", port: 80, targetPort: .int(8080))]))
}

func apiSlice(_ service: String, _ addresses: [String]) -> EndpointSlice {
    EndpointSlice(metadata: ObjectMeta(name: "\(service)-abc", namespace: "default", labels: ["kubernetes.io/service-name": service]),
                  endpoints: addresses.map { Endpoint(addresses: [$0], conditions: EndpointConditions(ready: true)) },
                  ports: [EndpointPort(name: "http", port: 8080)])
}

@Suite("sluice agent against the API server (simulated, over TLS), on packets", .serialized)
struct AgentAPITests {
    @Test("""
        Services and EndpointSlices created, scaled, changed and deleted are followed by the kernel and by packets; \
        a 410 mid-watch, a dropped watch, 429s with Retry-After and a token rotation are survived; the API server \
        away for 10 s changes nothing; the kernel is right after every sync
        """)
    func followsTheAPIServer() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-agent-api-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let tokenFile = dir.appendingPathComponent("token").path
        try "first-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        let user = "system:serviceaccount:kube-system:sluice"
        let sim = try await KubeAPISimulator.start(SimulatorOptions(tokens: ["first-token": user]))
        let rig = try ProxyRig()
        defer { rig.delete() }

        try sim.create(apiService("web", "10.96.0.10"))
        try sim.create(apiSlice("web", ["10.1.0.2"]))
        let node = NodeContext(nodeName: "node1", clusterCIDRs: [IPPrefix("10.1.0.0/16")!])
        let (backend, checker) = try rig.node.enter {
            (try NFTablesBackend(node: node), KernelChecker(try NFTablesConnection(), node: node))
        }
        var logger = Logger(label: "agent-api-test")
        logger.logLevel = .critical
        let loop = SyncLoop(pipeline: ProxyPipeline(node: node, backend: backend), settings: NodeSettings(node),
                            timing: SyncTiming(minSyncPeriod: .milliseconds(20), syncPeriod: .seconds(1), retryInitial: .milliseconds(100)),
                            requires: Set(SourceKind.allCases), observer: checker, logger: logger)
        var config = sim.clusterConfig()
        config.credentials = Credentials(.tokenFile(tokenFile), tokenFileMaxAge: .milliseconds(100))
        let client = try KubeClient(config: config, logger: logger)
        let timing = ReflectorTiming(watchTimeout: 5...10, watchGrace: .seconds(5),
                                     backoff: Backoff(initial: .milliseconds(20), maximum: .milliseconds(300), jitter: 0.5,
                                                      resetAfter: .seconds(1)),
                                     forbiddenRetry: .milliseconds(150), maxRetryAfter: .seconds(2))
        let source = APISource(client: client, nodeName: "node1", proxyName: nil, inbox: loop.inbox, timing: timing, logger: logger)

        /// Where 20 connections to the ClusterIP land, within `limit` seconds.
        func lands(_ expected: Set<String>, within limit: Double = 3) -> Bool {
            waitFor(limit) {
                let seen = Set(((try? rig.connect(from: rig.client, to: "10.96.0.10", port: 80, count: 20, timeout: 0.5)) ?? [])
                    .map { String($0.prefix { $0 != " " }) })
                return seen == expected
            } != nil
        }

        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await loop.run() }
            group.addTask { try await source.run() }
            defer { group.cancelAll() }

            #expect(lands(["10.1.0.2:8080"], within: 10), "created")
            _ = try sim.update(apiSlice("web", ["10.1.0.2", "10.1.0.3"]))
            #expect(lands(["10.1.0.2:8080", "10.1.0.3:8080"]), "scaled up")

            sim.expireWatches()
            _ = try sim.update(apiSlice("web", ["10.1.0.3"]))
            #expect(lands(["10.1.0.3:8080"]), "after a 410 mid-watch")

            sim.dropNextWatches(afterEvents: 0, count: 3)
            sim.endOpenWatches()
            _ = try sim.update(apiSlice("web", ["10.1.0.3", "10.1.0.4"]))
            #expect(lands(["10.1.0.3:8080", "10.1.0.4:8080"]), "after dropped watches")

            sim.failNextRequests(3, status: 429, retryAfterSeconds: 1)
            sim.expireWatches()
            _ = try sim.update(apiSlice("web", ["10.1.0.4"]))
            #expect(lands(["10.1.0.4:8080"], within: 6), "after 429s with Retry-After")
            #expect(sim.requests.contains { $0.status == 429 })

            // The token rotates: the old one is refused before the new one is on disk.
            sim.setTokens(["second-token": user])
            sim.expireWatches()
            #expect(waitFor(5) { sim.requests.contains { $0.status == 401 } } != nil)
            try "second-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
            _ = try sim.update(apiSlice("web", ["10.1.0.4", "10.1.0.5"]))
            #expect(lands(["10.1.0.4:8080", "10.1.0.5:8080"], within: 6), "after the token rotated")

            // The API server goes away for 10 s: every request fails, open watches end. (First a
            // periodic check, which deletes class chains left unused by the last change.)
            try await Task.sleep(for: .milliseconds(1500))
            let before = try rig.node.exec(["nft", "list", "table", "ip", "sluice"]).stdout
            let syncsBefore = checker.syncs
            sim.failNextRequests(1_000_000, status: 0)
            sim.endOpenWatches()
            try await Task.sleep(for: .seconds(10))
            #expect(try rig.node.exec(["nft", "list", "table", "ip", "sluice"]).stdout == before, "nothing changed while away")
            #expect(checker.syncs > syncsBefore, "the periodic check kept running")
            #expect(lands(["10.1.0.4:8080", "10.1.0.5:8080"], within: 1), "still served while away")
            sim.clearFailures()
            _ = try sim.update(apiSlice("web", ["10.1.0.6"]))
            #expect(lands(["10.1.0.6:8080"], within: 6), "followed again once back")

            try sim.delete(Service.self, namespace: "default", name: "web")
            #expect(lands(["REFUSED"]) || lands(["TIMEOUT"]), "the deleted Service's address no longer forwards")
        }
        #expect(checker.wrong == [], "the kernel held exactly the desired state after every sync")
        #expect(checker.syncs > 6)
        try await client.shutdown()
        try await sim.shutdown()
    }
}
