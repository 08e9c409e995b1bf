import NetworkTypes
import ProxyCore

/// One Service's healthCheckNodePort server: where it listens and what it reports.
public struct HealthCheckedService: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var namespace: String
    public var name: String
    /// The Service's `spec.healthCheckNodePort`.
    public var port: UInt16
    /// Distinct local ready endpoints (address:port) over the Service's ports and families,
    /// as kube-proxy counts them: a pod serving two ports of the Service counts twice.
    public var localEndpoints: Int

    public init(namespace: String, name: String, port: UInt16, localEndpoints: Int) {
        self.namespace = namespace
        self.name = name
        self.port = port
        self.localEndpoints = localEndpoints
    }

    public var description: String { "\(namespace)/\(name)" }

    public static func < (a: HealthCheckedService, b: HealthCheckedService) -> Bool {
        (a.namespace, a.name) < (b.namespace, b.name)
    }
}

/// What this node's share of Local-policy traffic looks like, kept up to date from the
/// service ports each sync changed: the Services whose load balancers probe a
/// healthCheckNodePort (eTP Local), with their local endpoint counts, and the service ports
/// whose Local policy has endpoints elsewhere but none here (traffic is dropped).
///
/// A partial sync costs in proportion to the ports it changed; only a full sync walks every
/// port. Owned by the sync loop (a value, not shared).
public struct LocalTrafficCensus: Sendable {
    private struct ServiceID: Hashable, Sendable {
        var namespace: String
        var name: String
    }

    private struct Probe: Hashable, Sendable {
        var port: UInt16
        /// Local ready endpoints as `address:port`.
        var endpoints: Set<String>
    }

    private struct NoLocal: Hashable, Sendable {
        var family: IPFamily
        var `internal`: Bool
        var external: Bool
    }

    /// Ports with a healthCheckNodePort, by Service.
    private var probes: [ServiceID: [ServicePortKey: Probe]] = [:]
    /// Ports that count as having no local endpoints, and how.
    private var noLocal: [ServicePortKey: NoLocal] = [:]
    private var counts: [IPFamily: NoLocalEndpointCounts] = [:]
    private var services: [ServiceID: HealthCheckedService] = [:]

    public init() {}

    /// The health-checked Services, sorted by namespace and name: what
    /// `ServiceHealthServers.update` takes.
    public var healthCheckedServices: [HealthCheckedService] { services.values.sorted() }

    /// What `ProxyMetrics.noLocalEndpoints` takes.
    public var noLocalEndpoints: [IPFamily: NoLocalEndpointCounts] { counts }

    /// Brings the census up to date after `outcome`: a successful full sync replaces it with
    /// `ports` (the tracker's current ports), a successful partial sync applies its changes,
    /// and a failed sync or a repair changes nothing. Returns whether the health-checked
    /// Services changed (port or local endpoint count), i.e. whether
    /// `ServiceHealthServers.update` has something to do.
    @discardableResult
    public mutating func update(after outcome: SyncOutcome, ports: @autoclosure () -> [ServicePortKey: ServicePortInfo]) -> Bool {
        guard outcome.succeeded else { return false }
        switch outcome.kind {
        case .full: return replace(with: ports().values)
        case .partial: return apply(outcome.changes.map { ($0.key, $0.current) })
        case .repair: return false
        }
    }

    /// Forgets everything and counts `ports` afresh.
    @discardableResult
    public mutating func replace(with ports: some Sequence<ServicePortInfo>) -> Bool {
        let before = services
        self = LocalTrafficCensus()
        for info in ports { set(info.key, info) }
        for id in probes.keys { recount(id) }
        return services != before
    }

    /// Applies new values of some ports (nil: the port is gone).
    @discardableResult
    public mutating func apply(_ changes: [(key: ServicePortKey, current: ServicePortInfo?)]) -> Bool {
        var touched: Set<ServiceID> = []
        for (key, current) in changes {
            set(key, current)
            touched.insert(ServiceID(namespace: key.name.namespace, name: key.name.name))
        }
        var changed = false
        for id in touched {
            let before = services[id]
            recount(id)
            changed = changed || services[id] != before
        }
        return changed
    }

    private mutating func set(_ key: ServicePortKey, _ info: ServicePortInfo?) {
        let id = ServiceID(namespace: key.name.namespace, name: key.name.name)
        if let port = info?.healthCheckNodePort, let info {
            // The load balancer's probe asks whether this node has a ready endpoint for it;
            // terminating endpoints (kept as a fallback for traffic) do not count.
            let local = info.externalEndpoints.lazy.filter { $0.isLocal && $0.ready }.map(\.description)
            probes[id, default: [:]][key] = Probe(port: port, endpoints: Set(local))
        } else if probes[id]?.removeValue(forKey: key) != nil, probes[id]?.isEmpty == true {
            probes[id] = nil
        }

        if let old = noLocal.removeValue(forKey: key) { count(old, by: -1) }
        if let info {
            // kube-proxy counts a port whose Local policy has nothing here while the Service
            // has endpoints somewhere: its traffic of that kind is dropped on this node.
            let entry = NoLocal(family: info.family,
                                internal: info.internalPolicyLocal && info.hasEndpoints && info.clusterEndpoints.isEmpty,
                                external: info.externalPolicyLocal && info.hasEndpoints && info.externalEndpoints.isEmpty)
            if entry.internal || entry.external {
                noLocal[key] = entry
                count(entry, by: 1)
            }
        }
    }

    private mutating func count(_ entry: NoLocal, by delta: Int) {
        var c = counts[entry.family] ?? NoLocalEndpointCounts()
        if entry.internal { c.internal += delta }
        if entry.external { c.external += delta }
        counts[entry.family] = c
    }

    private mutating func recount(_ id: ServiceID) {
        guard let ports = probes[id], let port = ports.values.map(\.port).min() else {
            services[id] = nil
            return
        }
        var endpoints: Set<String> = []
        for probe in ports.values { endpoints.formUnion(probe.endpoints) }
        services[id] = HealthCheckedService(namespace: id.namespace, name: id.name, port: port,
                                            localEndpoints: endpoints.count)
    }
}
