import KubeModels

/// ProxyCore turns Kubernetes objects into what the proxier programs: one ServicePortInfo per
/// Service port per IP family, with kube-proxy's rules applied (pkg/proxy: serviceport.go,
/// endpointslicecache.go, topology.go) and Sluice's annotations resolved. It is pure: no I/O,
/// no clock, no logging; problems come back as `Diagnostic` values for the caller to log or
/// turn into Events. It never decides packet handling (reject, drop, masquerade): it states
/// the facts the proxier decides from.
///
/// Entry points: `ServicePortBuilder.servicePorts(services:slices:node:)` for a whole set of
/// objects, `ServiceChangeTracker` for a stream of events.
///
/// `ServicePortBuilder` builds the ServicePortInfos of one Service from the Service, the
/// EndpointSlices of the Services it draws endpoints from, and the node.
public struct ServicePortBuilder: Sendable {
    public var node: NodeContext

    public init(node: NodeContext) { self.node = node }

    /// The result for one Service.
    struct Output {
        var ports: [ServicePortInfo] = []
        var diagnostics: [Diagnostic] = []
        /// Names of the Services whose slices were read for a traffic split (same namespace).
        var splitBackends: [String] = []
    }

    /// `slices(name)` returns the EndpointSlices labelled with that Service name in the
    /// Service's namespace.
    /// `exists(name)`: whether the Service's namespace has a Service of that name (a traffic
    /// split naming one that does not is reported).
    func build(_ service: Service, slices: (String) -> [EndpointSlice], exists: (String) -> Bool = { _ in true },
               memory: inout LastGoodConfigs) -> Output {
        var out = Output()
        let key = ObjectKey(service.metadata)
        var sink = DiagnosticSink(kind: "Service", object: key)
        let frontends = ServiceParser.frontends(service, proxyName: node.proxyName, sink: &sink)
        guard !frontends.isEmpty else {
            memory.forget(key)
            out.diagnostics = sink.diagnostics
            return out
        }
        let annotations = AnnotationParser.service(service, memory: &memory, sink: &sink)
        out.diagnostics = sink.diagnostics

        var endpoints: [EndpointPortKey: [Endpoint]]
        var groupsByPort: [EndpointPortKey: [EndpointID: Int]] = [:]
        if let split = annotations.trafficSplit {
            let missing = split.filter { !exists($0.service) }
            if !missing.isEmpty {
                let names = missing.map(\.service).joined(separator: ", ")
                let rest = split.filter { exists($0.service) && $0.share > 0 }
                out.diagnostics.append(Diagnostic(
                    kind: "Service", object: key.description,
                    field: AnnotationParser.annotationField(SluiceAnnotation.trafficSplit),
                    value: split.map { "\($0.service)=\($0.share)" }.joined(separator: ","),
                    reason: "no Service \(names) in namespace \(key.namespace); "
                        + (rest.isEmpty ? "no endpoints, connections are rejected" : "its share goes to \(rest.map(\.service).joined(separator: ", "))")))
            }
            endpoints = [:]
            for (g, backend) in split.enumerated() {
                out.splitBackends.append(backend.service)
                let merged = EndpointSliceMerge.merge(slices(backend.service), nodeName: node.nodeName)
                out.diagnostics += merged.diagnostics
                for (portKey, list) in merged.endpoints {
                    var groups = groupsByPort[portKey] ?? [:]
                    var union = endpoints[portKey] ?? []
                    // An endpoint behind two backends counts once, for the first group named.
                    for ep in list where groups[EndpointID(ep)] == nil {
                        groups[EndpointID(ep)] = g
                        union.append(ep)
                    }
                    groupsByPort[portKey] = groups
                    endpoints[portKey] = union
                }
            }
            endpoints = endpoints.mapValues { $0.sorted(by: EndpointID.order) }
        } else {
            let merged = EndpointSliceMerge.merge(slices(service.metadata.name), nodeName: node.nodeName)
            endpoints = merged.endpoints
            out.diagnostics += merged.diagnostics
        }

        for f in frontends {
            let portKey = EndpointPortKey(port: f.name.port, protocol: f.name.protocol, family: f.family)
            let c = Categorizer.categorize(endpoints[portKey] ?? [], usesCluster: f.usesClusterEndpoints,
                                           usesLocal: f.usesLocalEndpoints, nodeName: node.nodeName, zone: node.zone)
            var clusterPolicy = c.cluster ?? []
            var local = c.local ?? []
            if let split = annotations.trafficSplit {
                let group = groupsByPort[portKey] ?? [:]
                let shares = split.map(\.share)
                clusterPolicy = TrafficSplitWeights.apply(clusterPolicy, group: group, shares: shares)
                local = TrafficSplitWeights.apply(local, group: group, shares: shares)
            }
            out.ports.append(ServicePortInfo(
                name: f.name, family: f.family, clusterIP: f.clusterIP, port: f.port, nodePort: f.nodePort,
                externalIPs: f.externalIPs, loadBalancerIPs: f.loadBalancerIPs,
                loadBalancerSourceRanges: f.loadBalancerSourceRanges, affinityTimeoutSeconds: f.affinityTimeoutSeconds,
                externalPolicyLocal: f.externalPolicyLocal, internalPolicyLocal: f.internalPolicyLocal,
                healthCheckNodePort: f.healthCheckNodePort,
                // kube-proxy's internalPolicyChain and externalPolicyChain: the Local policy's
                // endpoints where the policy is Local, else the Cluster policy's.
                clusterEndpoints: f.internalPolicyLocal ? local : clusterPolicy,
                externalEndpoints: f.externalPolicyLocal ? local : clusterPolicy,
                hasEndpoints: c.hasAnyEndpoints, balancing: annotations.balancing,
                clusterPolicyEndpoints: clusterPolicy))
        }
        return out
    }
}

/// The service ports of a whole set of objects at once (manifests, `sluice diff`).
public struct ServicePortSet: Sendable {
    /// Sorted by key: one per service port per IP family.
    public var ports: [ServicePortInfo]
    public var diagnostics: [Diagnostic]
    /// Pass to the next call so that bad annotations keep their last good value.
    public var memory: LastGoodConfigs
}

extension ServicePortBuilder {
    /// kube-proxy's view of these objects from this node. `nodes` may hold this node's
    /// Node object, whose zone label then overrides `node.zone`.
    public static func servicePorts(services: [Service], slices: [EndpointSlice], node: NodeContext,
                                    nodes: [Node] = [], memory: LastGoodConfigs = LastGoodConfigs()) -> ServicePortSet {
        var tracker = ServiceChangeTracker(node: node, memory: memory)
        tracker.reserveCapacity(services: services.count, slices: slices.count)
        for n in nodes { tracker.nodeUpdated(n) }
        for s in services { tracker.serviceUpdated(s) }
        for s in slices { tracker.sliceUpdated(s) }
        let update = tracker.update()
        // Every Service was recomputed: their ports, in key order.
        return ServicePortSet(ports: tracker.recomputedPorts, diagnostics: update.diagnostics, memory: tracker.memory)
    }
}
