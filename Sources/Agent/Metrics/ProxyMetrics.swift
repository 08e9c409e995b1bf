import CoreMetrics
import Foundation
import NetworkTypes
import NIOConcurrencyHelpers
import Prometheus
import ProxyCore

// Prometheus and Foundation have types of these names too; the metrics here are swift-metrics'.
private typealias Counter = CoreMetrics.Counter
private typealias Gauge = CoreMetrics.Gauge
private typealias Recorder = CoreMetrics.Recorder
private typealias Timer = CoreMetrics.Timer

/// The agent's metrics: kube-proxy's names, types, units and labels where kube-proxy has the
/// metric (`pkg/proxy/metrics`), so that dashboards and alerts written for kube-proxy keep
/// working, and Sluice's own under `sluice_`. Every metric is created once, here, with fixed
/// label values (IP families, traffic policies, sync kinds, status codes); nothing is labelled
/// by Service or object.
///
/// `AgentObserver` calls, for the sync loop:
/// - `changeRecorded(_:pending:)` after each Service or EndpointSlice event recorded in the
///   pipeline, and `syncQueued()` when recorded events wait for a sync;
/// - `syncFinished(_:)` with every `SyncOutcome` (full, partial or repair, failed or not);
/// - `noLocalEndpoints(_:)` with `LocalTrafficCensus.noLocalEndpoints` after a successful sync;
/// - `networkProgrammed(_:)` with `TriggerTimes.take()` after a successful sync.
/// Conntrack cleanup reports through `conntrackReconciled(family:duration:deleted:)`; the
/// health servers count their own answers.
///
/// Thread-safe. The metrics go to the factory given to `init`; the agent passes
/// `ProxyMetrics.prometheusFactory(registry:)` and serves that registry on `/metrics`.
public final class ProxyMetrics: Sendable {
    public enum Change: Sendable { case service, endpointSlice }

    public let families: [IPFamily]
    private let clock: any AgentClock
    private let factory: any MetricsFactory

    private let perFamily: [IPFamily: FamilyMetrics]
    private let serviceChangesPending: Gauge
    private let serviceChangesTotal: Counter
    private let endpointChangesPending: Gauge
    private let endpointChangesTotal: Counter
    private let healthz: [Bool: Counter]
    private let livez: [Bool: Counter]

    private let transactionCommands: [SyncReport.Kind: Recorder]
    private let kernelErrors: [SyncReport.Kind: Counter]
    private let driftRepairs: Counter
    private let driftCheckDuration: Timer
    private let servicePorts: Gauge
    private let healthCheckServers: (serving: Gauge, failed: Gauge)
    /// One counter per (object kind, field path) that ProxyCore reported; the paths come from
    /// ProxyCore's code (indexes removed), so there are a few dozen at most.
    private let skipped = NIOLockedValueBox<[SkippedKey: Counter]>([:])

    private struct FamilyMetrics: Sendable {
        var syncDuration: Timer
        var fullSyncDuration: Timer
        var partialSyncDuration: Timer
        var networkProgramming: Timer
        var lastSync: Gauge
        var lastQueued: Gauge
        var syncFailures: Counter
        var noLocalInternal: Gauge
        var noLocalExternal: Gauge
        var conntrackDuration: Timer
        var conntrackDeleted: Counter
    }

    private struct SkippedKey: Hashable, Sendable {
        var kind: String
        var field: String
    }

