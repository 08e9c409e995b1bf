import KubeModels
import NetworkTypes
@testable import ProxyCore
import Testing

/// EndpointSlices → endpoints per service port, as kube-proxy's EndpointSliceCache merges them.
struct SliceCase: Sendable, CustomTestStringConvertible {
    var name: String
    var svc: Service = service()
    var slices: [EndpointSlice]
    /// Cluster endpoints per key; keys not listed must have none.
    var expected: [ServicePortKey: [ProxyCore.Endpoint]]
    var diagnostics: [String] = []
    var testDescription: String { name }
}

private let dualStack = service(ports: [ServicePort(name: "http", port: 80), ServicePort(name: "metrics", port: 9090)]) {
    $0.spec.clusterIPs = ["10.0.0.10", "fd00::10"]
    $0.spec.ipFamilies = ["IPv4", "IPv6"]
}

let sliceCases: [SliceCase] = [
    SliceCase(name: "port resolved by the slice port of the same name and protocol",
              svc: service(ports: [ServicePort(name: "http", port: 80, targetPort: .string("web")),
                                   ServicePort(name: "dns", protocol: .udp, port: 53)]),
              slices: [slice([ep("10.1.0.1")], ports: [EndpointPort(name: "http", port: 8080), EndpointPort(name: "dns", protocol: .udp, port: 5353),
                                                      EndpointPort(name: "dns", protocol: .tcp, port: 5300)])],
              expected: [key(): [pe("10.1.0.1", 8080)], key(port: "dns", .v4, .udp): [pe("10.1.0.1", 5353)]]),
    SliceCase(name: "no slice port of that name: no endpoints",
              slices: [slice([ep("10.1.0.1")], ports: [EndpointPort(name: "https", port: 8443)])],
              expected: [key(): []]),
    SliceCase(name: "unnamed service port matches the unnamed slice port",
              svc: service(ports: [ServicePort(port: 80)]),
              slices: [slice([ep("10.1.0.1")], ports: [EndpointPort(port: 8080)])],
              expected: [key(port: ""): [pe("10.1.0.1", 8080)]]),
    SliceCase(name: "merged across slices and sorted; a duplicate address keeps the local copy",
              slices: [slice([ep("10.1.0.9"), ep("10.1.0.1", node: "node-b")], name: "web-a"),
                       slice([ep("10.1.0.1", node: "node-a"), ep("10.1.0.5")], name: "web-b")],
              expected: [key(): [pe("10.1.0.1", local: true), pe("10.1.0.5"), pe("10.1.0.9")]]),
    SliceCase(name: "duplicate address, neither local: the first slice by name wins",
              slices: [slice([ep("10.1.0.1", ready: false)], name: "web-b"), slice([ep("10.1.0.1")], name: "web-a")],
              expected: [key(): [pe("10.1.0.1")]]),
    SliceCase(name: "the same address on two ports of one slice is two endpoints",
              svc: service(ports: [ServicePort(name: "http", port: 80), ServicePort(name: "metrics", port: 9090)]),
              slices: [slice([ep("10.1.0.1")], ports: [EndpointPort(name: "http", port: 8080), EndpointPort(name: "metrics", port: 9100)])],
              expected: [key(): [pe("10.1.0.1", 8080)], key(port: "metrics"): [pe("10.1.0.1", 9100)]]),
    SliceCase(name: "dual-stack: IPv4 slices feed the IPv4 ports, IPv6 slices the IPv6 ones; FQDN slices are ignored",
              svc: dualStack,
              slices: [slice([ep("10.1.0.1")], name: "web-v4", ports: [EndpointPort(name: "http", port: 8080), EndpointPort(name: "metrics", port: 9100)]),
                       slice([ep("fd00:1::1", node: "node-a")], name: "web-v6", addressType: "IPv6",
                             ports: [EndpointPort(name: "http", port: 8080), EndpointPort(name: "metrics", port: 9100)]),
                       slice([ep("db.example")], name: "web-fqdn", addressType: "FQDN")],
              expected: [key(): [pe("10.1.0.1", 8080)], key(port: "metrics"): [pe("10.1.0.1", 9100)],
                         key(port: "http", .v6): [pe("fd00:1::1", 8080, local: true)], key(port: "metrics", .v6): [pe("fd00:1::1", 9100, local: true)]]),
    SliceCase(name: "only the first address of an endpoint is used",
              slices: [slice([KubeModels.Endpoint(addresses: ["10.1.0.1", "10.1.0.2"])])],
              expected: [key(): [pe("10.1.0.1")]]),
    SliceCase(name: "slices of headless Services are ignored",
              slices: [slice([ep("10.1.0.1")], labels: ["service.kubernetes.io/headless": ""])],
              expected: [key(): []]),
    SliceCase(name: "slices of another Service or namespace are ignored",
              slices: [slice([ep("10.1.0.1")], service: "other"), slice([ep("10.1.0.2")], name: "web-x", ns: "other")],
              expected: [key(): []]),
    SliceCase(name: "malformed: wrong family, bad address, no address, port without number, port out of range",
              slices: [slice([ep("fd00::1"), ep("10.1.0.300"), KubeModels.Endpoint(addresses: []), ep("10.1.0.1")],
                             ports: [EndpointPort(name: "http", port: nil), EndpointPort(name: "http", port: 70000),
                                     EndpointPort(name: "http", port: 8080)])],
              expected: [key(): [pe("10.1.0.1")]],
              diagnostics: [
                  #"EndpointSlice ns/web-1: endpoints[0].addresses[0] = "fd00::1": not an IPv4 address; endpoint ignored"#,
                  #"EndpointSlice ns/web-1: endpoints[1].addresses[0] = "10.1.0.300": not an IP address; endpoint ignored"#,
                  #"EndpointSlice ns/web-1: endpoints[2].addresses = "[]": no address; endpoint ignored"#,
                  #"EndpointSlice ns/web-1: ports[0].port = "null": no port number; port ignored"#,
                  #"EndpointSlice ns/web-1: ports[1].port = "70000": not a port number 1…65535; port ignored"#,
              ]),
    SliceCase(name: "malformed: unknown address type",
              slices: [slice([ep("10.1.0.1")], addressType: "IPv5")], expected: [key(): []],
              diagnostics: [#"EndpointSlice ns/web-1: addressType = "IPv5": expected IPv4, IPv6 or FQDN; slice ignored"#]),
    SliceCase(name: "malformed: no service-name label",
              slices: [EndpointSlice(metadata: ObjectMeta(name: "stray", namespace: "ns"), endpoints: [ep("10.1.0.1")],
                                     ports: [EndpointPort(name: "http", port: 8080)])],
              expected: [key(): []],
              diagnostics: [#"EndpointSlice ns/stray: metadata.labels[kubernetes.io/service-name] = "": no Service named; slice ignored"#]),
]

@Test(arguments: sliceCases)
func endpointSlices(_ c: SliceCase) {
    let result = build([c.svc], c.slices)
    let got = Dictionary(uniqueKeysWithValues: result.ports.map { ($0.key, $0.clusterEndpoints) })
    #expect(got == c.expected)
    #expect(result.diagnostics.map(\.description) == c.diagnostics)
}
