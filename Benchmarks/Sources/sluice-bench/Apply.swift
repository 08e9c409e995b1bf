import ArgumentParser
import ClusterShapes
import Foundation
import KubeAPI
import NFTables
import Netfilter
import Proxier
import ProxyCore
import SluiceTestSupport

/// What `sluice apply` does at scale, from Kubernetes objects into an empty namespace: ProxyCore
/// (Services and EndpointSlices to service ports), the proxier's model (with the live readback),
/// then one transaction (encode, send, commit). Objects are built before the clock starts, as
/// an agent has them from its watch. Best of `--runs`, each into a fresh namespace.
struct ApplyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply", abstract: "sluice apply of N Services × 2 endpoints from Kubernetes objects, phase by phase.")

    @Option(help: "Comma-separated Service counts.")
    var services: String = "10000,100000"

    @Option(help: "Runs per count; the best total is reported.")
    var runs: Int = 3

    func run() throws {
        print("| Services | ProxyCore (s) | proxier model (s) | encode + send + commit (s) | total (s) | elements | Services/s |")
        print("|---|---|---|---|---|---|---|")
        for n in services.split(separator: ",").compactMap({ Int($0) }) {
            let objects = (services: (0..<n).map(makeService), slices: (0..<n).map { makeSlice($0) })
            let node = NodeContext(nodeName: "node-0", clusterCIDRs: [IPPrefix("10.244.0.0/16")!],
                                   serviceCIDRs: [IPPrefix("10.96.0.0/12")!])
            var best = (core: 0.0, model: 0.0, apply: 0.0, total: Double.infinity, elements: 0)
            for _ in 0..<runs {
                let ns = try NetworkNamespace()
                defer { ns.delete() }
                let r = try ns.enter { () throws -> (Double, Double, Double, Int) in
                    let conn = try NFTablesConnection()
                    let t0 = now()
                    let set = ServicePortBuilder.servicePorts(services: objects.services, slices: objects.slices, node: node)
                    let t1 = now()
                    var proxier = NFTProxier(options: ProxierOptions(node))
                    let t = proxier.fullSync(set.ports, live: try conn.ruleset(tables: proxier.tableIDs))
                    let t2 = now()
                    try conn.apply(t)
                    let t3 = now()
                    precondition(set.ports.count == n, "\(set.ports.count) service ports for \(n) Services")
                    let elements = t.commands.reduce(0) { sum, c in
                        if case .addSet(let s) = c { return sum + s.elements.count }
                        return sum
                    }
                    return (t1 - t0, t2 - t1, t3 - t2, elements)
                }
                if r.0 + r.1 + r.2 < best.total { best = (r.0, r.1, r.2, r.0 + r.1 + r.2, r.3) }
            }
            print(String(format: "| %d | %.3f | %.3f | %.3f | %.3f | %d | %.0f |", n, best.core, best.model, best.apply, best.total,
                         best.elements, Double(n) / best.total))
        }
    }
}
