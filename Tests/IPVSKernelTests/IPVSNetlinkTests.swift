import IPVS
import Netfilter
import NetworkTypes
import SluiceTestSupport
import Testing

@Suite("IPVS over generic netlink, in a kernel that has it", .enabled(if: IPVSKernel.available))
struct IPVSNetlinkTests {
    /// One of each kind Sluice programs: rr, wrr with weights (one drained), sh, mh over the
    /// 5-tuple with fallback, persistence, UDP, IPv6.
    static let representative = IPVSState([
        .init(service: VirtualService(key: tcp("10.96.0.1", 80), scheduler: .roundRobin),
              destinations: [Destination(address: ip("10.1.0.1"), port: 8080),
                             Destination(address: ip("10.1.0.2"), port: 8080)]),
        .init(service: VirtualService(key: tcp("10.96.0.2", 443), scheduler: .weightedRoundRobin),
              destinations: [Destination(address: ip("10.1.0.1"), port: 8443, weight: 3),
                             Destination(address: ip("10.1.0.2"), port: 8443, weight: 1),
                             Destination(address: ip("10.1.0.3"), port: 8443, weight: 0)]),
        .init(service: VirtualService(key: tcp("10.96.0.3", 80), scheduler: .sourceHashing),
              destinations: [Destination(address: ip("10.1.0.4"), port: 80)]),
        .init(service: VirtualService(key: tcp("10.96.0.4", 80), scheduler: .maglev,
                                      flags: [.schedulerFallback, .schedulerPort]),
              destinations: [Destination(address: ip("10.1.0.5"), port: 80, weight: 2),
                             Destination(address: ip("10.1.0.6"), port: 80, weight: 1)]),
        .init(service: .persistent(tcp("10.96.0.5", 80), scheduler: .roundRobin, seconds: 10800),
              destinations: [Destination(address: ip("10.1.0.7"), port: 80)]),
        .init(service: VirtualService(key: udp("10.96.0.10", 53), scheduler: .roundRobin),
              destinations: [Destination(address: ip("10.1.0.8"), port: 53)]),
        .init(service: .persistent(tcp("fd00:96::1", 80), scheduler: .weightedRoundRobin, seconds: 60),
              destinations: [Destination(address: ip("fd00:1::1"), port: 8080, weight: 5)]),
        .init(service: VirtualService(key: tcp("10.96.0.6", 80), scheduler: .roundRobin)),
    ])

    @Test("what is programmed reads back exactly, and an empty kernel reads back empty")
    func readbackEqualsDesired() throws {
        let ns = try NetworkNamespace()
        defer { ns.delete() }
        let (before, after) = try ns.enter {
            let ipvs = try IPVSConnection()
            let before = try ipvs.state()
            try ipvs.apply(IPVSState.diff(from: IPVSState(), to: Self.representative))
            return (before, try ipvs.state())
        }
        #expect(before.isEmpty)
        #expect(after.text == Self.representative.text)
        #expect(after == Self.representative)
        // ipvsadm, a second reader, sees the same table.
        let listing = try ns.exec(["ipvsadm", "-Sn"]).stdout
        #expect(listing.contains("-A -t 10.96.0.2:443 -s wrr"))
        #expect(listing.contains("-a -t 10.96.0.2:443 -r 10.1.0.1:8443 -m -w 3"))
        #expect(listing.contains("-A -t 10.96.0.5:80 -s rr -p 10800"))
        #expect(listing.contains("-A -t [fd00:96::1]:80 -s wrr -p 60"))
        #expect(listing.contains("-A -t 10.96.0.4:80 -s mh -b mh-fallback,mh-port"))
    }

