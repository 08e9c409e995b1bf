import Foundation
import IPVS
import NetworkTypes
import Netfilter
import SluiceTestSupport
import Testing

/// Real connections through IPVS virtual services: the client namespace connects to a virtual
/// address the node holds on a dummy interface; the pods' listeners answer with the address
/// they were reached on, which names the destination IPVS chose.
@Suite("IPVS schedulers on real packets", .enabled(if: IPVSKernel.available))
struct IPVSPacketTests {
    static let vip = "10.96.0.10"

    /// The rig, the virtual address on a dummy interface of the node, and `state` programmed.
    static func rig(_ state: IPVSState) throws -> ProxyRig {
        let rig = try ProxyRig()
        do {
            try rig.node.exec(["ip", "link", "add", "ipvs-test0", "type", "dummy"])
            try rig.node.exec(["ip", "addr", "add", "\(vip)/32", "dev", "ipvs-test0"])
            try rig.node.exec(["ip", "link", "set", "ipvs-test0", "up"])
            try rig.node.enter { try IPVSConnection().apply(IPVSState.diff(from: IPVSState(), to: state)) }
        } catch {
            rig.delete()
            throw error
        }
        return rig
    }

    static func service(_ scheduler: IPVSScheduler, _ weights: [(String, UInt32)], flags: VirtualServiceFlags = [],
                        protocol p: UInt8 = 6, persistence: UInt32? = nil) -> IPVSState {
        let key = VirtualServiceKey(protocol: p, address: ip(vip), port: 80)
        var s = VirtualService(key: key, scheduler: scheduler, flags: flags)
        if let persistence { s = .persistent(key, scheduler: scheduler, seconds: persistence) }
        return IPVSState([.init(service: s, destinations: weights.map { Destination(address: ip($0.0), port: 8080, weight: $0.1) })])
    }

    /// The destination address each answer names (`10.1.0.2:8080 10.0.0.2` → `10.1.0.2`).
    static func destinations(_ answers: [String]) -> [String] {
        answers.map { $0.split(separator: ":").first.map(String.init) ?? $0 }
    }

    @Test("wrr 3:1 splits 2,000 connections 3:1 within 3 points")
    func weightedSplit() throws {
        let rig = try Self.rig(Self.service(.weightedRoundRobin, [("10.1.0.2", 3), ("10.1.0.3", 1)]))
        defer { rig.delete() }
        let answers = try rig.connect(from: rig.client, to: Self.vip, port: 80, count: 2000, timeout: 2)
        let counts = Dictionary(grouping: Self.destinations(answers), by: { $0 }).mapValues(\.count)
        #expect(answers.count == 2000)
        #expect(Set(counts.keys) == ["10.1.0.2", "10.1.0.3"])
        let share = Double(counts["10.1.0.2", default: 0]) / 2000
        #expect(abs(share - 0.75) <= 0.03, "10.1.0.2 got \(share) of the connections, want 0.75 ± 0.03")
    }

    @Test("a drained destination (weight 0) gets no new connection")
    func drained() throws {
        let rig = try Self.rig(Self.service(.weightedRoundRobin, [("10.1.0.2", 1), ("10.1.0.3", 0)]))
        defer { rig.delete() }
        let answers = try rig.connect(from: rig.client, to: Self.vip, port: 80, count: 50, timeout: 2)
        #expect(Set(Self.destinations(answers)) == ["10.1.0.2"])
    }

    /// 100 clients, each its own source address: where each lands.
    static func placements(_ rig: ProxyRig) throws -> [String: String] {
        let script = """
        import socket, sys
        for i in range(1, 101):
            src = f"10.0.1.{i}"
            s = socket.socket()
            s.settimeout(2)
            s.bind((src, 0))
            try:
                s.connect((sys.argv[1], 80))
                print(src, s.makefile().readline().split(":")[0])
            except OSError as e:
                print(src, "ERROR", e)
            finally:
                s.close()
        """
        let out = try rig.client.exec(["python3", "-c", script, vip]).stdout
        var result: [String: String] = [:]
        for line in out.split(separator: "\n") {
            let f = line.split(separator: " ")
            if f.count >= 2 { result[String(f[0])] = String(f[1]) }
        }
        return result
    }

    @Test("mh keeps clients on their destination when another destination is removed")
    func maglevStability() throws {
        let weights: [(String, UInt32)] = [("10.1.0.2", 1), ("10.1.0.3", 1), ("10.1.0.4", 1)]
        let rig = try Self.rig(Self.service(.maglev, weights))
        defer { rig.delete() }
        let dev = try rig.client.exec(["ip", "-o", "link", "show", "type", "veth"]).stdout
            .split(separator: ":").dropFirst().first.map { String($0.split(separator: "@")[0]).trimmingCharacters(in: .whitespaces) } ?? ""
        for i in 1...100 { try rig.client.exec(["ip", "addr", "add", "10.0.1.\(i)/32", "dev", dev]) }
        try rig.node.exec(["ip", "route", "add", "10.0.1.0/24", "via", "10.0.0.2"])

        let before = try Self.placements(rig)
        let again = try Self.placements(rig)
        let key = VirtualServiceKey(protocol: 6, address: ip(Self.vip), port: 80)
        try rig.node.enter { try IPVSConnection().apply([.deleteDestination(key, DestinationKey(address: ip("10.1.0.4"), port: 8080))]) }
        let after = try Self.placements(rig)

        #expect(before.count == 100)
        #expect(before == again, "mh placed the same clients differently without any change")
        #expect(Set(before.values) == ["10.1.0.2", "10.1.0.3", "10.1.0.4"])
        let survivors = before.filter { $0.value != "10.1.0.4" }
        let moved = survivors.filter { after[$0.key] != $0.value }
        #expect(moved.isEmpty, "clients of the remaining destinations moved: \(moved.keys.sorted())")
        #expect(before.filter { $0.value == "10.1.0.4" }.allSatisfy { after[$0.key] == "10.1.0.2" || after[$0.key] == "10.1.0.3" })
    }

    @Test("persistence keeps a client on one destination until its timeout, then rr moves it on")
    func persistenceUntilTimeout() throws {
        let rig = try Self.rig(Self.service(.roundRobin, [("10.1.0.2", 1), ("10.1.0.3", 1)], protocol: 17, persistence: 2))
        defer { rig.delete() }
        // UDP "connections" of IPVS last 300 s by default and hold the persistence template
        // alive; one second lets the template expire on its own timeout.
        try rig.node.exec(["ipvsadm", "--set", "0", "0", "1"])
        let first = Self.destinations(try rig.udp(from: rig.client, to: Self.vip, port: 80, count: 10, timeout: 2))
        #expect(first.count == 10)
        #expect(Set(first).count == 1, "without persistence rr would alternate: \(first)")
        Thread.sleep(forTimeInterval: 5)
        let later = Self.destinations(try rig.udp(from: rig.client, to: Self.vip, port: 80, count: 10, timeout: 2))
        #expect(Set(later).count == 1)
        #expect(later.first != first.first, "after the timeout the next template goes to the other destination")
    }
}
