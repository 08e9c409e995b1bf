import BenchShapes
import Foundation
import NFTables
import Netfilter
import NetworkTypes
import Proxier
import ProxyCore
import SluiceTestSupport

/// The layout decision, measured: Sluice's element-only layout (dispatch map → class chain →
/// backend map) against a chain per Service (the shape DESIGN.md's C floor used), side by side
/// in one run, on the same rig: full load from empty, one endpoint change, first-packet TCP
/// connect latency to the last Service (and, as the floor, straight to the endpoint without NAT).
struct Layouts {
    var services: [Int]
    var changes: Int
    var connects: Int

    static func servicePorts(_ n: Int, endpoints: [String] = ["10.1.0.2", "10.1.0.3"]) -> [ServicePortInfo] {
        (0..<n).map { i in
            ServicePortInfo(
                name: ServicePortName(namespace: "bench", name: "svc-\(i)", port: "http", protocol: .tcp), family: .v4,
                clusterIP: .v4(ServiceShape.serviceIP(i)), port: 80,
                clusterEndpoints: endpoints.map { Endpoint(address: IPAddress($0)!, port: 8080) }, hasEndpoints: true)
        }
    }

    func run() throws {
        print("| Services | layout | full load (s) | of which model+encode (s) | one endpoint change, median (ms) | connect p50 / p99 to last Service (µs) | no-NAT p50 / p99 (µs) | NAT / no-NAT p50 |")
        print("|---|---|---|---|---|---|---|---|")
        for n in services {
            try measureSluice(n)
            try measureChainPerService(n)
        }
    }

    /// Connect latency to the last Service and, interleaved, straight to the endpoint (no NAT).
    private func latency(_ rig: ProxyRig, _ n: Int) throws -> (ConnectLatency.Result, ConnectLatency.Result) {
        let r = try ConnectLatency.measure(from: rig.client, targets: [(ServiceShape.serviceIP(n - 1).description, 80), ("10.1.0.2", 8080)],
                                           count: connects)
        return (r[0], r[1])
    }

    private func measureSluice(_ n: Int) throws {
        let rig = try ProxyRig()
        defer { rig.delete() }
        let conn = try rig.node.enter { try NFTablesConnection() }
        let ports = Self.servicePorts(n)
        var proxier = NFTProxier(families: [.v4], options: ProxierOptions())
        let (load, modelEncode) = try Self.timedLoad(conn) { proxier.fullSync(ports, live: Ruleset()) }
        var times: [Double] = []
        for k in 0..<changes {
            var p = ports[(k * 7919) % n]
            p.clusterEndpoints[1] = Endpoint(address: IPAddress("10.1.0.\(4 + k % 4)")!, port: 8080)
            let a = now()
            try conn.apply(proxier.update([(p.key, p)]))
            times.append(now() - a)
        }
        times.sort()
        let (nat, direct) = try latency(rig, n)
        print(String(format: "| %d | Sluice (maps + class chains) | %.3f | %.3f | %.2f | %.0f / %.0f | %.0f / %.0f | %.2f× |",
                     n, load, modelEncode, times[times.count / 2] * 1000, nat.p50, nat.p99, direct.p50, direct.p99, nat.p50 / direct.p50))
    }

    /// A full load as `sluice apply` does it: the model, then one apply (encode, send, commit).
    /// Encoding is timed again on its own, outside the load, for the user-space column.
    private static func timedLoad(_ conn: NFTablesConnection, _ model: () -> Transaction) throws -> (load: Double, modelEncode: Double) {
        let t0 = now()
        let t = model()
        let t1 = now()
        try conn.apply(t)
        let load = now() - t0
        let e0 = now()
        _ = try NFTablesConnection.encodedSize(of: t)
        return (load, (t1 - t0) + (now() - e0))
    }

    private func measureChainPerService(_ n: Int) throws {
        let rig = try ProxyRig()
        defer { rig.delete() }
        let conn = try rig.node.enter { try NFTablesConnection() }
        let (load, modelEncode) = try Self.timedLoad(conn) {
            ServiceShape.transaction(services: n, endpoints: [IPv4Address(10, 1, 0, 2), IPv4Address(10, 1, 0, 3)])
        }
        var times: [Double] = []
        for k in 0..<changes {
            let i = (k * 7919) % n
            var c = Transaction()
            let chain = ChainID(ServiceShape.table, ServiceShape.chainName(i))
            c.append(.flushChain(chain))
            for r in ServiceShape.rules(i, endpoints: [IPv4Address(10, 1, 0, 2), IPv4Address(10, 1, 0, UInt8(4 + k % 4))]) { c.add(r) }
            let a = now()
            try conn.apply(c)
            times.append(now() - a)
        }
        times.sort()
        let (nat, direct) = try latency(rig, n)
        print(String(format: "| %d | chain per Service | %.3f | %.3f | %.2f | %.0f / %.0f | %.0f / %.0f | %.2f× |",
                     n, load, modelEncode, times[times.count / 2] * 1000, nat.p50, nat.p99, direct.p50, direct.p99, nat.p50 / direct.p50))
    }
}



/// Where a full sync's user-space time goes, phase by phase (CPU time of this thread, so other
/// load on the machine does not count).
enum FullSyncPhases {
    static func cpu() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func run(_ n: Int) throws {
        let ports = Layouts.servicePorts(n)
        var proxier = NFTProxier(families: [.v4], options: ProxierOptions())
        let a = cpu()
        let t = proxier.fullSync(ports, live: Ruleset())
        let b = cpu()
        let r = proxier.currentRuleset
        let c = cpu()
        let t2 = Transaction.adding(r)
        let d = cpu()
        let bytes = try NFTablesConnection.encodedSize(of: t2)
        let e = cpu()
        print(String(format: "| %d | fullSync %.3f | of it currentRuleset %.3f, Transaction %.3f | encode %.3f | %d commands, %.1f MB |",
                     n, b - a, c - b, d - c, e - d, t.commands.count, Double(bytes) / 1e6))
    }
}

/// CPU time to build and to encode the chain-per-Service shape (issue 2's load benchmark).
enum EncodePhases {
    static func run(_ n: Int) throws {
        let a = FullSyncPhases.cpu()
        let t = ServiceShape.transaction(services: n)
        let b = FullSyncPhases.cpu()
        _ = try NFTablesConnection.encodedSize(of: t)
        let c = FullSyncPhases.cpu()
        print(String(format: "| %d | chain per Service: model %.3f | encode %.3f |", n, b - a, c - b))
    }
}