    public init(families: [IPFamily], factory: any MetricsFactory, clock: any AgentClock = SystemAgentClock()) {
        self.families = families
        self.clock = clock
        self.factory = factory
        var perFamily: [IPFamily: FamilyMetrics] = [:]
        for family in families {
            let label = [("ip_family", family.rawValue)]
            perFamily[family] = FamilyMetrics(
                syncDuration: Timer(label: Name.syncDuration, dimensions: label, factory: factory),
                fullSyncDuration: Timer(label: Name.fullSyncDuration, dimensions: label, factory: factory),
                partialSyncDuration: Timer(label: Name.partialSyncDuration, dimensions: label, factory: factory),
                networkProgramming: Timer(label: Name.networkProgramming, dimensions: label, factory: factory),
                lastSync: Gauge(label: Name.lastSync, dimensions: label, factory: factory),
                lastQueued: Gauge(label: Name.lastQueued, dimensions: label, factory: factory),
                syncFailures: Counter(label: Name.nftablesSyncFailures, dimensions: label, factory: factory),
                noLocalInternal: Gauge(label: Name.noLocalEndpoints, dimensions: label + [("traffic_policy", "internal")],
                                       factory: factory),
                noLocalExternal: Gauge(label: Name.noLocalEndpoints, dimensions: label + [("traffic_policy", "external")],
                                       factory: factory),
                conntrackDuration: Timer(label: Name.conntrackDuration, dimensions: label, factory: factory),
                conntrackDeleted: Counter(label: Name.conntrackDeleted, dimensions: label, factory: factory))
        }
        self.perFamily = perFamily
        serviceChangesPending = Gauge(label: Name.serviceChangesPending, factory: factory)
        serviceChangesTotal = Counter(label: Name.serviceChangesTotal, factory: factory)
        endpointChangesPending = Gauge(label: Name.endpointChangesPending, factory: factory)
        endpointChangesTotal = Counter(label: Name.endpointChangesTotal, factory: factory)
        healthz = [true: Counter(label: Name.healthz, dimensions: [("code", "200")], factory: factory),
                   false: Counter(label: Name.healthz, dimensions: [("code", "503")], factory: factory)]
        livez = [true: Counter(label: Name.livez, dimensions: [("code", "200")], factory: factory),
                 false: Counter(label: Name.livez, dimensions: [("code", "503")], factory: factory)]
        var commands: [SyncReport.Kind: Recorder] = [:]
        var errors: [SyncReport.Kind: Counter] = [:]
        for kind in [SyncReport.Kind.full, .partial, .repair] {
            commands[kind] = Recorder(label: Name.transactionCommands, dimensions: [("kind", kind.rawValue)],
                                      aggregate: true, factory: factory)
            errors[kind] = Counter(label: Name.kernelErrors, dimensions: [("kind", kind.rawValue)], factory: factory)
        }
        transactionCommands = commands
        kernelErrors = errors
        driftRepairs = Counter(label: Name.driftRepairs, factory: factory)
        driftCheckDuration = Timer(label: Name.driftCheckDuration, factory: factory)
        servicePorts = Gauge(label: Name.servicePorts, factory: factory)
        healthCheckServers = (Gauge(label: Name.healthCheckServers, dimensions: [("state", "serving")], factory: factory),
                              Gauge(label: Name.healthCheckServers, dimensions: [("state", "failed")], factory: factory))
        for family in families {
            // kube-proxy's gauges read 0 before the first sync; swift-metrics gauges have no value until set.
            perFamily[family]?.noLocalInternal.record(0)
            perFamily[family]?.noLocalExternal.record(0)
        }
        for gauge in [serviceChangesPending, endpointChangesPending, servicePorts, healthCheckServers.serving,
                      healthCheckServers.failed] {
            gauge.record(0)
        }
    }

    // MARK: Sync loop

    /// A Service or EndpointSlice event was recorded in the pipeline; `pending` is how many
    /// objects of that kind now wait for the next sync (`ServiceChangeTracker`'s pending counts).
    public func changeRecorded(_ change: Change, pending: Int) {
        switch change {
        case .service:
            serviceChangesTotal.increment()
            serviceChangesPending.record(pending)
        case .endpointSlice:
            endpointChangesTotal.increment()
            endpointChangesPending.record(pending)
        }
    }

    /// Recorded changes wait for a sync (kube-proxy stamps the time a sync was queued).
    public func syncQueued() {
        let now = clock.now().wall.timeIntervalSince1970
        for m in perFamily.values { m.lastQueued.record(now) }
    }

