import Foundation
import KubeModels
import NetworkTypes
import NIOConcurrencyHelpers

/// Whether the proxy keeps up, with kube-proxy's rule (`pkg/proxy/healthcheck`): the proxy
/// is unhealthy when an update has been waiting for a successful sync for longer than the
/// health timeout (2 × the sync period). No update waiting, or none late yet, is healthy,
/// and so is a proxy whose sync loop has not started. `/healthz` also answers 503 while this
/// node is not eligible for traffic (its Node is missing, being deleted, or tainted by the
/// cluster autoscaler); `/livez` ignores the node, so the kubelet does not restart an agent
/// that is only draining.
///
/// Thread-safe: the sync loop writes, the HTTP servers read.
public final class ProxyHealth: Sendable {
    /// The taint the cluster autoscaler puts on a node it is about to remove.
    public static let toBeDeletedTaint = "ToBeDeletedByClusterAutoscaler"

    /// The IP families the backend programs; each is reported in the JSON `status`. Sluice
    /// syncs them in one transaction, so they share one state.
    public let families: [IPFamily]
    /// kube-proxy's healthTimeout: 2 × the sync period.
    public let timeout: Duration
    private let clock: any AgentClock
    private let state = NIOLockedValueBox(State())

    private struct State {
        /// nil until the sync loop starts (kube-proxy's empty lastUpdated map).
        var lastUpdated: AgentInstant?
        /// The oldest update queued since the last successful sync.
        var oldestQueued: AgentInstant?
        /// Eligible until a Node says otherwise, so an agent starting up, or one that follows
        /// manifest files and has no Node, is not drained.
        var nodeEligible = true
    }

    public init(families: [IPFamily], syncPeriod: Duration, clock: any AgentClock = SystemAgentClock()) {
        self.families = families
        self.timeout = syncPeriod * 2
        self.clock = clock
    }

    // MARK: What the sync loop tells it

    /// The sync loop started: the timeout counts from here even if no sync ever succeeds
    /// (kube-proxy's SyncLoop does the same before its first sync).
    public func syncLoopStarted() { updated() }

    /// An event that needs a sync was recorded. Only the oldest waiting one counts.
    public func queuedUpdate() {
        let now = clock.now()
        state.withLockedValue { s in
            if s.oldestQueued == nil { s.oldestQueued = now }
        }
    }

    /// A sync (full, partial or repair) succeeded: everything queued before it is in the kernel.
    public func updated() {
        let now = clock.now()
        state.withLockedValue { s in
            s.lastUpdated = now
            s.oldestQueued = nil
        }
    }

    /// This node's Node as last seen; nil when the API server has none (deleted, or the list
    /// came back without it). Call it only when Nodes are watched.
    public func nodeChanged(_ node: Node?) {
        let eligible = node.map(Self.isEligible) ?? false
        state.withLockedValue { $0.nodeEligible = eligible }
    }

    /// No Node to judge the node by (manifest files without one): eligible.
    public func forgetNode() {
        state.withLockedValue { $0.nodeEligible = true }
    }

    /// A node can take traffic unless it is being deleted or the autoscaler marked it for removal.
    public static func isEligible(_ node: Node) -> Bool {
        guard node.metadata.deletionTimestamp == nil else { return false }
        return !(node.spec.taints ?? []).contains { $0.key == toBeDeletedTaint }
    }

    // MARK: What the servers read

    /// The proxy's own health, without the node's eligibility (what `/livez` and the
    /// healthCheckNodePort servers use).
    public var isHealthy: Bool { status().healthy }

    public func status() -> ProxyHealthStatus {
        let now = clock.now()
        let s = state.withLockedValue { $0 }
        var healthy = true
        if s.lastUpdated != nil, let queued = s.oldestQueued, now.monotonic - queued.monotonic >= timeout {
            healthy = false
        }
        return ProxyHealthStatus(healthy: healthy, nodeEligible: s.nodeEligible, lastUpdated: s.lastUpdated?.wall,
                                 currentTime: now.wall, families: families)
    }
}

/// One reading of `ProxyHealth`, and the JSON kube-proxy answers with.
public struct ProxyHealthStatus: Sendable, Hashable {
    /// The proxy keeps up (no update late).
    public var healthy: Bool
    /// The node may take traffic.
    public var nodeEligible: Bool
    /// The last successful sync; nil before the sync loop started.
    public var lastUpdated: Date?
    public var currentTime: Date
    public var families: [IPFamily]

    /// What `/healthz` answers 200 for.
    public var healthzOK: Bool { healthy && nodeEligible }

    /// `/healthz`'s body: `{"lastUpdated":…,"currentTime":…,"nodeEligible":…,"healthy":…,"status":{…}}`.
    public var healthzJSON: String { json(includingNode: true) }

    /// `/livez`'s body: as `/healthz` without `nodeEligible`.
    public var livezJSON: String { json(includingNode: false) }

    // kube-proxy marshals a Go struct: fields in declaration order, times as RFC 3339, the
    // zero time when unset, `nodeEligible` only on /healthz, `status` left out while empty,
    // its keys (IP families) sorted. A healthy answer reports the current time as
    // `lastUpdated`, which older kube-proxy versions did and probes may compare against.
    private func json(includingNode: Bool) -> String {
        let healthyNow = includingNode ? healthzOK : healthy
        let last = lastUpdated.map(RFC3339.format) ?? "0001-01-01T00:00:00Z"
        var out = #"{"lastUpdated":"\#(healthyNow ? RFC3339.format(currentTime) : last)","#
        out += #""currentTime":"\#(RFC3339.format(currentTime))","#
        if includingNode { out += #""nodeEligible":\#(nodeEligible),"# }
        out += #""healthy":\#(healthy)"#
        if lastUpdated != nil, !families.isEmpty {
            let entries = families.sorted { $0.rawValue < $1.rawValue }.map {
                #""\#($0.rawValue)":{"lastUpdated":"\#(last)","healthy":\#(healthy)}"#
            }
            out += #","status":{"# + entries.joined(separator: ",") + "}"
        }
        return out + "}"
    }
}
