/// kube-proxy's CategorizeEndpoints (pkg/proxy/topology.go): which endpoints the Cluster
/// and the Local traffic policy use, with topology and the terminating fallback.
struct CategorizedEndpoints: Hashable, Sendable {
    /// Nil when the port never uses the Cluster policy (iTP Local and not externally accessible).
    var cluster: [Endpoint]?
    /// Nil when the port never uses the Local policy.
    var local: [Endpoint]?
    /// Whether any endpoint anywhere is usable (ready, or serving and terminating).
    var hasAnyEndpoints: Bool
}

/// The topology mode kube-proxy derives from the hints (it never reads the Service's
/// `trafficDistribution`: the EndpointSlice controller turns that into hints).
enum TopologyMode: Hashable, Sendable {
    case none, sameZone, sameNode
}

enum Categorizer {
    static func categorize(_ endpoints: [Endpoint], usesCluster: Bool, usesLocal: Bool,
                           nodeName: String, zone: String?) -> CategorizedEndpoints {
        var result = CategorizedEndpoints(cluster: nil, local: nil, hasAnyEndpoints: false)
        if endpoints.isEmpty {
            // kube-proxy returns nil lists here; empty lists say the same thing to the proxier.
            result.cluster = usesCluster ? [] : nil
            result.local = usesLocal ? [] : nil
            return result
        }
        if usesCluster {
            let mode = topologyMode(endpoints, nodeName: nodeName, zone: zone)
            var cluster = endpoints.filter { $0.ready && available($0, mode: mode, nodeName: nodeName, zone: zone) }
            // Topology was already dropped when no ready endpoint fits it, so an empty list
            // means nothing is ready anywhere: fall back to serving, terminating endpoints.
            if cluster.isEmpty {
                cluster = endpoints.filter { $0.serving && $0.terminating }
            }
            result.cluster = cluster
            result.hasAnyEndpoints = !cluster.isEmpty
        }
        guard usesLocal else { return result }

        var hasLocalReady = false, hasLocalServingTerminating = false
        for ep in endpoints {
            if ep.ready {
                result.hasAnyEndpoints = true
                hasLocalReady = hasLocalReady || ep.isLocal
            } else if ep.serving && ep.terminating {
                result.hasAnyEndpoints = true
                hasLocalServingTerminating = hasLocalServingTerminating || ep.isLocal
            }
        }
        // The Local policy falls back to terminating endpoints on its own, independently of
        // the Cluster policy, and ignores topology.
        if hasLocalReady {
            result.local = endpoints.filter { $0.isLocal && $0.ready }
        } else if hasLocalServingTerminating {
            result.local = endpoints.filter { $0.isLocal && $0.serving && $0.terminating }
        } else {
            result.local = []
        }
        return result
    }

    /// Same node when every ready endpoint has a node hint and one names this node; else
    /// same zone when every ready endpoint has a zone hint and one names this node's zone;
    /// else no topology (kube-proxy's fallback when hints are partial or miss this node).
    static func topologyMode(_ endpoints: [Endpoint], nodeName: String, zone: String?) -> TopologyMode {
        var hasReady = false
        var allNodeHints = true, hasForNode = false
        var allZoneHints = true, hasForZone = false
        for ep in endpoints where ep.ready {
            hasReady = true
            if let hints = ep.nodeHints, !hints.isEmpty {
                hasForNode = hasForNode || hints.contains(nodeName)
            } else {
                allNodeHints = false
            }
            if let hints = ep.zoneHints, !hints.isEmpty {
                hasForZone = hasForZone || hints.contains(zone ?? "")
            } else {
                allZoneHints = false
            }
        }
        guard hasReady else { return .none }
        if allNodeHints && hasForNode { return .sameNode }
        if allZoneHints && hasForZone { return .sameZone }
        return .none
    }

    static func available(_ ep: Endpoint, mode: TopologyMode, nodeName: String, zone: String?) -> Bool {
        switch mode {
        case .none: true
        case .sameNode: ep.nodeHints?.contains(nodeName) ?? false
        case .sameZone: ep.zoneHints?.contains(zone ?? "") ?? false
        }
    }
}
