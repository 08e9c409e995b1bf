import KubeModels
import NetworkTypes
import ProxyCore

/// The one path from Kubernetes objects to the kernel: objects (from the API server's
/// watches or from manifest files) are recorded in kube-proxy's change tracker, and each
/// `sync()` hands the backend either the service ports that changed or, when the last sync
/// failed (or none succeeded yet), every service port. `sluice apply`, `sluice diff`, the agent
/// and `sluice-bench` all drive this value; none has a path of its own.
///
/// Not thread-safe: one owner (the agent's sync loop, or a command) drives it.
public struct ProxyPipeline {
    public private(set) var tracker: ServiceChangeTracker
    public let backend: any ProxyBackend
    /// kube-proxy's needFullSync: true until a full sync succeeds, and again after any failure.
    public private(set) var needsFullSync = true

    public init(node: NodeContext, backend: any ProxyBackend) {
        tracker = ServiceChangeTracker(node: node)
        self.backend = backend
        backend.configure(node)
    }

    // MARK: Input

    public mutating func record(_ event: StoreEvent<Service>) { tracker.apply(event) }
    public mutating func record(_ event: StoreEvent<EndpointSlice>) { tracker.apply(event) }
    public mutating func record(_ event: StoreEvent<Node>) { tracker.apply(event) }

    /// Records a whole set of objects at once (manifest files, a benchmark's cluster).
    /// `nodes` may hold this node's Node object, whose zone label overrides the configured one.
    public mutating func load(services: [Service], slices: [EndpointSlice], nodes: [Node] = []) {
        tracker.reserveCapacity(services: services.count, slices: slices.count)
        for n in nodes { tracker.nodeUpdated(n) }
        for s in services { tracker.serviceUpdated(s) }
        for s in slices { tracker.sliceUpdated(s) }
    }

    /// The node's configuration changed: the next sync is a full one with it.
    public mutating func reconfigure(_ node: NodeContext) {
        backend.configure(node)
        needsFullSync = true
    }

    /// Whether recorded events may change something, or a full sync is owed.
    public var hasWork: Bool { needsFullSync || tracker.hasPendingChanges }

    // MARK: Sync

    /// Brings the kernel up to date with what was recorded: a full sync when one is owed,
    /// else the changed service ports only. A failure leaves the kernel and the backend as
    /// they were and makes the next sync a full one.
    public mutating func sync() -> SyncOutcome {
        let clock = ContinuousClock()
        let start = clock.now
        let update = tracker.update()
        let full = needsFullSync
        var outcome = SyncOutcome(kind: full ? .full : .partial, servicePorts: update.ports.count,
                                  changedPorts: update.changed.count, diagnostics: update.diagnostics)
        outcome.tracking = clock.now - start
        do {
            if full {
                // The first update recomputes every Service: its ports come out in order already.
                let ports = update.changed.count == update.ports.count ? tracker.recomputedPorts : update.sortedPorts
                outcome.report = try backend.fullSync(ports)
                needsFullSync = false
            } else {
                let changes = update.changed.sorted().map {
                    ServicePortChange(key: $0, previous: update.previous[$0], current: update.ports[$0])
                }
                outcome.changes = changes
                outcome.report = try backend.sync(changes)
            }
        } catch {
            needsFullSync = true
            outcome.failure = SyncFailure(error)
        }
        outcome.duration = clock.now - start
        return outcome
    }

    /// Reads the kernel back and repairs drift from the last successful sync. Owes a full
    /// sync instead when the last sync failed (the full sync reads the kernel back anyway).
    public mutating func repair() -> SyncOutcome {
        guard !needsFullSync else { return sync() }
        let clock = ContinuousClock()
        let start = clock.now
        var outcome = SyncOutcome(kind: .repair, servicePorts: tracker.ports.count, changedPorts: 0, diagnostics: [])
        do {
            outcome.report = try backend.repair()
        } catch {
            needsFullSync = true
            outcome.failure = SyncFailure(error)
        }
        outcome.duration = clock.now - start
        return outcome
    }

    /// What a full sync of everything recorded would send, against `baseline`: `sluice diff`.
    /// Never writes.
    public mutating func plan(against baseline: PlanBaseline) throws -> (plan: Plan, diagnostics: [Diagnostic]) {
        let update = tracker.update()
        let ports = update.changed.count == update.ports.count ? tracker.recomputedPorts : update.sortedPorts
        return (try backend.plan(ports, against: baseline), update.diagnostics)
    }
}

/// What one sync did.
public struct SyncOutcome: Sendable {
    public var kind: SyncReport.Kind
    /// Service ports in the desired state after this sync's update.
    public var servicePorts: Int
    /// Service ports the update changed.
    public var changedPorts: Int
    /// Problems found in the objects this sync recomputed (they were skipped, or kept their
    /// last good configuration).
    public var diagnostics: [Diagnostic]
    /// A partial sync's service ports, as they were and as they are (what the health-check
    /// servers and the no-local-endpoints metric follow). Empty for a full sync, whose ports
    /// are all of `tracker.ports`, and for a repair.
    public var changes: [ServicePortChange] = []
    /// What the backend sent; nil when it failed.
    public var report: SyncReport?
    /// Why the sync failed; the kernel still holds what it held before.
    public var failure: SyncFailure?
    /// The whole sync, from the tracker's update to the kernel's answer.
    public var duration: Duration = .zero
    /// Of which: the tracker's update (Kubernetes objects → service ports).
    public var tracking: Duration = .zero

    public var succeeded: Bool { failure == nil }
}

/// A sync the kernel (or the backend) refused, with the reason as the backend gave it.
public struct SyncFailure: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ error: any Error) { description = "\(error)" }
}
