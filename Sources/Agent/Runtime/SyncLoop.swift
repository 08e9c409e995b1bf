import KubeModels
import Logging
import NetworkTypes
import ProxyCore
import ServiceLifecycle
import Synchronization

/// How often the loop syncs, repairs and retries.
public struct SyncTiming: Sendable, Hashable {
    /// Changes are coalesced: two syncs start at least this far apart (kube-proxy's
    /// minSyncPeriod, whose default of 1 s suits iptables-restore; a batch of map elements
    /// costs milliseconds, so Sluice waits tens of milliseconds).
    public var minSyncPeriod: Duration
    /// The kernel is read back and repaired this often (kube-proxy's syncPeriod).
    public var syncPeriod: Duration
    /// The first retry after a failed sync; each further failure doubles it, up to `syncPeriod`.
    public var retryInitial: Duration

    public init(minSyncPeriod: Duration = .milliseconds(20), syncPeriod: Duration = .seconds(30),
                retryInitial: Duration = .seconds(1)) {
        self.minSyncPeriod = minSyncPeriod
        self.syncPeriod = syncPeriod
        self.retryInitial = retryInitial
    }
}

/// The sources whose first complete list the loop waits for before it programs anything.
public enum SourceKind: String, Sendable, Hashable, CaseIterable {
    case services, endpointSlices, nodes
}

/// Told about the loop's work, from the loop's task (keep it quick): health, metrics, the
/// healthCheckNodePort servers, tests.
public protocol SyncObserver: Sendable {
    /// An input was recorded in the pipeline; `pendingServices` and `pendingSlices` are the
    /// objects now waiting for the next sync (kube-proxy's pending-changes metrics).
    func recorded(_ input: AgentInput, pendingServices: Int, pendingSlices: Int)
    /// Changes arrived that may change the rules (kube-proxy's "queued" update).
    func queued(at time: ContinuousClock.Instant)
    /// A sync or a repair finished; `ports` is the desired state it worked from.
    func synced(_ outcome: SyncOutcome, ports: [ServicePortKey: ServicePortInfo])
    /// This node's Node object changed (nil: deleted or not there).
    func nodeChanged(_ node: Node?)
}

extension SyncObserver {
    public func recorded(_ input: AgentInput, pendingServices: Int, pendingSlices: Int) {}
    public func queued(at time: ContinuousClock.Instant) {}
    public func nodeChanged(_ node: Node?) {}
}

/// The agent's sync loop: drains what the sources post, and syncs the pipeline as soon as
/// `minSyncPeriod` allows once every required source has delivered its first list; reads the
/// kernel back every `syncPeriod` and repairs drift; after a failure, retries (a full sync)
/// with exponential backoff. Nothing else touches the pipeline. When the sources go quiet
/// (the API server away) nothing changes in the kernel.
public final class SyncLoop: ServiceLifecycle.Service {
    public let inbox = AgentInbox()
    private let pipeline: Mutex<ProxyPipeline?>
    private let settings: NodeSettings
    private let timing: SyncTiming
    private let required: Set<SourceKind>
    private let observer: (any SyncObserver)?
    private let logger: Logger

    public init(pipeline: consuming sending ProxyPipeline, settings: NodeSettings, timing: SyncTiming = SyncTiming(),
                requires required: Set<SourceKind>, observer: (any SyncObserver)? = nil, logger: Logger) {
        self.pipeline = Mutex(pipeline)
        self.settings = settings
        self.timing = timing
        self.required = required
        self.observer = observer
        self.logger = logger
    }

    /// The loop's state between wake-ups.
    private struct State {
        var synced: Set<SourceKind> = []
        var node: Node?
        var lastStart: ContinuousClock.Instant?
        var retryDelay: Duration?
        var retryAt: ContinuousClock.Instant?
        var nextRepair: ContinuousClock.Instant?
    }

    /// Runs until cancelled or shut down gracefully; leaves the kernel as it is (traffic keeps
    /// flowing while the agent restarts).
    public func run() async throws {
        guard var pipeline = self.pipeline.withLock({ p -> sending ProxyPipeline? in
            let taken = p
            p = nil
            return taken
        }) else { return }
        let inbox = self.inbox
        let alarm = Alarm(inbox)
        var state = State()
        await withGracefulShutdownHandler {
            for await _ in inbox.wakes {
                let inputs = inbox.take()
                if !inputs.isEmpty { record(inputs, into: &pipeline, &state) }
                logger.trace("woken", metadata: ["inputs": "\(inputs.count)", "synced": "\(state.synced.map(\.rawValue).sorted())"])
                step(&pipeline, &state)
                alarm.set(nextDeadline(pipeline, state))
            }
        } onGracefulShutdown: {
            inbox.finish()
        }
        alarm.cancel()
        logger.info("sync loop stopped; the rules stay in place")
    }

