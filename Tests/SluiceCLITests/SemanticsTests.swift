import Foundation
import SluiceTestSupport
import Testing

/// Kubernetes objects as the API serves them, through `sluice apply`, onto real packets:
/// the wiring of ManifestSource → ProxyCore → Proxier for the rules that need an object's
/// details (topology hints, terminating endpoints, traffic policies, dual-stack).
let semanticsYAML = """
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: zonal, namespace: t}
  spec: {clusterIP: 10.96.0.40, clusterIPs: [10.96.0.40], ipFamilies: [IPv4], ports: [{name: http, port: 80, targetPort: 8080}]}
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {name: zonal-1, namespace: t, labels: {kubernetes.io/service-name: zonal}}
  addressType: IPv4
  ports: [{name: http, port: 8080, protocol: TCP}]
  endpoints:
  - {addresses: [10.1.0.4], zone: a, nodeName: node1, hints: {forZones: [{name: a}]}}
  - {addresses: [10.1.0.5], zone: b, nodeName: node2, hints: {forZones: [{name: b}]}}
- apiVersion: v1
  kind: Service
  metadata: {name: draining, namespace: t}
  spec: {clusterIP: 10.96.0.41, clusterIPs: [10.96.0.41], ipFamilies: [IPv4], ports: [{name: http, port: 80, targetPort: 8080}]}
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {name: draining-1, namespace: t, labels: {kubernetes.io/service-name: draining}}
  addressType: IPv4
  ports: [{name: http, port: 8080, protocol: TCP}]
  endpoints:
  - {addresses: [10.1.0.6], conditions: {ready: false, serving: true, terminating: true}, nodeName: node2}
  - {addresses: [10.1.0.9], conditions: {ready: false, serving: false, terminating: true}, nodeName: node2}
- apiVersion: v1
  kind: Service
  metadata: {name: local, namespace: t}
  spec:
    type: NodePort
    externalTrafficPolicy: Local
    clusterIP: 10.96.0.42
    clusterIPs: [10.96.0.42]
    ipFamilies: [IPv4]
    ports: [{name: http, port: 80, targetPort: 8080, nodePort: 30090}]
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {name: local-1, namespace: t, labels: {kubernetes.io/service-name: local}}
  addressType: IPv4
  ports: [{name: http, port: 8080, protocol: TCP}]
  endpoints:
  - {addresses: [10.1.0.7], nodeName: node1}
  - {addresses: [10.1.0.8], nodeName: node2}
- apiVersion: v1
  kind: Service
  metadata: {name: dual, namespace: t}
  spec:
    clusterIP: 10.96.0.43
    clusterIPs: [10.96.0.43, "fd02::43"]
    ipFamilies: [IPv4, IPv6]
    ipFamilyPolicy: RequireDualStack
    ports: [{name: http, port: 80, targetPort: 8443}]
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {name: dual-4, namespace: t, labels: {kubernetes.io/service-name: dual}}
  addressType: IPv4
  ports: [{name: http, port: 8443, protocol: TCP}]
  endpoints: [{addresses: [10.1.0.2], nodeName: node1}]
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {name: dual-6, namespace: t, labels: {kubernetes.io/service-name: dual}}
  addressType: IPv6
  ports: [{name: http, port: 8443, protocol: TCP}]
  endpoints: [{addresses: ["fd01::3"], nodeName: node1}]
- apiVersion: v1
  kind: Service
  metadata: {name: zonal6, namespace: t}
  spec: {clusterIP: "fd02::44", clusterIPs: ["fd02::44"], ipFamilies: [IPv6], ports: [{name: http, port: 80, targetPort: 8080}]}
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {name: zonal6-1, namespace: t, labels: {kubernetes.io/service-name: zonal6}}
  addressType: IPv6
  ports: [{name: http, port: 8080, protocol: TCP}]
  endpoints:
  - {addresses: ["fd01::4"], zone: a, nodeName: node1, hints: {forZones: [{name: a}]}}
  - {addresses: ["fd01::5"], zone: b, nodeName: node2, hints: {forZones: [{name: b}]}}
- apiVersion: v1
  kind: Service
  metadata: {name: draining6, namespace: t}
  spec: {clusterIP: "fd02::45", clusterIPs: ["fd02::45"], ipFamilies: [IPv6], ports: [{name: http, port: 80, targetPort: 8080}]}
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {name: draining6-1, namespace: t, labels: {kubernetes.io/service-name: draining6}}
  addressType: IPv6
  ports: [{name: http, port: 8080, protocol: TCP}]
  endpoints:
  - {addresses: ["fd01::6"], conditions: {ready: false, serving: true, terminating: true}, nodeName: node2}
  - {addresses: ["fd01::9"], conditions: {ready: false, serving: false, terminating: true}, nodeName: node2}
- apiVersion: v1
  kind: Service
  metadata: {name: canary6, namespace: t}
  spec: {clusterIP: "fd02::46", clusterIPs: ["fd02::46"], ipFamilies: [IPv6], ports: [{name: http, port: 80, targetPort: 8080}]}
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {name: canary6-stable, namespace: t, labels: {kubernetes.io/service-name: canary6}, annotations: {sluice.dev/weight: "3"}}
  addressType: IPv6
  ports: [{name: http, port: 8080, protocol: TCP}]
  endpoints: [{addresses: ["fd01::7"], nodeName: node2}]
- apiVersion: discovery.k8s.io/v1
  kind: EndpointSlice
  metadata: {name: canary6-next, namespace: t, labels: {kubernetes.io/service-name: canary6}, annotations: {sluice.dev/weight: "1"}}
  addressType: IPv6
  ports: [{name: http, port: 8080, protocol: TCP}]
  endpoints: [{addresses: ["fd01::8"], nodeName: node2}]
"""

