import KubeModels

/// What `ServiceChangeTracker.update()` hands the proxier.
public struct ServicePortUpdate: Sendable {
    /// Keys whose ServicePortInfo was added, changed or removed since the previous update.
    public var changed: Set<ServicePortKey>
    /// Every current service port. A copy-on-write value: returning it costs nothing, but a
    /// copy still held when the next `update()` runs makes that update copy the whole map,
    /// so read it and let it go (or read `ServiceChangeTracker.ports` when needed).
    public var ports: [ServicePortKey: ServicePortInfo]
    /// Problems found in the objects recomputed by this update, in Service order.
    public var diagnostics: [Diagnostic]
    /// The value each changed key had before this update (absent for added keys): what UDP
    /// conntrack cleanup needs, as kube-proxy's deleted-UDP-endpoint and stale-service lists.
    public var previous: [ServicePortKey: ServicePortInfo] = [:]

    /// The current service ports, sorted by key. The keys are sorted, not the (large) values.
    public var sortedPorts: [ServicePortInfo] {
        let entries = Array(ports.values)
        return entries.indices.sorted { entries[$0].key < entries[$1].key }.map { entries[$0] }
    }
}

/// kube-proxy's service and endpoints change trackers in one value: events are recorded
/// as {previous, current} per object (a change that undoes itself is dropped at once) and
/// `update()` recomputes only the Services they touch. Nothing per event or per update is
/// proportional to the number of Services, except a change of the node's zone, after which
/// every Service is recomputed (kube-proxy resyncs fully on a topology label change too).
public struct ServiceChangeTracker: Sendable {
    struct Change<T: Sendable & Equatable>: Sendable {
        var previous: T?
        var current: T?
    }

    public private(set) var node: NodeContext
    /// The last good Sluice annotations of each Service; persists across updates.
    public private(set) var memory: LastGoodConfigs

    private var services: [ObjectKey: Service] = [:]
    private var slices: [ObjectKey: EndpointSlice] = [:]
    /// Service (namespace, `kubernetes.io/service-name`) → slice name → slice.
    private var slicesByService: [ObjectKey: [String: EndpointSlice]] = [:]
    private var pendingServices: [ObjectKey: Change<Service>] = [:]
    private var pendingSlices: [ObjectKey: Change<EndpointSlice>] = [:]
    private var zoneChanged = false
    /// Backend Service → traffic-split Services that draw endpoints from it.
    private var splitDependents: [ObjectKey: Set<ObjectKey>] = [:]
    private var splitBackends: [ObjectKey: [ObjectKey]] = [:]
    private var portsByService: [ObjectKey: [ServicePortKey]] = [:]
    private var current: [ServicePortKey: ServicePortInfo] = [:]
    /// How many Services the last `update()` recomputed (tests hold the tracker to its promise).
    private(set) var lastRecomputed = 0
    /// The Services the last `update()` recomputed, in order.
    private(set) var recomputedOrder: [ObjectKey] = []

    public init(node: NodeContext, memory: LastGoodConfigs = LastGoodConfigs()) {
        self.node = node
        self.memory = memory
    }

    /// Room for this many objects, before recording them in bulk.
    public mutating func reserveCapacity(services n: Int, slices m: Int) {
        services.reserveCapacity(n)
        pendingServices.reserveCapacity(n)
        portsByService.reserveCapacity(n)
        current.reserveCapacity(n)
        slices.reserveCapacity(m)
        pendingSlices.reserveCapacity(m)
        slicesByService.reserveCapacity(n)
    }

    /// The service ports of the Services the last `update()` recomputed, sorted by key: by
    /// Service (already in order), then each Service's few ports (no sort of all ports).
    public var recomputedPorts: [ServicePortInfo] {
        var out: [ServicePortInfo] = []
        out.reserveCapacity(current.count)
        for service in recomputedOrder {
            for key in (portsByService[service] ?? []).sorted() {
                if let info = current[key] { out.append(info) }
            }
        }
        return out
    }

    /// The service ports as of the last `update()`.
    public var ports: [ServicePortKey: ServicePortInfo] { current }

    /// Services and EndpointSlices whose recorded events wait for the next `update()`, each
    /// object once (a change that undid itself not at all): kube-proxy's pending-changes metrics.
    public var pendingServiceCount: Int { pendingServices.count }
    public var pendingSliceCount: Int { pendingSlices.count }

