import Agent
import ArgumentParser
import ClusterShapes
import Foundation
import KubeModels
import NetworkTypes
import ProxyCore
import SluiceTestSupport

/// What `sluice apply` does at scale, from Kubernetes objects into an empty namespace, through
/// the same pipeline (`ProxyPipeline` with the nftables backend): ProxyCore (Services and
/// EndpointSlices to service ports), the proxier's model (with the live readback), then one
/// transaction (encode, send, commit). Objects are built before the clock starts, as an agent
/// has them from its watch. Best of `--runs`, each into a fresh namespace.
struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply", abstract: "sluice apply of N Services × 2 endpoints from Kubernetes objects, phase by phase.")

    @Option(help: "Comma-separated Service counts.")
    var services: String = "10000,100000"

    @Option(help: "Runs per count; the best total is reported.")
    var runs: Int = 3

    func run() throws {
        print("| Services | ProxyCore (s) | proxier model (s) | read back + encode + send + commit (s) | total (s) | commands | Services/s |")
        print("|---|---|---|---|---|---|---|")
        for n in services.split(separator: ",").compactMap({ Int($0) }) {
            let objects = (services: (0..<n).map(makeService), slices: (0..<n).map { makeSlice($0) })
            let node = NodeContext(nodeName: "node-0", clusterCIDRs: [IPPrefix("10.244.0.0/16")!],
                                   serviceCIDRs: [IPPrefix("10.96.0.0/12")!])
            var best = (core: 0.0, model: 0.0, kernel: 0.0, total: Double.infinity, commands: 0)
            for _ in 0..<runs {
                let ns = try NetworkNamespace()
                defer { ns.delete() }
                let outcome = try ns.enter { () throws -> SyncOutcome in
                    var pipeline = ProxyPipeline(node: node, backend: try NFTablesBackend(node: node, conntrack: nil))
                    pipeline.load(services: objects.services, slices: objects.slices)
                    return pipeline.sync()
                }
                guard let report = outcome.report else { throw outcome.failure ?? SyncFailure(ExitCode.failure) }
                precondition(outcome.servicePorts == n, "\(outcome.servicePorts) service ports for \(n) Services")
                let r = (outcome.tracking.seconds, report.planning.seconds, report.kernel.seconds)
                if outcome.duration.seconds < best.total {
                    best = (r.0, r.1, r.2, outcome.duration.seconds, report.commands)
                }
            }
            print(String(format: "| %d | %.3f | %.3f | %.3f | %.3f | %d | %.0f |", n, best.core, best.model, best.kernel, best.total,
                         best.commands, Double(n) / best.total))
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
