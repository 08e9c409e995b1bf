import KubeModels
@testable import ProxyCore
import Testing

/// Sluice's annotations: `sluice.dev/weight` on slices, `load-balancing`, `maglev-hash` and
/// `traffic-split` on Services.
struct AnnotationCase: Sendable, CustomTestStringConvertible {
    var name: String
    var services: [Service]
    var slices: [EndpointSlice]
    /// The port `ns/<expectedService>:http` (IPv4).
    var expectedService = "web"
    var endpoints: [ProxyCore.Endpoint]
    var balancing: LoadBalancing = .random
    var diagnostics: [String] = []
    var testDescription: String { name }
}

private func annotated(_ annotations: [String: String], name: String = "web") -> Service {
    service(name, annotations: annotations)
}

private func backend(_ service: String, _ addresses: [String], name: String? = nil, weight: String? = nil,
                     ready: Bool = true) -> EndpointSlice {
    slice(addresses.map { ep($0, ready: ready) }, name: name ?? "\(service)-1", service: service,
          annotations: weight.map { ["sluice.dev/weight": $0] })
}

private let split = "shop"
private func splitService(_ value: String) -> Service { annotated(["sluice.dev/traffic-split": value], name: split) }

let annotationCases: [AnnotationCase] = [
    AnnotationCase(name: "slice weight applies to every endpoint of the slice",
                   services: [service()], slices: [backend("web", ["10.1.0.1", "10.1.0.2"], weight: "5"),
                                                   backend("web", ["10.1.0.3"], name: "web-2")],
                   endpoints: [pe("10.1.0.1", weight: 5), pe("10.1.0.2", weight: 5), pe("10.1.0.3")]),
    AnnotationCase(name: "slice weight 0 drains", services: [service()], slices: [backend("web", ["10.1.0.1"], weight: "0")],
                   endpoints: [pe("10.1.0.1", weight: 0)]),
    AnnotationCase(name: "bad slice weight: weight 1 and a diagnostic",
                   services: [service()], slices: [backend("web", ["10.1.0.1"], weight: "heavy"), backend("web", ["10.1.0.2"], name: "web-2", weight: "65536")],
                   endpoints: [pe("10.1.0.1"), pe("10.1.0.2")],
                   diagnostics: [
                       #"EndpointSlice ns/web-1: metadata.annotations[sluice.dev/weight] = "heavy": expected an integer 0…65535; using weight 1"#,
                       #"EndpointSlice ns/web-2: metadata.annotations[sluice.dev/weight] = "65536": expected an integer 0…65535; using weight 1"#,
                   ]),
    AnnotationCase(name: "maglev hashes the source address by default",
                   services: [annotated(["sluice.dev/load-balancing": "maglev"])], slices: [backend("web", ["10.1.0.1"])],
                   endpoints: [pe("10.1.0.1")], balancing: .maglev(fiveTuple: false)),
    AnnotationCase(name: "maglev over the 5-tuple",
                   services: [annotated(["sluice.dev/load-balancing": "maglev", "sluice.dev/maglev-hash": "five-tuple"])],
                   slices: [backend("web", ["10.1.0.1"])], endpoints: [pe("10.1.0.1")], balancing: .maglev(fiveTuple: true)),
    AnnotationCase(name: "random, explicitly", services: [annotated(["sluice.dev/load-balancing": "random"])],
                   slices: [backend("web", ["10.1.0.1"])], endpoints: [pe("10.1.0.1")]),
    AnnotationCase(name: "bad load-balancing and maglev-hash: defaults (nothing good seen before) and diagnostics",
                   services: [annotated(["sluice.dev/load-balancing": "round-robin", "sluice.dev/maglev-hash": "dest-ip"])],
                   slices: [backend("web", ["10.1.0.1"])], endpoints: [pe("10.1.0.1")],
                   diagnostics: [
                       #"Service ns/web: metadata.annotations[sluice.dev/load-balancing] = "round-robin": expected random or maglev; keeping random"#,
                       #"Service ns/web: metadata.annotations[sluice.dev/maglev-hash] = "dest-ip": expected source-ip or five-tuple; keeping source-ip"#,
                   ]),
    AnnotationCase(name: "traffic split 90:10 over 3 and 2 endpoints: 30 and 5 per endpoint, i.e. 6:1",
                   services: [splitService("v1=90,v2=10")],
                   slices: [backend("v1", ["10.1.0.1", "10.1.0.2", "10.1.0.3"]), backend("v2", ["10.2.0.1", "10.2.0.2"]),
                            backend(split, ["10.9.0.1"])],
                   expectedService: split,
                   endpoints: [pe("10.1.0.1", weight: 6), pe("10.1.0.2", weight: 6), pe("10.1.0.3", weight: 6),
                               pe("10.2.0.1", weight: 1), pe("10.2.0.2", weight: 1)]),
    AnnotationCase(name: "traffic split 0:100 drains the old group",
                   services: [splitService("v1=0,v2=100")],
                   slices: [backend("v1", ["10.1.0.1"]), backend("v2", ["10.2.0.1", "10.2.0.2"])],
                   expectedService: split,
                   endpoints: [pe("10.1.0.1", weight: 0), pe("10.2.0.1"), pe("10.2.0.2")]),
    AnnotationCase(name: "traffic split: a group's share follows its slices' weights; spaces are allowed",
                   services: [splitService(" v1 = 50 , v2=50 ")],
                   slices: [backend("v1", ["10.1.0.1"], name: "v1-a", weight: "3"), backend("v1", ["10.1.0.2"], name: "v1-b"),
                            backend("v2", ["10.2.0.1"])],
                   expectedService: split,
                   endpoints: [pe("10.1.0.1", weight: 3), pe("10.1.0.2", weight: 1), pe("10.2.0.1", weight: 4)]),
    AnnotationCase(name: "traffic split: only ready endpoints share the group's part",
                   services: [splitService("v1=50,v2=50")],
                   slices: [backend("v1", ["10.1.0.1"]), backend("v1", ["10.1.0.2"], name: "v1-b", ready: false),
                            backend("v2", ["10.2.0.1", "10.2.0.2"])],
                   expectedService: split,
                   endpoints: [pe("10.1.0.1", weight: 2), pe("10.2.0.1"), pe("10.2.0.2")]),
    AnnotationCase(name: "traffic split: a group without endpoints leaves the others all traffic",
                   services: [splitService("v1=90,v2=10"), service("v1", clusterIP: "10.0.2.1")], slices: [backend("v2", ["10.2.0.1"])],
                   expectedService: split, endpoints: [pe("10.2.0.1")]),
    AnnotationCase(name: "traffic split weights too large for 16 bits are scaled, never to 0",
                   services: [splitService("v1=1,v2=65535")],
                   slices: [backend("v1", ["10.1.0.1", "10.1.0.2"]), backend("v2", ["10.2.0.1"])],
                   expectedService: split,
                   endpoints: [pe("10.1.0.1", weight: 1), pe("10.1.0.2", weight: 1), pe("10.2.0.1", weight: 65535)]),
    AnnotationCase(name: "bad traffic split, nothing good before: the Service's own endpoints",
                   services: [splitService("v1=90,v2")],
                   slices: [backend("v1", ["10.1.0.1"]), backend(split, ["10.9.0.1"])],
                   expectedService: split, endpoints: [pe("10.9.0.1")],
                   diagnostics: [#"Service ns/shop: metadata.annotations[sluice.dev/traffic-split] = "v1=90,v2": "v2" is not name=share; keeping the Service's own endpoints"#]),
    AnnotationCase(name: "traffic split to itself", services: [splitService("shop=1")], slices: [],
                   expectedService: split, endpoints: [],
                   diagnostics: [#"Service ns/shop: metadata.annotations[sluice.dev/traffic-split] = "shop=1": a Service cannot split traffic to itself; keeping the Service's own endpoints"#]),
    AnnotationCase(name: "traffic split: bad names, repeated names, all zero", services: [
        splitService("V1=1"), annotated(["sluice.dev/traffic-split": "v1=1,v1=2"], name: "a"),
        annotated(["sluice.dev/traffic-split": "v1=0"], name: "b"), annotated(["sluice.dev/traffic-split": "v1=-1"], name: "c"),
    ], slices: [], expectedService: split, endpoints: [],
    diagnostics: [
        #"Service ns/a: metadata.annotations[sluice.dev/traffic-split] = "v1=1,v1=2": v1 is named twice; keeping the Service's own endpoints"#,
        #"Service ns/b: metadata.annotations[sluice.dev/traffic-split] = "v1=0": all shares are 0; keeping the Service's own endpoints"#,
        #"Service ns/c: metadata.annotations[sluice.dev/traffic-split] = "v1=-1": share "-1" of v1 is not an integer 0…65535; keeping the Service's own endpoints"#,
        #"Service ns/shop: metadata.annotations[sluice.dev/traffic-split] = "V1=1": "V1" is not a Service name; keeping the Service's own endpoints"#,
    ]),
]

@Test(arguments: annotationCases)
func annotations(_ c: AnnotationCase) throws {
    // The Services the slices belong to exist (a traffic split naming a missing one is reported).
    let named = Set(c.services.map(\.metadata.name))
    let backends = Set(c.slices.compactMap { $0.metadata.labels?["kubernetes.io/service-name"] }).subtracting(named)
    let result = build(c.services + backends.sorted().enumerated().map { i, name in service(name, clusterIP: "10.0.1.\(i + 1)") }, c.slices)
    let info = try #require(result.ports.first { $0.key == key(c.expectedService) })
    #expect(info.clusterEndpoints == c.endpoints)
    #expect(info.balancing == c.balancing)
    #expect(result.diagnostics.map(\.description) == c.diagnostics)
}

/// DESIGN.md: a bad value keeps the Service's last good configuration.
@Test func badAnnotationsKeepLastGoodConfiguration() throws {
    let slices = [slice([ep("10.1.0.1"), ep("10.1.0.2")], name: "v1-1", service: "v1"), slice([ep("10.2.0.1")], name: "v2-1", service: "v2")]
    let good = service("shop", annotations: ["sluice.dev/load-balancing": "maglev", "sluice.dev/maglev-hash": "five-tuple",
                                             "sluice.dev/traffic-split": "v1=50,v2=50"])
    let backends = [service("v1", clusterIP: "10.0.2.1"), service("v2", clusterIP: "10.0.2.2")]
    let first = build([good] + backends, slices)
    let expectedEndpoints = [pe("10.1.0.1"), pe("10.1.0.2"), pe("10.2.0.1", weight: 2)]
    let shop = key("shop")
    #expect(first.ports.filter { $0.key == shop }.map(\.clusterEndpoints) == [expectedEndpoints])
    #expect(first.ports.filter { $0.key == shop }.map(\.balancing) == [.maglev(fiveTuple: true)])

    let bad = service("shop", annotations: ["sluice.dev/load-balancing": "fastest", "sluice.dev/maglev-hash": "dest",
                                            "sluice.dev/traffic-split": "v1=50;v2=50"])
    let second = build([bad] + backends, slices, memory: first.memory)
    #expect(second.ports.filter { $0.key == shop }.map(\.clusterEndpoints) == [expectedEndpoints])
    #expect(second.ports.filter { $0.key == shop }.map(\.balancing) == [.maglev(fiveTuple: true)])
    #expect(second.diagnostics.map(\.description) == [
        #"Service ns/shop: metadata.annotations[sluice.dev/load-balancing] = "fastest": expected random or maglev; keeping maglev"#,
        #"Service ns/shop: metadata.annotations[sluice.dev/maglev-hash] = "dest": expected source-ip or five-tuple; keeping five-tuple"#,
        #"Service ns/shop: metadata.annotations[sluice.dev/traffic-split] = "v1=50;v2=50": "v1=50;v2=50" is not name=share; keeping "v1=50,v2=50""#,
    ])

    // Removing the annotations is a good configuration too: back to the defaults.
    let third = build([service("shop")] + backends, slices + [slice([ep("10.9.0.1")], name: "shop-1", service: "shop")],
                      memory: second.memory)
    #expect(third.ports.filter { $0.key == shop }.map(\.clusterEndpoints) == [[pe("10.9.0.1")]])
    #expect(third.ports.filter { $0.key == shop }.map(\.balancing) == [.random])
    #expect(third.memory[ObjectKey(namespace: "ns", name: "shop")] == ServiceAnnotations())
}
