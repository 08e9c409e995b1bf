import KubeModels
@testable import ProxyCore
import Testing

/// The endpoint lists of the one port `ns/web:http` (IPv4), as kube-proxy's CategorizeEndpoints
/// and the proxier's internal/external policy choice produce them.
struct Lists: Equatable, CustomStringConvertible {
    var cluster: [ProxyCore.Endpoint]
    var external: [ProxyCore.Endpoint]
    /// Only when it differs from `cluster` (iTP Local).
    var clusterPolicy: [ProxyCore.Endpoint]?
    var hasEndpoints: Bool

    init(cluster: [ProxyCore.Endpoint], external: [ProxyCore.Endpoint]? = nil, clusterPolicy: [ProxyCore.Endpoint]? = nil,
         hasEndpoints: Bool) {
        self.cluster = cluster
        self.external = external ?? cluster
        self.clusterPolicy = clusterPolicy == cluster ? nil : clusterPolicy
        self.hasEndpoints = hasEndpoints
    }

    init(_ info: ServicePortInfo) {
        cluster = info.clusterEndpoints
        external = info.externalEndpoints
        clusterPolicy = info.clusterPolicyEndpoints == info.clusterEndpoints ? nil : info.clusterPolicyEndpoints
        hasEndpoints = info.hasEndpoints
    }

    var description: String { "cluster \(cluster) external \(external) clusterPolicy \(clusterPolicy.map { "\($0)" } ?? "=") has \(hasEndpoints)" }
}

struct CategorizeCase: Sendable, CustomTestStringConvertible {
    var name: String
    var svc: Service = service()
    var node: NodeContext = nodeA
    var endpoints: [KubeModels.Endpoint]
    var expected: Lists
    var testDescription: String { name }
}

private let nodePortLocal = service {
    $0.spec.type = "NodePort"
    $0.spec.ports[0].nodePort = 30080
    $0.spec.externalTrafficPolicy = "Local"
}
private let itpLocal = service { $0.spec.internalTrafficPolicy = "Local" }
private let bothLocal = service {
    $0.spec.type = "NodePort"
    $0.spec.ports[0].nodePort = 30080
    $0.spec.externalTrafficPolicy = "Local"
    $0.spec.internalTrafficPolicy = "Local"
}

