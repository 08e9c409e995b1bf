import IPVS
import IPVSProxier
import NetworkTypes
import ProxyCore
import Testing

private func ip(_ s: String) -> IPAddress { IPAddress(s)! }

private func port(_ name: String, clusterIP: String, balancing: LoadBalancing = .random, weights: [UInt16] = [1, 1],
                  local: [Bool] = [false, false], nodePort: UInt16? = nil, family: IPFamily = .v4) -> ServicePortInfo {
    let all = zip(weights.indices, weights).map { i, w in
        Endpoint(address: ip(family == .v4 ? "10.1.0.\(i + 2)" : "fd01::\(i + 2)"), port: 8080, isLocal: local[i], weight: w)
    }
    return ServicePortInfo(
        name: ServicePortName(namespace: "default", name: name, port: "", protocol: .tcp), family: family,
        clusterIP: ip(clusterIP), port: 80, nodePort: nodePort, clusterEndpoints: all,
        externalEndpoints: nodePort == nil ? all : all.filter(\.isLocal), hasEndpoints: true, balancing: balancing)
}

@Suite("IPVS layout of service ports")
struct LayoutTests {
    let layout = IPVSLayout(node: NodeContext(nodeName: "a", nodeIPs: [ip("10.0.0.1"), ip("fd00::1")]))

    @Test("schedulers: rr for equal weights, wrr otherwise, mh with fallback (and port for the 5-tuple)")
    func schedulers() {
        let d = layout.desired([
            port("equal", clusterIP: "10.96.0.1"),
            port("weighted", clusterIP: "10.96.0.2", weights: [3, 1]),
            port("maglev", clusterIP: "10.96.0.3", balancing: .maglev(fiveTuple: false)),
            port("maglev5", clusterIP: "10.96.0.4", balancing: .maglev(fiveTuple: true)),
        ])
        #expect(d.state.text == """
            TCP 10.96.0.1:80 rr
              -> 10.1.0.2:8080 weight 1
              -> 10.1.0.3:8080 weight 1
            TCP 10.96.0.2:80 wrr
              -> 10.1.0.2:8080 weight 3
              -> 10.1.0.3:8080 weight 1
            TCP 10.96.0.3:80 mh flag-1
              -> 10.1.0.2:8080 weight 1
              -> 10.1.0.3:8080 weight 1
            TCP 10.96.0.4:80 mh flag-1 flag-2
              -> 10.1.0.2:8080 weight 1
              -> 10.1.0.3:8080 weight 1

            """)
        #expect(d.addresses == [ip("10.96.0.1"), ip("10.96.0.2"), ip("10.96.0.3"), ip("10.96.0.4")])
    }

    @Test("a NodePort gets a service per node address of its family, with the external (eTP Local) endpoints; not on the dummy")
    func nodePort() {
        let d = layout.desired([port("np", clusterIP: "fd02::9", local: [true, false], nodePort: 30001, family: .v6)])
        #expect(d.state.text == """
            TCP [fd00::1]:30001 rr
              -> [fd01::2]:8080 weight 1
            TCP [fd02::9]:80 rr
              -> [fd01::2]:8080 weight 1
              -> [fd01::3]:8080 weight 1

            """)
        #expect(d.addresses == [ip("fd02::9")])
    }

    @Test("two service ports claiming one frontend: the first keeps it, the conflict is named")
    func conflict() {
        let d = layout.desired([port("b", clusterIP: "10.96.0.1", weights: [5, 1]), port("a", clusterIP: "10.96.0.1")])
        #expect(d.state.services.count == 1)
        #expect(d.state.services.values.first?.service.scheduler == .roundRobin)
        #expect(d.conflicts == ["TCP 10.96.0.1:80 is claimed by default/a/TCP/IPv4 and default/b/TCP/IPv4; default/a/TCP/IPv4 keeps it"])
    }
}
