import Foundation
import KubeModels
import NIOConcurrencyHelpers
import ProxyCore

/// The agent's `SyncObserver`: passes what the sync loop does to the observable parts —
/// `ProxyHealth` (what `/healthz` and `/livez` answer), `ProxyMetrics` (what `/metrics`
/// serves) and `ServiceHealthServers` (the healthCheckNodePort servers) — so that each fact
/// reaches every part that needs it:
///
///     let observer = AgentObserver(nodeName: ..., health: health, metrics: metrics, healthCheckServers: servers)
///     let loop = SyncLoop(pipeline: ..., observer: observer, ...)
///     // run loop, HealthzServer, MetricsServer and servers in one ServiceGroup
///
/// The loop calls it from its own task; each call is quick (no I/O: the healthCheckNodePort
/// servers open and close in their own task). The loop's first sync answers for the time
/// before it: the health timeout counts from the observer's creation, as kube-proxy's counts
/// from its sync loop's start.
public final class AgentObserver: SyncObserver {
    public let health: ProxyHealth
    public let metrics: ProxyMetrics
    public let healthCheckServers: ServiceHealthServers?
    private let nodeName: String
    private let nodeRequired: Bool
    private let state: NIOLockedValueBox<State>

    private struct State: Sendable {
        var census = LocalTrafficCensus()
        var triggers: TriggerTimes
        var nodeSeen = false
    }

    /// `nodeRequired`: the Node comes from the API server, so a first list without it means
    /// the node is gone (`/healthz` 503); false when following manifest files, where a Node
    /// is optional. `start`: when the agent started watching (older EndpointSlice trigger
    /// times are not measured). `healthCheckServers` nil: none.
    public init(nodeName: String, nodeRequired: Bool, health: ProxyHealth, metrics: ProxyMetrics,
                healthCheckServers: ServiceHealthServers?, start: Date = Date()) {
        self.nodeName = nodeName
        self.nodeRequired = nodeRequired
        self.health = health
        self.metrics = metrics
        self.healthCheckServers = healthCheckServers
        state = NIOLockedValueBox(State(triggers: TriggerTimes(start: start)))
        health.syncLoopStarted()
    }

    /// The health-checked Services and no-local-endpoint counts as of the last successful sync.
    public var census: LocalTrafficCensus { state.withLockedValue { $0.census } }

    public func recorded(_ input: AgentInput, pendingServices: Int, pendingSlices: Int) {
        switch input {
        case .services(let events):
            for e in events where !e.isSynced { metrics.changeRecorded(.service, pending: pendingServices) }
        case .slices(let events):
            state.withLockedValue { s in
                for e in events { s.triggers.record(e) }
            }
            for e in events where !e.isSynced { metrics.changeRecorded(.endpointSlice, pending: pendingSlices) }
        case .nodes(let events):
            // The loop reports this node's additions, changes and deletion through
            // `nodeChanged`; a first list that did not contain it only shows here.
            let missing = state.withLockedValue { s in
                events.contains { $0.isSynced } && !s.nodeSeen && nodeRequired
            }
            if missing { health.nodeChanged(nil) }
        }
    }

    public func queued(at time: ContinuousClock.Instant) {
        health.queuedUpdate()
        metrics.syncQueued()
    }

    public func nodeChanged(_ node: Node?) {
        state.withLockedValue { $0.nodeSeen = node != nil }
        if node != nil || nodeRequired {
            health.nodeChanged(node)
        } else {
            health.forgetNode()
        }
    }

    public func synced(_ outcome: SyncOutcome, ports: [ServicePortKey: ServicePortInfo]) {
        metrics.syncFinished(outcome)
        guard outcome.succeeded else { return }
        let servers = healthCheckServers
        if outcome.kind == .repair {
            // A repair puts back what the kernel lost but takes none of the recorded events:
            // it answers no queued update. It is the periodic moment to retry a failed bind.
            if let servers, servers.needsRetry { servers.update(census.healthCheckedServices) }
            return
        }
        health.updated()
        let (triggers, changed, census) = state.withLockedValue { s in
            let changed = s.census.update(after: outcome, ports: ports)
            return (s.triggers.isEmpty ? [:] : s.triggers.take(), changed, s.census)
        }
        if !triggers.isEmpty { metrics.networkProgrammed(triggers) }
        metrics.noLocalEndpoints(census.noLocalEndpoints)
        if let servers, changed || servers.needsRetry { servers.update(census.healthCheckedServices) }
    }
}

extension StoreEvent {
    var isSynced: Bool {
        if case .synced = self { return true }
        return false
    }
}
