import Agent
import KubeModels
import Logging
import NFTables
import NetworkTypes
import ProxyCore
import Synchronization
import Testing

/// Records what the loop reports.
final class Recorder: SyncObserver {
    let outcomes = Mutex<[SyncOutcome]>([])
    func synced(_ outcome: SyncOutcome, ports: [ServicePortKey: ServicePortInfo]) {
        outcomes.withLock { $0.append(outcome) }
    }
    var all: [SyncOutcome] { outcomes.withLock { $0 } }
}

/// A sync loop over an in-memory kernel, running in a task until `stop()`.
final class LoopRig: Sendable {
    let kernel = InMemoryNFTables()
    let recorder = Recorder()
    let loop: SyncLoop
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(_ timing: SyncTiming) throws {
        let backend = try NFTablesBackend(node: node, families: [.v4], kernel: kernel, conntrack: nil)
        loop = SyncLoop(pipeline: ProxyPipeline(node: node, backend: backend), settings: NodeSettings(node), timing: timing,
                        requires: Set(SourceKind.allCases), observer: recorder, logger: Logger(label: "test"))
        let loop = self.loop
        task.withLock { $0 = Task { try? await loop.run() } }
    }

    func stop() { task.withLock { $0?.cancel() } }

    func post(_ input: AgentInput) { loop.inbox.post(input) }

    /// Waits (up to `limit`) until `condition` holds; false if it never did.
    func eventually(within limit: Duration = .seconds(5), _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return condition()
    }

    /// Posts web (2 endpoints) and api (1 endpoint), and every source's first list.
    func postInitialState() {
        post(.services([.added(service("web", "10.96.0.10")), .added(service("api", "10.96.0.11")), .synced]))
        post(.slices([.added(slice("web", ["10.1.0.2", "10.1.0.3"])), .added(slice("api", ["10.1.0.4"])), .synced]))
        post(.nodes([.synced]))
    }

    var elements: String { kernel.ruleset.nftText }
}

@Suite("The agent's sync loop", .serialized)
struct SyncLoopTests {
    @Test("nothing is programmed before every source has delivered its first complete list")
    func waitsForEverySource() async throws {
        let rig = try LoopRig(SyncTiming(minSyncPeriod: .milliseconds(10)))
        defer { rig.stop() }
        rig.post(.services([.added(service("web", "10.96.0.10")), .synced]))
        rig.post(.slices([.added(slice("web", ["10.1.0.2"])), .synced]))
        try await Task.sleep(for: .milliseconds(200))
        #expect(rig.kernel.transactions.isEmpty)
        rig.post(.nodes([.synced]))
        #expect(await rig.eventually { rig.recorder.all.count == 1 })
        #expect(rig.recorder.all.map(\.kind) == [.full] && rig.kernel.transactions.count == 1)
    }

    @Test("changes within the min sync period are coalesced into one partial sync each period")
    func coalesces() async throws {
        let rig = try LoopRig(SyncTiming(minSyncPeriod: .milliseconds(300)))
        defer { rig.stop() }
        rig.postInitialState()
        #expect(await rig.eventually { rig.recorder.all.count == 1 })
        // Ten endpoint changes, 5 ms apart: well inside one min sync period.
        var previous = slice("web", ["10.1.0.2", "10.1.0.3"])
        for i in 0..<10 {
            let next = slice("web", ["10.1.0.2", "10.1.1.\(i)"])
            rig.post(.slices([.updated(old: previous, new: next)]))
            previous = next
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(await rig.eventually { rig.elements.contains("10.1.1.9") })
        try await Task.sleep(for: .milliseconds(400))
        let partial = rig.recorder.all.filter { $0.kind == .partial }
        #expect((1...2).contains(partial.count), "\(partial.count) partial syncs for 10 changes in 50 ms")
        #expect(!rig.elements.contains("10.1.1.8"))
    }

    @Test("a kernel that refuses keeps the previous rules; the loop retries full syncs with backoff and recovers")
    func retriesAfterRefusal() async throws {
        let rig = try LoopRig(SyncTiming(minSyncPeriod: .milliseconds(10), syncPeriod: .seconds(30), retryInitial: .milliseconds(40)))
        defer { rig.stop() }
        rig.postInitialState()
        #expect(await rig.eventually { rig.recorder.all.count == 1 })
        let before = rig.kernel.ruleset.normalized
        rig.kernel.refuse(with: Refused())
        rig.post(.services([.deleted(service("api", "10.96.0.11"))]))
        #expect(await rig.eventually { rig.recorder.all.count >= 4 })
        let failed = rig.recorder.all.dropFirst()
        #expect(failed.allSatisfy { !$0.succeeded })
        #expect(failed.first?.kind == .partial)
        #expect(failed.dropFirst().allSatisfy { $0.kind == .full }, "after a failure, every retry is a full sync")
        #expect(rig.kernel.ruleset.normalized == before, "the previous rules keep serving")
        rig.kernel.refuse(with: nil)
        #expect(await rig.eventually { rig.recorder.all.last?.succeeded == true })
        #expect(!rig.kernel.ruleset.nftText.contains("10.96.0.11"))
    }

    @Test("the periodic check repairs drift, and sends nothing while the kernel matches")
    func repairsDrift() async throws {
        let rig = try LoopRig(SyncTiming(minSyncPeriod: .milliseconds(10), syncPeriod: .milliseconds(100)))
        defer { rig.stop() }
        rig.postInitialState()
        #expect(await rig.eventually { rig.recorder.all.count == 1 })
        let good = rig.kernel.ruleset.normalized
        try await Task.sleep(for: .milliseconds(350))
        #expect(rig.recorder.all.filter { $0.kind == .repair }.count >= 2)
        #expect(rig.kernel.transactions.count == 1, "repairs of a matching kernel send nothing")
        rig.kernel.tamper { r in
            r.sets.removeAll { $0.name == "backends" }
            r.rules.removeAll { $0.chain.name.hasPrefix("lb") }
        }
        #expect(await rig.eventually { rig.recorder.all.contains { $0.kind == .repair && ($0.report?.commands ?? 0) > 0 } },
                "\(rig.recorder.all.compactMap(\.failure))")
        #expect(rig.kernel.ruleset.normalized == good)
    }
}