    @Test("edits, removals and additions are applied as diffed, and the diff afterwards is empty")
    func diffConverges() throws {
        let ns = try NetworkNamespace()
        defer { ns.delete() }
        var next = Self.representative
        next.services[tcp("10.96.0.2", 443)]?.destinations[DestinationKey(address: ip("10.1.0.1"), port: 8443)]?.weight = 7
        next.services[tcp("10.96.0.1", 80)]?.destinations[DestinationKey(address: ip("10.1.0.2"), port: 8080)] = nil
        next.services[tcp("10.96.0.3", 80)]?.service.scheduler = .maglev
        next.services[tcp("10.96.0.5", 80)]?.service.timeout = 30
        next.services[udp("10.96.0.10", 53)] = nil
        next.insert(VirtualService(key: tcp("10.96.0.7", 8080), scheduler: .roundRobin),
                    destinations: [Destination(address: ip("10.1.0.9"), port: 80)])
        let (commands, got, remaining) = try ns.enter {
            let ipvs = try IPVSConnection()
            try ipvs.apply(IPVSState.diff(from: IPVSState(), to: Self.representative))
            let commands = IPVSState.diff(from: try ipvs.state(), to: next)
            try ipvs.apply(commands)
            let got = try ipvs.state()
            return (commands, got, IPVSState.diff(from: got, to: next))
        }
        #expect(commands.map(\.description) == [
            "edit virtual service TCP 10.96.0.3:80 mh",
            "edit virtual service TCP 10.96.0.5:80 rr persistent 30",
            "add virtual service TCP 10.96.0.7:8080 rr",
            "edit destination 10.1.0.1:8443 weight 7 of virtual service TCP 10.96.0.2:443",
            "add destination 10.1.0.9:80 weight 1 to virtual service TCP 10.96.0.7:8080",
            "delete destination 10.1.0.2:8080 from virtual service TCP 10.96.0.1:80",
            "delete virtual service UDP 10.96.0.10:53",
        ])
        #expect(got == next)
        #expect(remaining.isEmpty)
    }

    @Test("a refused command is named, with the virtual service, and the others still apply")
    func errorsNameTheService() throws {
        let ns = try NetworkNamespace()
        defer { ns.delete() }
        let key = tcp("10.96.0.1", 80)
        let (error, after) = try ns.enter {
            let ipvs = try IPVSConnection()
            try ipvs.apply([.addService(VirtualService(key: key, scheduler: .roundRobin))])
            var caught: IPVSError?
            do {
                try ipvs.apply([
                    .addService(VirtualService(key: key, scheduler: .roundRobin)),
                    .addService(VirtualService(key: tcp("10.96.0.2", 80), scheduler: IPVSScheduler(rawValue: "nosuch"))),
                    .addDestination(key, Destination(address: ip("10.1.0.1"), port: 80)),
                ])
            } catch let e as IPVSError {
                caught = e
            }
            return (caught, try ipvs.state())
        }
        #expect(error?.virtualService == key)
        #expect(error?.errno == 17)
        #expect(error?.otherFailures == 1)
        #expect(error?.description == "the kernel refused to add virtual service TCP 10.96.0.1:80 rr: EEXIST — the virtual service already exists (edit it instead); 1 more command(s) failed, the rest were applied")
        #expect(after.text == "TCP 10.96.0.1:80 rr\n  -> 10.1.0.1:80 weight 1\n")
    }

    @Test("an unknown scheduler is refused with ENOENT and a hint to load its module")
    func unknownScheduler() throws {
        let ns = try NetworkNamespace()
        defer { ns.delete() }
        let error = try ns.enter { () -> IPVSError? in
            do {
                try IPVSConnection().apply([.addService(VirtualService(key: tcp("10.96.0.2", 80), scheduler: IPVSScheduler(rawValue: "nosuch")))])
                return nil
            } catch let e as IPVSError { return e }
        }
        #expect(error?.description == "the kernel refused to add virtual service TCP 10.96.0.2:80 nosuch: ENOENT — no such scheduler: load its module (ip_vs_rr, ip_vs_wrr, ip_vs_sh, ip_vs_mh)")
    }
}