    private func record(_ inputs: [AgentInput], into pipeline: inout ProxyPipeline, _ state: inout State) {
        for input in inputs {
            switch input {
            case .services(let events):
                for e in events {
                    if case .synced = e { state.synced.insert(.services) } else { pipeline.record(e) }
                }
            case .slices(let events):
                for e in events {
                    if case .synced = e { state.synced.insert(.endpointSlices) } else { pipeline.record(e) }
                }
            case .nodes(let events):
                for e in events { recordNode(e, &pipeline, &state) }
            }
            observer?.recorded(input, pendingServices: pipeline.tracker.pendingServiceCount,
                               pendingSlices: pipeline.tracker.pendingSliceCount)
        }
        // As kube-proxy queues nothing before it is initialized: the health timeout starts
        // when the first sync may start, not while the first lists are still arriving.
        if pipeline.hasWork, required.isSubset(of: state.synced) { observer?.queued(at: .now) }
    }

    /// This node's Node: its zone goes to the tracker; a change of its labels (topology) or of
    /// the addresses the node context takes from it makes the next sync a full one.
    private func recordNode(_ event: StoreEvent<Node>, _ pipeline: inout ProxyPipeline, _ state: inout State) {
        let name = settings.configured.nodeName
        let new: Node?
        switch event {
        case .synced:
            state.synced.insert(.nodes)
            return
        case .added(let n), .updated(_, let n):
            guard n.metadata.name == name else { return }
            new = n
        case .deleted(let n):
            guard n.metadata.name == name else { return }
            new = nil
        }
        let old = state.node
        state.node = new
        pipeline.record(event)
        observer?.nodeChanged(new)
        let before = settings.effective(old), after = settings.effective(new)
        if before != after || (old != nil && new != nil && old?.metadata.labels != new?.metadata.labels) {
            logger.info("this node's labels or addresses changed; next sync is a full one",
                        metadata: ["node.ips": "\(after.nodeIPs.map(\.description))"])
            pipeline.reconfigure(after)
        }
    }

    private func step(_ pipeline: inout ProxyPipeline, _ state: inout State) {
        guard required.isSubset(of: state.synced) else { return }
        let now = ContinuousClock.now
        if pipeline.hasWork {
            if let earliest = earliestSync(state), now < earliest { return }
            state.lastStart = now
            finish(pipeline.sync(), &pipeline, &state)
        } else if let repairAt = state.nextRepair, now >= repairAt {
            state.lastStart = now
            finish(pipeline.repair(), &pipeline, &state)
        }
    }

    /// The earliest a sync may start (nil: at once).
    private func earliestSync(_ state: State) -> ContinuousClock.Instant? {
        let coalesced = state.lastStart.map { $0 + timing.minSyncPeriod }
        guard let retryAt = state.retryAt else { return coalesced }
        return coalesced.map { max($0, retryAt) } ?? retryAt
    }

    private func finish(_ outcome: SyncOutcome, _ pipeline: inout ProxyPipeline, _ state: inout State) {
        let now = ContinuousClock.now
        for d in outcome.diagnostics {
            logger.warning("skipped: \(d)", metadata: ["object.kind": "\(d.kind)", "object": "\(d.object)", "field": "\(d.field)"])
        }
        if let report = outcome.report {
            for w in report.warnings { logger.warning("\(w)") }
            state.retryDelay = nil
            state.retryAt = nil
            state.nextRepair = now + timing.syncPeriod
            let meta: Logger.Metadata = ["sync.kind": "\(report.kind.rawValue)", "sync.commands": "\(report.commands)",
                                         "sync.ports": "\(outcome.servicePorts)", "sync.seconds": "\(outcome.duration)"]
            switch report.kind {
            case .repair where report.commands > 0: logger.warning("repaired drift in the kernel", metadata: meta)
            case .full: logger.info("synced", metadata: meta)
            default: logger.debug("synced", metadata: meta)
            }
        } else {
            let delay = state.retryDelay.map { min($0 * 2, timing.syncPeriod) } ?? timing.retryInitial
            state.retryDelay = delay
            state.retryAt = now + delay
            logger.error("sync failed; the kernel keeps the previous rules; retrying with a full sync",
                         metadata: ["sync.kind": "\(outcome.kind.rawValue)", "error": "\(outcome.failure?.description ?? "?")",
                                    "retry.in": "\(delay)"])
        }
        observer?.synced(outcome, ports: pipeline.tracker.ports)
    }

    private func nextDeadline(_ pipeline: ProxyPipeline, _ state: State) -> ContinuousClock.Instant? {
        guard required.isSubset(of: state.synced) else { return nil }
        if pipeline.hasWork { return earliestSync(state) ?? .now }
        return state.nextRepair
    }
}
