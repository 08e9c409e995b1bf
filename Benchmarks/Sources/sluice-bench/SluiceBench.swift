import ArgumentParser
import BenchShapes
import Foundation
import NFTables
import Netfilter
import SluiceTestSupport

@main
struct SluiceBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice-bench",
        abstract: "Sluice's scale benchmarks, run side by side in private network namespaces.",
        subcommands: [Load.self, LayoutsCommand.self, Phases.self, ApplyCommand.self, AgentBenchCommand.self, ServeAPICommand.self]
    )
}

/// Loads N Service-shaped chains from empty, through Sluice's netlink layer and through
/// `nft -f`, best of `--runs`, each into a fresh namespace.
struct Load: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Full load of N Services × 2 endpoints: Sluice vs nft -f.")

    @Option(help: "Comma-separated Service counts.")
    var services: String = "10000,100000"

    @Option(help: "Runs per measurement; the best is reported.")
    var runs: Int = 3

    @Flag(help: "Also check, at the smallest N, that both loads read back identical.")
    var verify = false

    func run() throws {
        let counts = services.split(separator: ",").compactMap { Int($0) }
        print("| Services | build model (s) | encode (s) | send + kernel commit (s) | Sluice total (s) | nft -f (s) | nft / Sluice | batch MB |")
        print("|---|---|---|---|---|---|---|---|")
        if verify, let n = counts.min() { try checkSame(n) }
        for n in counts {
            var best = (build: Double.infinity, encode: Double.infinity, apply: Double.infinity, total: Double.infinity)
            var bytes = 0
            for _ in 0..<runs {
                let t0 = now()
                let t = ServiceShape.transaction(services: n)
                let t1 = now()
                bytes = try NFTablesConnection.encodedSize(of: t)
                let t2 = now()
                let ns = try NetworkNamespace("sl-bench")
                defer { ns.delete() }
                let apply = try ns.enter {
                    let conn = try NFTablesConnection()
                    let a = now()
                    try conn.apply(t)
                    return now() - a
                }
                // apply includes encoding again; kernel share = apply - encode.
                let build = t1 - t0, encode = t2 - t1
                if build + apply < best.total { best = (build, encode, apply - encode, build + apply) }
            }
            let script = ServiceShape.nftScript(services: n)
            let path = "/tmp/sluice-bench-\(getpid()).nft"
            try script.write(toFile: path, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(atPath: path) }
            var nftBest = Double.infinity
            for _ in 0..<runs {
                let ns = try NetworkNamespace("sl-bench")
                defer { ns.delete() }
                let a = now()
                try ns.exec(["nft", "-f", path])
                nftBest = min(nftBest, now() - a)
            }
            print(String(format: "| %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.1f× | %.1f |",
                         n, best.build, best.encode, best.apply, best.total, nftBest, nftBest / best.total, Double(bytes) / 1e6))
        }
    }

    private func checkSame(_ n: Int) throws {
        let a = try NetworkNamespace("sl-bench"), b = try NetworkNamespace("sl-bench")
        defer {
            a.delete()
            b.delete()
        }
        let viaSluice = try a.enter {
            let c = try NFTablesConnection()
            try c.apply(ServiceShape.transaction(services: n))
            return try c.ruleset()
        }
        try b.exec(["nft", "-f", "-"], input: ServiceShape.nftScript(services: n))
        let viaNft = try b.enter { try NFTablesConnection().ruleset() }
        guard viaSluice.normalized == viaNft.normalized else {
            throw ValidationError("the Sluice and nft loads of \(n) Services differ")
        }
        print("<!-- verified: Sluice and nft -f loads of \(n) Services read back identical -->")
    }
}

struct LayoutsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "layouts",
        abstract: "Sluice's layout vs a chain per Service: load, one endpoint change, connect latency.")

    @Option(help: "Comma-separated Service counts.")
    var services: String = "10000,100000"
    @Option(help: "Endpoint changes to time (median reported).")
    var changes: Int = 20
    @Option(help: "TCP connects per latency measurement.")
    var connects: Int = 300

    func run() throws {
        try Layouts(services: services.split(separator: ",").compactMap { Int($0) }, changes: changes, connects: connects).run()
    }
}

struct Phases: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "CPU time of a full sync's user-space phases.")
    @Option(help: "Comma-separated Service counts.")
    var services: String = "10000,100000"
    func run() throws {
        for n in services.split(separator: ",").compactMap({ Int($0) }) {
            try FullSyncPhases.run(n)
            try EncodePhases.run(n)
        }
    }
}

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