    /// A sync ended. kube-proxy times every sync, failed or not; Sluice programs every family
    /// in one transaction, so the sync counts once for each family.
    public func syncFinished(_ outcome: SyncOutcome) {
        let nanoseconds = outcome.duration.nanoseconds
        for m in perFamily.values {
            m.syncDuration.recordNanoseconds(nanoseconds)
            switch outcome.kind {
            case .full: m.fullSyncDuration.recordNanoseconds(nanoseconds)
            case .partial: m.partialSyncDuration.recordNanoseconds(nanoseconds)
            case .repair: break
            }
        }
        if outcome.kind == .repair {
            driftCheckDuration.recordNanoseconds(nanoseconds)
        } else {
            // The tracker's update took every pending change.
            serviceChangesPending.record(0)
            endpointChangesPending.record(0)
            servicePorts.record(outcome.servicePorts)
        }
        for diagnostic in outcome.diagnostics { skippedCounter(diagnostic).increment() }

        guard outcome.succeeded else {
            kernelErrors[outcome.kind]?.increment()
            for m in perFamily.values { m.syncFailures.increment() }
            return
        }
        let now = clock.now().wall.timeIntervalSince1970
        for m in perFamily.values { m.lastSync.record(now) }
        if let commands = outcome.report?.commands, commands > 0 {
            transactionCommands[outcome.kind]?.record(commands)
            if outcome.kind == .repair { driftRepairs.increment() }
        }
    }

    /// Service ports with a Local traffic policy, endpoints, and none of them on this node
    /// (after a successful sync).
    public func noLocalEndpoints(_ counts: [IPFamily: NoLocalEndpointCounts]) {
        for (family, m) in perFamily {
            let c = counts[family] ?? NoLocalEndpointCounts()
            m.noLocalInternal.record(c.internal)
            m.noLocalExternal.record(c.external)
        }
    }

    /// After a successful sync: how long each EndpointSlice change it carried took from the
    /// EndpointSlice controller's trigger time to the kernel. Clock skew between the
    /// controller and this node can make that negative; such values count as 0.
    public func networkProgrammed(_ triggers: [IPFamily: [Date]]) {
        let now = clock.now().wall
        for (family, times) in triggers {
            guard let m = perFamily[family] else { continue }
            for t in times {
                m.networkProgramming.recordNanoseconds(Int64(max(0, now.timeIntervalSince(t)) * 1e9))
            }
        }
    }

    /// One pass of stale conntrack cleanup for `family`: how long it took and how many
    /// entries it deleted.
    public func conntrackReconciled(family: IPFamily, duration: Duration, deleted: Int) {
        guard let m = perFamily[family] else { return }
        m.conntrackDuration.recordNanoseconds(duration.nanoseconds)
        if deleted > 0 { m.conntrackDeleted.increment(by: deleted) }
    }

    // MARK: The servers' own

    func healthzAnswered(ok: Bool) { healthz[ok]?.increment() }
    func livezAnswered(ok: Bool) { livez[ok]?.increment() }

    func healthCheckServers(serving: Int, failed: Int) {
        healthCheckServers.serving.record(serving)
        healthCheckServers.failed.record(failed)
    }

    private func skippedCounter(_ d: Diagnostic) -> Counter {
        let key = SkippedKey(kind: d.kind, field: Self.fieldPattern(d.field))
        return skipped.withLockedValue { counters in
            if let c = counters[key] { return c }
            let c = Counter(label: Name.skippedFields, dimensions: [("kind", key.kind), ("field", key.field)], factory: factory)
            counters[key] = c
            return c
        }
    }

    /// `spec.ports[3].port` → `spec.ports[].port`: indexes are per object, the path is not.
    static func fieldPattern(_ field: String) -> String {
        var out = ""
        var bracket: String?
        for c in field {
            if c == "[" {
                bracket = ""
            } else if c == "]", let inside = bracket {
                out += inside.allSatisfy(\.isNumber) ? "[]" : "[\(inside)]"
                bracket = nil
            } else if bracket != nil {
                bracket?.append(c)
            } else {
                out.append(c)
            }
        }
        if let inside = bracket { out += "[" + inside }
        return out
    }
}

