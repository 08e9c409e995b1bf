import KubeModels
import NetworkTypes
@testable import ProxyCore

// Builders that keep the tables short: a Service "ns/web" with ClusterIP 10.0.0.10 and one
// TCP port "http" 80, edited per case; slices of it; endpoints as kube-proxy would see them.

let nodeA = NodeContext(nodeName: "node-a", zone: "zone-a")

func ip(_ s: String) -> IPAddress { IPAddress(s)! }
func prefix(_ s: String) -> IPPrefix { IPPrefix(s)! }

func service(_ name: String = "web", ns: String = "ns", clusterIP: String = "10.0.0.10",
             ports: [ServicePort] = [ServicePort(name: "http", port: 80, targetPort: .int(8080))],
             labels: [String: String]? = nil, annotations: [String: String]? = nil,
             _ edit: (inout Service) -> Void = { _ in }) -> Service {
    var s = Service(metadata: ObjectMeta(name: name, namespace: ns, resourceVersion: "1", labels: labels, annotations: annotations),
                    spec: ServiceSpec(type: "ClusterIP", clusterIP: clusterIP, clusterIPs: [clusterIP], ports: ports))
    edit(&s)
    return s
}

func slice(_ endpoints: [KubeModels.Endpoint], name: String = "web-1", service: String = "web", ns: String = "ns",
           addressType: String = "IPv4", ports: [EndpointPort] = [EndpointPort(name: "http", port: 8080)],
           annotations: [String: String]? = nil, labels extra: [String: String] = [:]) -> EndpointSlice {
    EndpointSlice(
        metadata: ObjectMeta(name: name, namespace: ns, resourceVersion: "1",
                             labels: ["kubernetes.io/service-name": service].merging(extra) { $1 }, annotations: annotations),
        addressType: addressType, endpoints: endpoints, ports: ports)
}

/// An EndpointSlice endpoint; `serving` defaults to `ready` as the API does.
func ep(_ address: String, node: String? = nil, ready: Bool = true, serving: Bool? = nil, terminating: Bool = false,
        zones: [String]? = nil, nodes: [String]? = nil) -> KubeModels.Endpoint {
    let hints = zones == nil && nodes == nil ? nil
        : EndpointHints(forZones: zones?.map { .init(name: $0) }, forNodes: nodes?.map { .init(name: $0) })
    return KubeModels.Endpoint(addresses: [address], conditions: EndpointConditions(ready: ready, serving: serving, terminating: terminating),
                            nodeName: node, hints: hints)
}

/// The ProxyCore endpoint expected for `address`.
/// `remote`: the slice names another node for it.
func pe(_ address: String, _ port: UInt16 = 8080, local: Bool = false, remote: Bool = false, ready: Bool = true, serving: Bool? = nil,
        terminating: Bool = false, zones: Set<String>? = nil, nodes: Set<String>? = nil, weight: UInt16 = 1) -> ProxyCore.Endpoint {
    var e = ProxyCore.Endpoint(address: ip(address), port: port, isLocal: local, ready: ready, serving: serving ?? ready,
                               terminating: terminating, zoneHints: zones, nodeHints: nodes, weight: weight)
    e.onOtherNode = remote
    return e
}

func portName(_ name: String = "web", ns: String = "ns", port: String = "http", _ proto: L4Protocol = .tcp) -> ServicePortName {
    ServicePortName(namespace: ns, name: name, port: port, protocol: proto)
}

func key(_ name: String = "web", port: String = "http", _ family: IPFamily = .v4, _ proto: L4Protocol = .tcp) -> ServicePortKey {
    ServicePortKey(name: portName(name, port: port, proto), family: family)
}

func build(_ services: [Service], _ slices: [EndpointSlice] = [], node: NodeContext = nodeA,
           memory: LastGoodConfigs = LastGoodConfigs()) -> ServicePortSet {
    ServicePortBuilder.servicePorts(services: services, slices: slices, node: node, memory: memory)
}
