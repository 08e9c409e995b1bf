import Foundation
import KubeAPI
import KubeAPITesting
import KubeModels
import Logging
import Synchronization
import Testing

/// Collects a store subscription's events in the background.
final class ChangeRecorder<Object: KubeResource>: Sendable {
    final class Log: Sendable {
        let events = Mutex<[StoreEvent<Object>]>([])
    }
    private let log = Log()
    private let task: Task<Void, Never>

    init(_ store: ObjectStore<Object>) {
        let changes = store.changes()
        let log = self.log
        task = Task {
            for await batch in changes {
                log.events.withLock { $0.append(contentsOf: batch) }
            }
        }
    }

    var all: [StoreEvent<Object>] { log.events.withLock { $0 } }
    func clear() { log.events.withLock { $0 = [] } }
    func stop() { task.cancel() }

    var deleted: Set<ObjectKey> {
        Set(all.compactMap { if case .deleted(let o) = $0 { o.key } else { nil } })
    }
    var synced: Int { all.filter { if case .synced = $0 { true } else { false } }.count }
}

@Suite(.timeLimit(.minutes(1))) struct ReflectorBehaviour {
    static func populate(_ sim: KubeAPISimulator, services n: Int) throws {
        for i in 0..<n {
            try sim.create(service("ns\(i % 7)", "svc-\(i)", ip: "10.0.\(i / 250).\(i % 250)"))
        }
    }

    @Test func pagedListThenWatchWithBookmarks() async throws {
        try await withSimulator { sim in
            try Self.populate(sim, services: 1234)
            try sim.create(service("x", "headless", ip: "None"))
            try sim.create(service("x", "not-ours", labels: [ProxyLabel.serviceProxyName: "other"]))
            var options = ReflectorOptions<Service>.services(timing: fastTiming)
            options.pageSize = 100
            try await withReflector(sim, options: options) { store, _ in
                let recorder = ChangeRecorder(store)
                defer { recorder.stop() }
                try await expectConverges(store, sim, options, "initial list")
                #expect(store.count == 1234)
                #expect(store.hasSynced)
                let reqs = sim.requests
                let lists = reqs.filter { !$0.isWatch }
                #expect(lists.count == 13)
                #expect(lists.allSatisfy { $0.query["limit"] == "100" && $0.query["labelSelector"] == "!service.kubernetes.io/service-proxy-name" && $0.query["fieldSelector"] == "spec.clusterIP!=None" })
                #expect(lists.dropFirst().allSatisfy { $0.query["continue"] != nil })
                try await eventually("watch started") { sim.requests.contains(where: \.isWatch) }
                let firstWatch = sim.requests.first { $0.isWatch }
                let watch = try #require(firstWatch)
                #expect(watch.query["allowWatchBookmarks"] == "true")
                #expect(watch.query["resourceVersion"] == store.resourceVersion)
                #expect((5...10).contains(Int(watch.query["timeoutSeconds"] ?? "") ?? 0))
                try await eventually("the watch is registered") { sim.openWatchCount == 1 }

                // Changes flow through the watch.
                try sim.create(service("new", "a"))
                var changed = service("ns1", "svc-1", port: 8080)
                changed.metadata = try #require(sim.object(Service.self, namespace: "ns1", name: "svc-1")).metadata
                try sim.update(changed)
                try sim.delete(Service.self, namespace: "ns2", name: "svc-2")
                // A Service that gains the proxy-name label leaves our view.
                var relabelled = try #require(sim.object(Service.self, namespace: "ns3", name: "svc-3"))
                relabelled.metadata.labels = [ProxyLabel.serviceProxyName: "other"]
                try sim.update(relabelled)
                try await expectConverges(store, sim, options, "after watch events")
                #expect(store.count == 1234 - 1)
                sim.sendBookmarks()
                try await eventually("bookmark recorded") { store.resourceVersion == String(sim.resourceVersion) }
                try await eventually("changes delivered") { recorder.deleted == [ObjectKey(namespace: "ns2", name: "svc-2"), ObjectKey(namespace: "ns3", name: "svc-3")] }
                #expect(recorder.synced == 1)
                #expect(sim.requests.filter { !$0.isWatch }.count == 13, "no relist")
            }
        }
    }

    @Test func resumesAfterDroppedConnectionsAndServerTimeouts() async throws {
        try await withSimulator { sim in
            try Self.populate(sim, services: 50)
            var timing = fastTiming
            timing.watchTimeout = 1...1
            let options = ReflectorOptions<Service>.services(timing: timing)
            // The first three watches break after three events each.
            sim.dropNextWatches(afterEvents: 3, count: 3)
            try await withReflector(sim, options: options) { store, _ in
                try await expectConverges(store, sim, options, "initial list")
                try await eventually("watch open") { sim.openWatchCount == 1 }
                for i in 0..<40 {
                    try sim.create(service("late", "s\(i)"))
                    if i % 5 == 0 { try sim.delete(Service.self, namespace: "ns\(i % 7)", name: "svc-\(i)") }
                    try await Task.sleep(for: .milliseconds(5))
                    // Full-set comparison after each write that may have hit a dropped stream.
                    if i % 8 == 7 { try await expectConverges(store, sim, options, "after write \(i)") }
                }
                try await expectConverges(store, sim, options, "after drops")
                // Outlive a server-side timeout (1 s): the watch resumes, it does not relist.
                try await Task.sleep(for: .milliseconds(1300))
                try sim.create(service("after", "timeout"))
                try await expectConverges(store, sim, options, "after a server timeout")
                let reqs = sim.requests
                #expect(reqs.filter { !$0.isWatch }.count == 1, "resumed every time without a relist")
                let watches = reqs.filter(\.isWatch)
                #expect(watches.count >= 5, "3 dropped, then a server timeout, then the current one")
                // Each resumption starts from a version the client had seen, never from scratch.
                #expect(watches.allSatisfy { ($0.query["resourceVersion"] ?? "").isEmpty == false })
            }
        }
    }

    @Test(arguments: [
        WatchStreamShape(splitAt: [1, 2, 17, 40, 41]),
        WatchStreamShape(eventsPerChunk: 7),
        WatchStreamShape(splitAt: [3, 100], eventsPerChunk: 3),
        WatchStreamShape(delayPerChunk: .milliseconds(3)),
    ])
    func decodesEventsSplitOrPackedInChunks(shape: WatchStreamShape) async throws {
        try await withSimulator { sim in
            sim.setWatchStreamShape(shape)
            let options = ReflectorOptions<EndpointSlice>.endpointSlices(timing: fastTiming)
            try await withReflector(sim, options: options) { store, _ in
                try await expectConverges(store, sim, options, "empty")
                try await eventually("watch open") { sim.openWatchCount == 1 }
                for i in 0..<60 {
                    try sim.create(slice("ns", "web-\(i)", service: "web", ips: ["10.1.0.\(i)", "10.1.1.\(i)"]))
                }
                try sim.create(slice("ns", "headless-1", service: "h", ips: ["10.2.0.1"], labels: [ProxyLabel.headless: ""]))
                for i in stride(from: 0, to: 60, by: 3) { try sim.delete(EndpointSlice.self, namespace: "ns", name: "web-\(i)") }
                try await expectConverges(store, sim, options, "after chunked events")
                #expect(store.count == 40)
                #expect(sim.requests.filter { !$0.isWatch }.count == 1)
            }
        }
    }

    @Test func honoursRetryAfterOn429() async throws {
        try await withSimulator { sim in
            try Self.populate(sim, services: 10)
            sim.failNextRequests(2, status: 429, retryAfterSeconds: 1, matching: .list())
            let options = ReflectorOptions<Service>.services(timing: fastTiming)
            try await withReflector(sim, options: options) { store, _ in
                try await expectConverges(store, sim, options, "after 429s", timeout: .seconds(10))
                let lists = sim.requests.filter { !$0.isWatch }
                #expect(lists.map(\.status) == [429, 429, 200])
                // Retry-After: 1 was honoured both times (the backoff alone would be ~20 ms).
                #expect(lists[1].at - lists[0].at >= .milliseconds(950))
                #expect(lists[2].at - lists[1].at >= .milliseconds(950))
                sim.failNextRequests(1, status: 503, retryAfterSeconds: nil, matching: .watch())
                sim.expireWatches()
                try sim.create(service("z", "after-503"))
                try await expectConverges(store, sim, options, "after a 503 on watch")
            }
        }
    }

    @Test func relistsOn410ErrorEventAndProducesDeletions() async throws {
        try await withSimulator { sim in
            try Self.populate(sim, services: 30)
            let options = ReflectorOptions<Service>.services(timing: fastTiming)
            try await withReflector(sim, options: options) { store, _ in
                let recorder = ChangeRecorder(store)
                defer { recorder.stop() }
                try await expectConverges(store, sim, options, "initial")
                try await eventually("watch open") { sim.openWatchCount == 1 }
                // The watch falls behind: these changes never reach it...
                sim.holdWatchEvents()
                var gone: Set<ObjectKey> = []
                for i in 0..<8 {
                    try sim.delete(Service.self, namespace: "ns\(i % 7)", name: "svc-\(i)")
                    gone.insert(ObjectKey(namespace: "ns\(i % 7)", name: "svc-\(i)"))
                }
                var moved = try #require(sim.object(Service.self, namespace: "ns10", name: "svc-10") ?? sim.object(Service.self, namespace: "ns3", name: "svc-10"))
                moved.spec.clusterIP = "10.9.9.9"
                try sim.update(moved)
                try sim.create(service("fresh", "one"))
                #expect(store.count == 30)
                // ...and then the server says 410 Expired in the middle of the stream.
                recorder.clear()
                sim.expireWatches()
                try await expectConverges(store, sim, options, "after 410 relist")
                try await eventually("deletions delivered") { recorder.deleted == gone }
                let lists = sim.requests.filter { !$0.isWatch }
                #expect(lists.count == 2, "one relist")
            }
        }
    }

    @Test func relistsOn410HTTPStatusWhenResuming() async throws {
        try await withSimulator(SimulatorOptions(historyLimit: 3, expiredWatch: .httpStatus)) { sim in
            try Self.populate(sim, services: 5)
            let options = ReflectorOptions<Service>.services(timing: fastTiming)
            // The first watch breaks after one event; the writes below go past the history
            // limit before the client resumes: its resourceVersion is compacted, HTTP 410.
            sim.dropNextWatches(afterEvents: 1)
            try await withReflector(sim, options: options) { store, _ in
                try await expectConverges(store, sim, options, "initial")
                try await eventually("watch open") { sim.openWatchCount == 1 }
                sim.holdWatchEvents()
                try sim.delete(Service.self, namespace: "ns0", name: "svc-0")
                for i in 0..<6 { try sim.create(service("more", "m\(i)")) }
                sim.releaseWatchEvents()
                try await expectConverges(store, sim, options, "after HTTP 410")
                let reqs = sim.requests
                #expect(reqs.contains { $0.isWatch && $0.status == 410 })
                #expect(reqs.filter { !$0.isWatch }.count == 2)
            }
        }
    }

    @Test func restartsListWhenContinueTokenExpires() async throws {
        try await withSimulator { sim in
            try Self.populate(sim, services: 250)
            var options = ReflectorOptions<Service>.services(timing: fastTiming)
            options.pageSize = 100
            sim.expireNextContinueToken()
            try await withReflector(sim, options: options) { store, _ in
                try await expectConverges(store, sim, options, "list restarted")
                let lists = sim.requests.filter { !$0.isWatch }
                #expect(lists.map(\.status) == [200, 410, 200, 200, 200])
                #expect(lists[2].query["continue"] == nil, "restarted from the first page")
            }
        }
    }

    @Test func rereadsRotatedTokenAfter401() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kubeapi-token-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let tokenFile = dir.appendingPathComponent("token").path
        try "first-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        try await withSimulator(SimulatorOptions(tokens: ["first-token": "system:serviceaccount:kube-system:sluice"])) { sim in
            try Self.populate(sim, services: 5)
            let options = ReflectorOptions<Service>.services(timing: fastTiming)
            try await withReflector(sim, credentials: .tokenFile(tokenFile), options: options) { store, _ in
                try await expectConverges(store, sim, options, "initial")
                try await eventually("watch open") { sim.openWatchCount == 1 }
                // The kubelet rotates the bound token; the old one stops working.
                try "second-token\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
                sim.setTokens(["second-token": "system:serviceaccount:kube-system:sluice"])
                sim.expireWatches()
                try sim.create(service("after", "rotation"))
                try await expectConverges(store, sim, options, "after rotation")
                let statuses = sim.requests.map(\.status)
                #expect(statuses.contains(401))
                #expect(sim.requests.last?.status == 200)
            }
        }
    }

    @Test func retriesSlowlyWhenForbidden() async throws {
        try await withSimulator(SimulatorOptions(tokens: ["t": "sluice"], permissions: [:])) { sim in
            try Self.populate(sim, services: 3)
            let options = ReflectorOptions<Service>.services(timing: fastTiming)
            try await withReflector(sim, credentials: .token("t"), options: options) { store, _ in
                try await eventually("two forbidden attempts") { sim.requests.filter { $0.status == 403 }.count >= 2 }
                let forbidden = sim.requests.filter { $0.status == 403 }
                #expect(forbidden[1].at - forbidden[0].at >= .milliseconds(140), "403 retried at the slow interval")
                #expect(!store.hasSynced)
                sim.setPermissions(["sluice": Permission.read("services")])
                try await expectConverges(store, sim, options, "after the permission is granted")
            }
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct StoreAndBackoff {
    @Test func slowConsumerCostsOneEntryPerObject() async throws {
        let store = ObjectStore<Service>()
        let changes = store.changes()
        store.replace(with: (0..<10).map { service("a", "s\($0)") }, resourceVersion: "1")
        for round in 0..<1000 {
            for i in 0..<10 {
                var s = service("a", "s\(i)", port: Int32(round + 1))
                s.metadata.resourceVersion = String(round + 2)
                store.upsert(s)
            }
        }
        store.remove(ObjectKey(namespace: "a", name: "s9"), resourceVersion: "2000")
        var it = changes.makeAsyncIterator()
        let batch = try #require(await it.next())
        // 10 000 updates, one deletion: 9 adds (never seen before, so not updates), then synced.
        #expect(batch.count == 10)
        let adds = batch.compactMap { if case .added(let s) = $0 { s } else { nil } }
        #expect(adds.count == 9)
        #expect(adds.allSatisfy { $0.spec.ports[0].port == 1000 })
        guard case .synced = batch.last else {
            Issue.record("synced must follow the initial objects")
            return
        }
        store.replace(with: [try #require(store[ObjectKey(namespace: "a", name: "s0")])], resourceVersion: "3000")
        let next = try #require(await it.next())
        #expect(next.count == 8)
        #expect(next.allSatisfy { if case .deleted = $0 { true } else { false } })
    }

    @Test func lateSubscriberStartsWithTheWholeState() async throws {
        let store = ObjectStore<Service>()
        store.replace(with: [service("a", "x"), service("a", "y")], resourceVersion: "5")
        var it = store.changes().makeAsyncIterator()
        let first = try #require(await it.next())
        #expect(first.count == 3)
    }

    @Test func productionTimingsAreClientGos() {
        let t = ReflectorTiming()
        #expect(t.watchTimeout == 300...600)
        #expect(t.backoff.initial == .milliseconds(800) && t.backoff.maximum == .seconds(30))
        #expect(ReflectorOptions<Service>().pageSize == 500)
    }

    @Test func backoffDoublesWithJitterCapsAndResets() {
        var b = Backoff(initial: .milliseconds(800), maximum: .seconds(30), jitter: 0.5, resetAfter: .seconds(60))
        var rng = SystemRandomNumberGenerator()
        let nominal: [Duration] = [.milliseconds(800), .milliseconds(1600), .milliseconds(3200), .milliseconds(6400), .milliseconds(12800), .milliseconds(25600), .seconds(30), .seconds(30)]
        for n in nominal {
            let d = b.next(using: &rng)
            #expect(d <= n && d >= n * 0.5)
        }
        b.connectionEnded(healthyFor: .seconds(10))
        #expect(b.next(using: &rng) >= .seconds(15))
        b.connectionEnded(healthyFor: .seconds(61))
        #expect(b.next(using: &rng) <= .milliseconds(800))
    }
}

@Suite(.timeLimit(.minutes(1))) struct NodeReflector {
    @Test func watchesOnlyItsOwnNode() async throws {
        try await withSimulator { sim in
            try sim.create(Node(metadata: ObjectMeta(name: "node-a", labels: ["topology.kubernetes.io/zone": "z1"])))
            try sim.create(Node(metadata: ObjectMeta(name: "node-b", labels: ["topology.kubernetes.io/zone": "z2"])))
            let options = ReflectorOptions<Node>.node(named: "node-a", timing: fastTiming)
            try await withReflector(sim, options: options) { store, _ in
                try await expectConverges(store, sim, options, "own node")
                #expect(store.objects.keys.map(\.name) == ["node-a"])
                try await eventually("watch open") { sim.openWatchCount == 1 }
                var a = try #require(sim.object(Node.self, name: "node-a"))
                a.metadata.labels?["topology.kubernetes.io/zone"] = "z3"
                try sim.update(a)
                try await eventually("zone change seen") { store[ObjectKey(namespace: "", name: "node-a")]?.zone == "z3" }
                #expect(sim.requests.allSatisfy { $0.query["fieldSelector"] == "metadata.name=node-a" })
            }
        }
    }
}

/// Captures every log record, to prove what is (and is not) logged.
struct RecordingLogHandler: LogHandler {
    final class Store: Sendable {
        let lines = Mutex<[String]>([])
    }
    let store: Store
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    init(store: Store) { self.store = store }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { _, b in b }
        store.lines.withLock { $0.append("\(event.level) \(event.message) \(all)") }
    }
}

@Suite(.timeLimit(.minutes(1))) struct Logging401And403 {
    @Test func tokensNeverReachTheLogsAnd403NamesThePermission() async throws {
        let secret = "sekret-token-0123456789"
        try await withSimulator(SimulatorOptions(tokens: [secret: "sluice"], permissions: ["sluice": Permission.read("services")])) { sim in
            let logs = RecordingLogHandler.Store()
            let logger = Logger(label: "capture") { _ in RecordingLogHandler(store: logs) }
            let config = sim.clusterConfig(credentials: .token(secret))
            let client = try KubeClient(config: config, logger: logger)
            let slices = Reflector(client: client, store: ObjectStore<EndpointSlice>(), options: .endpointSlices(timing: fastTiming), logger: logger)
            let task = Task { try await slices.run() }
            try await eventually("a 403 was logged") { logs.lines.withLock { $0.contains { $0.contains("403") } } }
            sim.setTokens([:])
            sim.setTokens(["another": "x"])
            try await eventually("a 401 was logged") { logs.lines.withLock { $0.contains { $0.contains("401") } } }
            task.cancel()
            _ = await task.result
            try await client.shutdown()
            let lines = logs.lines.withLock { $0 }
            #expect(!lines.isEmpty)
            #expect(lines.allSatisfy { !$0.contains(secret) })
            #expect(lines.contains { $0.contains(#"cannot list resource "endpointslices" in API group "discovery.k8s.io""#) })
            #expect(!"\(config)".contains(secret))
        }
    }
}

@Suite(.timeLimit(.minutes(1))) struct ConnectionFailures {
    @Test func backOffExponentiallyThenRecover() async throws {
        try await withSimulator { sim in
            try sim.create(service("a", "b"))
            // Seven requests in a row lose their connection.
            sim.failNextRequests(7, status: 0, retryAfterSeconds: nil, matching: .list())
            var timing = fastTiming
            timing.backoff = Backoff(initial: .milliseconds(20), maximum: .milliseconds(300), jitter: 0.2, resetAfter: .seconds(5))
            let options = ReflectorOptions<Service>.services(timing: timing)
            try await withReflector(sim, options: options) { store, _ in
                try await expectConverges(store, sim, options, "after the network came back")
                let lists = sim.requests.filter { !$0.isWatch }
                #expect(lists.map(\.status) == [0, 0, 0, 0, 0, 0, 0, 200])
                let gaps = zip(lists.dropFirst(), lists).map { $0.at - $1.at }
                // Nominal delays 20, 40, 80, 160, 300 (capped), 300, 300 ms, each minus up to 20 % jitter.
                let floors: [Duration] = [16, 32, 64, 128, 240, 240, 240].map { .milliseconds($0) }
                for (gap, floor) in zip(gaps, floors) { #expect(gap >= floor) }
                #expect(gaps[5] < .milliseconds(900), "capped at the maximum")
            }
        }
    }
}
