import IPVS
import NetworkTypes
import Testing

private func key(_ a: String, _ port: UInt16) -> VirtualServiceKey {
    VirtualServiceKey(protocol: 6, address: IPAddress(a)!, port: port)
}

private func dest(_ a: String, _ port: UInt16, weight: UInt32 = 1) -> Destination {
    Destination(address: IPAddress(a)!, port: port, weight: weight)
}

@Suite("IPVS state diff")
struct DiffTests {
    let live = IPVSState([
        .init(service: VirtualService(key: key("10.96.0.1", 80), scheduler: .roundRobin),
              destinations: [dest("10.1.0.1", 80), dest("10.1.0.2", 80)]),
        .init(service: VirtualService(key: key("10.96.0.2", 80), scheduler: .roundRobin),
              destinations: [dest("10.1.0.3", 80)]),
    ])

    @Test("no change, no command")
    func equalIsEmpty() {
        #expect(IPVSState.diff(from: live, to: live).isEmpty)
    }

    @Test("new destinations land before old ones leave, services go last")
    func order() {
        var want = live
        want.services[key("10.96.0.2", 80)] = nil
        want.services[key("10.96.0.1", 80)]?.destinations = [dest("10.1.0.9", 80).key: dest("10.1.0.9", 80)]
        #expect(IPVSState.diff(from: live, to: want).map(\.description) == [
            "add destination 10.1.0.9:80 weight 1 to virtual service TCP 10.96.0.1:80",
            "delete destination 10.1.0.1:80 from virtual service TCP 10.96.0.1:80",
            "delete destination 10.1.0.2:80 from virtual service TCP 10.96.0.1:80",
            "delete virtual service TCP 10.96.0.2:80",
        ])
    }

    @Test("a scoped diff touches only the services in scope")
    func scoped() {
        var want = live
        want.services[key("10.96.0.2", 80)] = nil
        want.services[key("10.96.0.1", 80)]?.service.scheduler = .weightedRoundRobin
        let commands = IPVSState.diff(from: live, to: want, scope: [key("10.96.0.1", 80)])
        #expect(commands == [.editService(VirtualService(key: key("10.96.0.1", 80), scheduler: .weightedRoundRobin))])
    }

    @Test("applying the diff to the live value gives the desired value")
    func applyConverges() {
        var want = live
        want.insert(.persistent(key("fd00::1", 443), scheduler: .maglev, seconds: 30), destinations: [dest("fd00:1::1", 443, weight: 4)])
        want.services[key("10.96.0.1", 80)]?.destinations[dest("10.1.0.1", 80).key]?.weight = 0
        var state = live
        for c in IPVSState.diff(from: live, to: want) { state.apply(c) }
        #expect(state == want)
        #expect(state.text == """
            TCP 10.96.0.1:80 rr
              -> 10.1.0.1:80 weight 0
              -> 10.1.0.2:80 weight 1
            TCP 10.96.0.2:80 rr
              -> 10.1.0.3:80 weight 1
            TCP [fd00::1]:443 mh persistent 30
              -> [fd00:1::1]:443 weight 4

            """)
    }
}