    /// Whether events arrived since the last `update()` that may change something.
    public var hasPendingChanges: Bool { !pendingServices.isEmpty || !pendingSlices.isEmpty || zoneChanged }

    // MARK: Events

    /// A Service was added or updated.
    public mutating func serviceUpdated(_ service: Service) { Self.record(&pendingServices, applied: services, Self.reduced(service)) }

    public mutating func serviceDeleted(_ service: Service) { serviceDeleted(ObjectKey(service.metadata)) }

    public mutating func serviceDeleted(_ key: ObjectKey) { Self.record(&pendingServices, applied: services, key: key, nil) }

    /// An EndpointSlice was added or updated.
    public mutating func sliceUpdated(_ slice: EndpointSlice) { Self.record(&pendingSlices, applied: slices, Self.reduced(slice)) }

    public mutating func sliceDeleted(_ slice: EndpointSlice) { sliceDeleted(ObjectKey(slice.metadata)) }

    public mutating func sliceDeleted(_ key: ObjectKey) { Self.record(&pendingSlices, applied: slices, key: key, nil) }

    /// A Node was added or updated; only this node's zone label matters.
    public mutating func nodeUpdated(_ node: Node) {
        guard node.metadata.name == self.node.nodeName, node.zone != self.node.zone else { return }
        self.node.zone = node.zone
        zoneChanged = true
    }

    public mutating func apply(_ event: StoreEvent<Service>) {
        switch event {
        case .added(let s), .updated(_, let s): serviceUpdated(s)
        case .deleted(let s): serviceDeleted(s)
        case .synced: break
        }
    }

    public mutating func apply(_ event: StoreEvent<EndpointSlice>) {
        switch event {
        case .added(let s), .updated(_, let s): sliceUpdated(s)
        case .deleted(let s): sliceDeleted(s)
        case .synced: break
        }
    }

    public mutating func apply(_ event: StoreEvent<Node>) {
        switch event {
        case .added(let n), .updated(_, let n): nodeUpdated(n)
        case .deleted, .synced: break
        }
    }

    // Static: an instance method would borrow all of `self` while `pending` (part of it) is
    // mutated, and the copy that forces makes each event copy the whole pending map.
    private static func record<T: KubeResource>(_ pending: inout [ObjectKey: Change<T>], applied: [ObjectKey: T], _ object: T) {
        record(&pending, applied: applied, key: object.key, object)
    }

    private static func record<T: Sendable & Equatable>(_ pending: inout [ObjectKey: Change<T>], applied: [ObjectKey: T],
                                                 key: ObjectKey, _ object: T?) {
        var change = pending[key] ?? Change(previous: applied[key], current: nil)
        change.current = object
        pending[key] = change.previous == change.current ? nil : change
    }

    // MARK: Update