let categorizeCases: [CategorizeCase] = [
    // Cluster policy.
    CategorizeCase(name: "all ready", endpoints: [ep("10.1.0.2"), ep("10.1.0.1", node: "node-a")],
                   expected: Lists(cluster: [pe("10.1.0.1", local: true), pe("10.1.0.2")], hasEndpoints: true)),
    CategorizeCase(name: "no endpoints: reject", endpoints: [], expected: Lists(cluster: [], hasEndpoints: false)),
    CategorizeCase(name: "not-ready endpoints are left out",
                   endpoints: [ep("10.1.0.1"), ep("10.1.0.2", ready: false)],
                   expected: Lists(cluster: [pe("10.1.0.1")], hasEndpoints: true)),
    CategorizeCase(name: "ready and terminating: the ready one only",
                   endpoints: [ep("10.1.0.1"), ep("10.1.0.2", ready: false, serving: true, terminating: true)],
                   expected: Lists(cluster: [pe("10.1.0.1")], hasEndpoints: true)),
    CategorizeCase(name: "none ready: fall back to serving and terminating, not to non-serving ones",
                   endpoints: [ep("10.1.0.1", ready: false, serving: true, terminating: true),
                               ep("10.1.0.2", ready: false, serving: false, terminating: true),
                               ep("10.1.0.3", ready: false)],
                   expected: Lists(cluster: [pe("10.1.0.1", ready: false, serving: true, terminating: true)], hasEndpoints: true)),
    CategorizeCase(name: "none ready nor serving: reject",
                   endpoints: [ep("10.1.0.2", ready: false, serving: false, terminating: true), ep("10.1.0.3", ready: false)],
                   expected: Lists(cluster: [], hasEndpoints: false)),
    // Internal traffic policy Local.
    // Not externally accessible: external traffic has no frontend; its list mirrors kube-proxy's
    // externalPolicyChain (the Cluster policy, unused with iTP Local).
    CategorizeCase(name: "iTP Local: local ready endpoints only", svc: itpLocal,
                   endpoints: [ep("10.1.0.1", node: "node-a"), ep("10.1.0.2", node: "node-b"),
                               ep("10.1.0.3", node: "node-a", ready: false, serving: true, terminating: true)],
                   expected: Lists(cluster: [pe("10.1.0.1", local: true)], external: [], clusterPolicy: [], hasEndpoints: true)),
    CategorizeCase(name: "iTP Local, no local endpoint but remote ones: drop (empty, hasEndpoints)", svc: itpLocal,
                   endpoints: [ep("10.1.0.2", node: "node-b")],
                   expected: Lists(cluster: [], clusterPolicy: [], hasEndpoints: true)),
    CategorizeCase(name: "iTP Local: local fallback to serving+terminating while remote ones are ready", svc: itpLocal,
                   endpoints: [ep("10.1.0.1", node: "node-a", ready: false, serving: true, terminating: true),
                               ep("10.1.0.2", node: "node-b")],
                   expected: Lists(cluster: [pe("10.1.0.1", local: true, ready: false, serving: true, terminating: true)],
                                   external: [], clusterPolicy: [], hasEndpoints: true)),
    CategorizeCase(name: "iTP Local, only a remote terminating one: drop, not reject", svc: itpLocal,
                   endpoints: [ep("10.1.0.2", node: "node-b", ready: false, serving: true, terminating: true)],
                   expected: Lists(cluster: [], clusterPolicy: [], hasEndpoints: true)),
    CategorizeCase(name: "iTP Local, nothing usable anywhere: reject", svc: itpLocal,
                   endpoints: [ep("10.1.0.1", node: "node-a", ready: false)],
                   expected: Lists(cluster: [], clusterPolicy: [], hasEndpoints: false)),
    // External traffic policy Local.
    CategorizeCase(name: "eTP Local: external gets the local endpoints, cluster all", svc: nodePortLocal,
                   endpoints: [ep("10.1.0.1", node: "node-a"), ep("10.1.0.2", node: "node-b")],
                   expected: Lists(cluster: [pe("10.1.0.1", local: true), pe("10.1.0.2", remote: true)],
                                   external: [pe("10.1.0.1", local: true)], hasEndpoints: true)),
    CategorizeCase(name: "eTP Local without local endpoints: external empty (drop), cluster still served", svc: nodePortLocal,
                   endpoints: [ep("10.1.0.2", node: "node-b")],
                   expected: Lists(cluster: [pe("10.1.0.2", remote: true)], external: [], hasEndpoints: true)),
    CategorizeCase(name: "eTP Local: local falls back to terminating on its own; cluster keeps the ready remote one",
                   svc: nodePortLocal,
                   endpoints: [ep("10.1.0.1", node: "node-a", ready: false, serving: true, terminating: true),
                               ep("10.1.0.2", node: "node-b")],
                   expected: Lists(cluster: [pe("10.1.0.2", remote: true)],
                                   external: [pe("10.1.0.1", local: true, ready: false, serving: true, terminating: true)],
                                   hasEndpoints: true)),
    CategorizeCase(name: "eTP Local, no endpoints at all: reject both", svc: nodePortLocal, endpoints: [],
                   expected: Lists(cluster: [], external: [], hasEndpoints: false)),
    CategorizeCase(name: "iTP and eTP Local: both local; the Cluster policy (eTP short circuit) keeps every ready endpoint",
                   svc: bothLocal,
                   endpoints: [ep("10.1.0.1", node: "node-a"), ep("10.1.0.2", node: "node-b")],
                   expected: Lists(cluster: [pe("10.1.0.1", local: true)], external: [pe("10.1.0.1", local: true)],
                                   clusterPolicy: [pe("10.1.0.1", local: true), pe("10.1.0.2", remote: true)], hasEndpoints: true)),
    CategorizeCase(name: "no node name: nothing is local", svc: nodePortLocal, node: NodeContext(nodeName: ""),
                   endpoints: [ep("10.1.0.1", node: "")],
                   expected: Lists(cluster: [pe("10.1.0.1")], external: [], hasEndpoints: true)),
    // Topology (hints).
    CategorizeCase(name: "zone hints on every ready endpoint, some for this zone: those only",
                   endpoints: [ep("10.1.0.1", zones: ["zone-a"]), ep("10.1.0.2", zones: ["zone-b"]),
                               ep("10.1.0.3", ready: false)],
                   expected: Lists(cluster: [pe("10.1.0.1", zones: ["zone-a"])], hasEndpoints: true)),
    CategorizeCase(name: "one ready endpoint without hints: topology off",
                   endpoints: [ep("10.1.0.1", zones: ["zone-a"]), ep("10.1.0.2")],
                   expected: Lists(cluster: [pe("10.1.0.1", zones: ["zone-a"]), pe("10.1.0.2")], hasEndpoints: true)),
    CategorizeCase(name: "hints, none for this zone: topology off",
                   endpoints: [ep("10.1.0.1", zones: ["zone-b"]), ep("10.1.0.2", zones: ["zone-c"])],
                   expected: Lists(cluster: [pe("10.1.0.1", zones: ["zone-b"]), pe("10.1.0.2", zones: ["zone-c"])],
                                   hasEndpoints: true)),
    CategorizeCase(name: "node without a zone: topology off", node: NodeContext(nodeName: "node-a"),
                   endpoints: [ep("10.1.0.1", zones: ["zone-a"]), ep("10.1.0.2", zones: ["zone-b"])],
                   expected: Lists(cluster: [pe("10.1.0.1", zones: ["zone-a"]), pe("10.1.0.2", zones: ["zone-b"])],
                                   hasEndpoints: true)),
    CategorizeCase(name: "PreferSameNode: node hints everywhere, one for this node, win over zone hints",
                   endpoints: [ep("10.1.0.1", node: "node-a", zones: ["zone-a"], nodes: ["node-a"]),
                               ep("10.1.0.2", node: "node-c", zones: ["zone-a"], nodes: ["node-c"])],
                   expected: Lists(cluster: [pe("10.1.0.1", local: true, zones: ["zone-a"], nodes: ["node-a"])], hasEndpoints: true)),
    CategorizeCase(name: "node hints, none for this node: fall back to zone hints",
                   endpoints: [ep("10.1.0.1", zones: ["zone-a"], nodes: ["node-b"]), ep("10.1.0.2", zones: ["zone-b"], nodes: ["node-c"])],
                   expected: Lists(cluster: [pe("10.1.0.1", zones: ["zone-a"], nodes: ["node-b"])], hasEndpoints: true)),
    CategorizeCase(name: "hints only on terminating endpoints: fallback ignores topology",
                   endpoints: [ep("10.1.0.1", ready: false, serving: true, terminating: true, zones: ["zone-b"])],
                   expected: Lists(cluster: [pe("10.1.0.1", ready: false, serving: true, terminating: true, zones: ["zone-b"])],
                                   hasEndpoints: true)),
    CategorizeCase(name: "topology does not narrow the Local policy", svc: nodePortLocal,
                   endpoints: [ep("10.1.0.1", node: "node-a", zones: ["zone-b"]), ep("10.1.0.2", node: "node-b", zones: ["zone-a"])],
                   expected: Lists(cluster: [pe("10.1.0.2", remote: true, zones: ["zone-a"])], external: [pe("10.1.0.1", local: true, zones: ["zone-b"])],
                                   hasEndpoints: true)),
]

@Test(arguments: categorizeCases)
func categorize(_ c: CategorizeCase) throws {
    let result = build([c.svc], [slice(c.endpoints)], node: c.node)
    let info = try #require(result.ports.first { $0.key == key() })
    #expect(Lists(info) == c.expected)
    #expect(result.diagnostics == [])
}
