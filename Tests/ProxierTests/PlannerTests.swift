import NetworkTypes
import NFTables
import Proxier
import ProxyCore
import Testing

/// The incremental planner against the in-memory kernel (`Ruleset.applying`, which refuses what
/// the kernel refuses): after every update, the "kernel" holds exactly what the proxier believes.
@Suite("Proxier: incremental updates keep the kernel equal to the desired state")
struct PlannerTests {
    static func port(_ name: String, _ last: UInt8, endpoints: [String]) -> ServicePortInfo {
        ServicePortInfo(
            name: ServicePortName(namespace: "p", name: name, port: "http", protocol: .tcp), family: .v4,
            clusterIP: .v4(IPv4Address(10, 96, 1, last)), port: 80,
            clusterEndpoints: endpoints.map { Endpoint(address: IPAddress($0)!, port: 8080) }, hasEndpoints: !endpoints.isEmpty)
    }

    @Test("a class chain one port leaves and another takes in the same update is neither duplicated nor lost")
    func classChainHandedOver() throws {
        var proxier = NFTProxier(families: [.v4], options: Services.options)
        var kernel = try Ruleset().applying(proxier.fullSync([Self.port("a", 1, endpoints: ["10.1.0.2", "10.1.0.3"])], live: Ruleset()))
        // "a" (sorted first) leaves lb-2-shaped chain lbc-2; "b" takes it in the same batch.
        let b = Self.port("b", 2, endpoints: ["10.1.0.4", "10.1.0.5"])
        kernel = try kernel.applying(proxier.update([(Self.port("a", 1, endpoints: []).key, nil), (b.key, b)]))
        #expect(kernel.normalized == proxier.currentRuleset.normalized)
        kernel = try kernel.applying(proxier.update([]))
        #expect(kernel.normalized == proxier.currentRuleset.normalized)
    }

    @Test("a class chain left unused is deleted on the next sync, and can come back later")
    func classChainComesBack() throws {
        var proxier = NFTProxier(families: [.v4], options: Services.options)
        let a = Self.port("a", 1, endpoints: ["10.1.0.2", "10.1.0.3", "10.1.0.4"])
        var kernel = try Ruleset().applying(proxier.fullSync([a], live: Ruleset()))
        kernel = try kernel.applying(proxier.update([(a.key, nil)]))
        #expect(kernel.chains.contains { $0.name == "lbc-3" })
        kernel = try kernel.applying(proxier.update([]))
        #expect(!kernel.chains.contains { $0.name == "lbc-3" })
        kernel = try kernel.applying(proxier.update([(a.key, a)]))
        #expect(kernel.normalized == proxier.currentRuleset.normalized)
    }

    @Test("hairpin entries: this node's endpoints and those of unknown node, not other nodes' (their pods never hairpin here)")
    func hairpinOnlyHere() throws {
        var remote = Endpoint(address: IPAddress("10.1.0.3")!, port: 8080)
        remote.onOtherNode = true
        let port = ServicePortInfo(
            name: ServicePortName(namespace: "p", name: "h", port: "http", protocol: .tcp), family: .v4,
            clusterIP: .v4(IPv4Address(10, 96, 1, 9)), port: 80,
            clusterEndpoints: [Endpoint(address: IPAddress("10.1.0.2")!, port: 8080, isLocal: true), remote,
                               Endpoint(address: IPAddress("10.1.0.4")!, port: 8080)],
            hasEndpoints: true)
        let r = NFTProxier.desiredRuleset([port], families: [.v4], options: Services.options)
        let hairpin = try #require(r.sets.first { $0.name == Layout.hairpin })
        #expect(hairpin.elements.map(\.key).sorted { $0.lexicographicallyPrecedes($1) }
                == [[10, 1, 0, 2, 10, 1, 0, 2], [10, 1, 0, 4, 10, 1, 0, 4]])
    }
}