    /// Applies the pending events and recomputes the Services they touch.
    public mutating func update() -> ServicePortUpdate {
        var dirty: Set<ObjectKey> = []
        var diagnostics: [Diagnostic] = []

        for (key, change) in pendingServices {
            services[key] = change.current
            dirty.insert(key)
        }
        pendingServices = [:]

        // In key order (for stable diagnostics); the keys are sorted, not the slices.
        for key in pendingSlices.keys.sorted() {
            guard let change = pendingSlices[key] else { continue }
            if let old = slices[key], let service = Self.serviceKey(of: old) {
                slicesByService[service]?[key.name] = nil
                if slicesByService[service]?.isEmpty == true { slicesByService[service] = nil }
                dirty.insert(service)
            }
            slices[key] = change.current
            guard let new = change.current else { continue }
            if let service = Self.serviceKey(of: new) {
                slicesByService[service, default: [:]][key.name] = new
                dirty.insert(service)
            } else if EndpointSliceMerge.isSelected(new) {
                diagnostics.append(Diagnostic(kind: "EndpointSlice", object: key.description,
                                              field: "metadata.labels[\(ProxyLabel.serviceName)]", value: "",
                                              reason: "no Service named; slice ignored"))
            }
        }
        pendingSlices = [:]

        if zoneChanged {
            dirty.formUnion(services.keys)
            zoneChanged = false
        }
        for key in dirty {
            dirty.formUnion(splitDependents[key] ?? [])
        }

        var changed: Set<ServicePortKey> = []
        var previous: [ServicePortKey: ServicePortInfo] = [:]
        let builder = ServicePortBuilder(node: node)
        let byService = slicesByService
        let known = services
        lastRecomputed = dirty.count
        recomputedOrder = dirty.sorted()
        for key in recomputedOrder {
            var output = ServicePortBuilder.Output()
            if let service = services[key] {
                output = builder.build(service, slices: { name in
                    Array((byService[ObjectKey(namespace: key.namespace, name: name)] ?? [:]).values)
                }, exists: { known[ObjectKey(namespace: key.namespace, name: $0)] != nil }, memory: &memory)
            } else {
                memory.forget(key)
            }
            diagnostics += output.diagnostics
            setSplitBackends(of: key, output.splitBackends.map { ObjectKey(namespace: key.namespace, name: $0) })

            let newKeys = output.ports.map(\.key)
            for old in portsByService[key] ?? [] where !newKeys.contains(old) {
                previous[old] = current.removeValue(forKey: old)
                changed.insert(old)
            }
            for info in output.ports where current[info.key] != info {
                previous[info.key] = current.updateValue(info, forKey: info.key)
                changed.insert(info.key)
            }
            portsByService[key] = newKeys.isEmpty ? nil : newKeys
        }
        // A slice read by several Services (its own, a traffic split's) reports its problems once.
        var seen: Set<Diagnostic> = []
        diagnostics = diagnostics.filter { seen.insert($0).inserted }
        return ServicePortUpdate(changed: changed, ports: current, diagnostics: diagnostics, previous: previous)
    }

    private mutating func setSplitBackends(of service: ObjectKey, _ backends: [ObjectKey]) {
        let old = splitBackends[service] ?? []
        guard old != backends else { return }
        for b in old {
            splitDependents[b]?.remove(service)
            if splitDependents[b]?.isEmpty == true { splitDependents[b] = nil }
        }
        for b in backends { splitDependents[b, default: []].insert(service) }
        splitBackends[service] = backends.isEmpty ? nil : backends
    }

    static func serviceKey(of slice: EndpointSlice) -> ObjectKey? {
        guard let name = slice.serviceName, !name.isEmpty else { return nil }
        return ObjectKey(namespace: slice.metadata.namespace ?? "", name: name)
    }

    // MARK: Reduction

    /// The Service with only what ProxyCore reads, so that changes to anything else
    /// (resourceVersion, selector, status conditions, other annotations) are no-ops.
    static func reduced(_ s: Service) -> Service {
        var spec = s.spec
        spec.selector = nil
        spec.publishNotReadyAddresses = nil
        spec.loadBalancerIP = nil
        spec.loadBalancerClass = nil
        spec.allocateLoadBalancerNodePorts = nil
        spec.ipFamilyPolicy = nil
        spec.trafficDistribution = nil
        spec.ports = spec.ports.map { p in
            var p = p
            p.targetPort = nil
            p.appProtocol = nil
            return p
        }
        return Service(metadata: reducedMeta(s.metadata, labels: [ProxyLabel.serviceProxyName, ProxyLabel.headless]),
                       spec: spec, status: s.status)
    }

    static func reduced(_ s: EndpointSlice) -> EndpointSlice {
        EndpointSlice(
            metadata: reducedMeta(s.metadata, labels: [ProxyLabel.serviceName, ProxyLabel.headless]),
            addressType: s.addressType,
            endpoints: s.endpoints.map { e in
                KubeModels.Endpoint(addresses: Array(e.addresses.prefix(1)), conditions: e.conditions,
                                 nodeName: e.nodeName, hints: e.hints)
            },
            ports: s.ports.map { p in EndpointPort(name: p.name, protocol: p.protocol, port: p.port) })
    }

    static func reducedMeta(_ m: ObjectMeta, labels keep: [String]) -> ObjectMeta {
        let labels = (m.labels ?? [:]).filter { keep.contains($0.key) }
        let annotations = (m.annotations ?? [:]).filter { $0.key.hasPrefix("sluice.dev/") }
        return ObjectMeta(name: m.name, namespace: m.namespace,
                          labels: labels.isEmpty ? nil : labels, annotations: annotations.isEmpty ? nil : annotations)
    }
}