@Suite("Kubernetes semantics through sluice apply, on packets", .serialized)
struct SemanticsTests {
    @Test("topology hints, terminating fallback, eTP Local, dual-stack, and the IPv6 side of hints, fallback and weights")
    func table() throws {
        let rig = try ProxyRig()
        defer { rig.delete() }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-sem-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try semanticsYAML.write(to: dir.appendingPathComponent("objects.yaml"), atomically: true, encoding: .utf8)
        try rig.node.exec([sluice, "apply", "--manifests", dir.path, "--node-name", "node1", "--zone", "a",
                           "--cluster-cidr", "10.1.0.0/16", "--cluster-cidr", "fd01::/48"])
        let cases: [(String, NetworkNamespace, String, Int, Int, Set<String>)] = [
            ("topology: every endpoint hinted, this node's zone a gets only zone a's endpoint",
             rig.podClient, "10.96.0.40", 80, 20, ["10.1.0.4:8080 10.1.1.2"]),
            ("no ready endpoint: serving terminating ones take the traffic, not-serving ones never",
             rig.podClient, "10.96.0.41", 80, 20, ["10.1.0.6:8080 10.1.1.2"]),
            ("eTP Local NodePort: only the local endpoint, client source kept",
             rig.client, "10.0.0.1", 30090, 20, ["10.1.0.7:8080 10.0.0.2"]),
            ("eTP Local does not narrow the ClusterIP", rig.podClient, "10.96.0.42", 80, 30,
             ["10.1.0.7:8080 10.1.1.2", "10.1.0.8:8080 10.1.1.2"]),
            ("dual-stack: IPv4 ClusterIP", rig.podClient, "10.96.0.43", 80, 3, ["10.1.0.2:8443 10.1.1.2"]),
            ("dual-stack: IPv6 ClusterIP", rig.podClient, "fd02::43", 80, 3, ["fd01::3:8443 fd01:0:0:1::2"]),
            ("IPv6 topology: zone a gets only zone a's endpoint", rig.podClient, "fd02::44", 80, 20, ["fd01::4:8080 fd01:0:0:1::2"]),
            ("IPv6: no ready endpoint, the serving terminating one takes the traffic",
             rig.podClient, "fd02::45", 80, 20, ["fd01::6:8080 fd01:0:0:1::2"]),
        ]
        for (what, from, address, port, count, expected) in cases {
            let answers = try rig.connect(from: from, to: address, port: port, count: count, timeout: 0.7)
            #expect(Set(answers) == expected, "\(what)")
            #expect(answers.count == count, "\(what)")
        }
        // IPv6 weights: slices weighted 3:1 get 3 of 4 slots and 1.
        let weighted = try rig.connect(from: rig.podClient, to: "fd02::46", port: 80, count: 200, timeout: 1)
        let stable = weighted.filter { $0 == "fd01::7:8080 fd01:0:0:1::2" }.count
        let next = weighted.filter { $0 == "fd01::8:8080 fd01:0:0:1::2" }.count
        #expect(stable + next == 200)
        #expect((120...180).contains(stable), "3:1 over IPv6 gave \(stable):\(next)")
    }
}