/// Service ports with a Local traffic policy and endpoints, none of which are on this node,
/// by the traffic each policy governs (kube-proxy's `traffic_policy` label).
public struct NoLocalEndpointCounts: Sendable, Hashable {
    public var `internal` = 0
    public var external = 0
    public init(internal: Int = 0, external: Int = 0) {
        self.internal = `internal`
        self.external = external
    }
}

extension ProxyMetrics {
    /// Every metric name, as served on `/metrics`.
    public enum Name {
        // kube-proxy's (pkg/proxy/metrics/metrics.go).
        public static let syncDuration = "kubeproxy_sync_proxy_rules_duration_seconds"
        public static let fullSyncDuration = "kubeproxy_sync_full_proxy_rules_duration_seconds"
        public static let partialSyncDuration = "kubeproxy_sync_partial_proxy_rules_duration_seconds"
        public static let networkProgramming = "kubeproxy_network_programming_duration_seconds"
        public static let lastSync = "kubeproxy_sync_proxy_rules_last_timestamp_seconds"
        public static let lastQueued = "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds"
        public static let endpointChangesPending = "kubeproxy_sync_proxy_rules_endpoint_changes_pending"
        public static let endpointChangesTotal = "kubeproxy_sync_proxy_rules_endpoint_changes_total"
        public static let serviceChangesPending = "kubeproxy_sync_proxy_rules_service_changes_pending"
        public static let serviceChangesTotal = "kubeproxy_sync_proxy_rules_service_changes_total"
        public static let noLocalEndpoints = "kubeproxy_sync_proxy_rules_no_local_endpoints_total"
        public static let nftablesSyncFailures = "kubeproxy_sync_proxy_rules_nftables_sync_failures_total"
        public static let healthz = "kubeproxy_proxy_healthz_total"
        public static let livez = "kubeproxy_proxy_livez_total"
        public static let conntrackDuration = "kubeproxy_conntrack_reconciler_sync_duration_seconds"
        public static let conntrackDeleted = "kubeproxy_conntrack_reconciler_deleted_entries_total"
        // Sluice's own.
        public static let transactionCommands = "sluice_transaction_commands"
        public static let kernelErrors = "sluice_kernel_errors_total"
        public static let driftRepairs = "sluice_drift_repairs_total"
        public static let driftCheckDuration = "sluice_drift_check_duration_seconds"
        public static let skippedFields = "sluice_skipped_fields_total"
        public static let servicePorts = "sluice_service_ports"
        public static let healthCheckServers = "sluice_health_check_node_port_servers"
    }

    /// kube-proxy's buckets: sync and conntrack durations 1 ms × 2^0…14 (1 ms to 16.4 s);
    /// network programming 0, 0.25 s, 0.5 s, 1…59 s, 60…115 s by 5 s, 120…300 s by 30 s.
    public static let syncBuckets: [Duration] = (0..<15).map { .milliseconds(1 << $0) }
    public static let networkProgrammingBuckets: [Duration] =
        [.zero, .milliseconds(250), .milliseconds(500)] + (1...59).map { .seconds($0) }
        + stride(from: 60, through: 115, by: 5).map { .seconds($0) } + stride(from: 120, through: 300, by: 30).map { .seconds($0) }
    /// Commands per transaction: one element change is 2, a new Service a few dozen, a full
    /// sync at 100,000 Services about a million.
    public static let transactionBuckets: [Double] = (0...10).map { Double(1 << (2 * $0)) }

    /// A swift-prometheus factory writing into `registry`, with the buckets above.
    public static func prometheusFactory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        for name in [Name.syncDuration, Name.fullSyncDuration, Name.partialSyncDuration, Name.conntrackDuration,
                     Name.driftCheckDuration] {
            factory.durationHistogramBuckets[name] = syncBuckets
        }
        factory.durationHistogramBuckets[Name.networkProgramming] = networkProgrammingBuckets
        factory.valueHistogramBuckets[Name.transactionCommands] = transactionBuckets
        return factory
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (s, attos) = components
        return s * 1_000_000_000 + attos / 1_000_000_000
    }
}
