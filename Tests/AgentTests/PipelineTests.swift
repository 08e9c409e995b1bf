import Agent
import KubeModels
import NetworkTypes
import NFTables
import ProxyCore
import Testing

// A Service "ns/<name>" with one TCP port 80 → 8080 and its slice.
func service(_ name: String, _ clusterIP: String) -> Service {
    Service(metadata: ObjectMeta(name: name, namespace: "ns"),
            spec: ServiceSpec(type: "ClusterIP", clusterIP: clusterIP, clusterIPs: [clusterIP],
                              ports: [ServicePort(name: "http", port: 80, targetPort: .int(8080))]))
}

func slice(_ service: String, _ addresses: [String]) -> EndpointSlice {
    EndpointSlice(metadata: ObjectMeta(name: "\(service)-1", namespace: "ns", labels: ["kubernetes.io/service-name": service]),
                  endpoints: addresses.map { Endpoint(addresses: [$0]) }, ports: [EndpointPort(name: "http", port: 8080)])
}

struct Refused: Error, CustomStringConvertible {
    var description: String { "the kernel refused the batch (injected)" }
}

let node = NodeContext(nodeName: "node-a", clusterCIDRs: [IPPrefix("10.1.0.0/16")!])

/// A pipeline over an in-memory kernel, with web (2 endpoints) and api (1) synced.
func synced() throws -> (ProxyPipeline, NFTablesBackend, InMemoryNFTables) {
    let kernel = InMemoryNFTables()
    let backend = try NFTablesBackend(node: node, families: [.v4], kernel: kernel, conntrack: nil)
    var pipeline = ProxyPipeline(node: node, backend: backend)
    pipeline.load(services: [service("web", "10.96.0.10"), service("api", "10.96.0.11")],
                  slices: [slice("web", ["10.1.0.2", "10.1.0.3"]), slice("api", ["10.1.0.4"])])
    let first = pipeline.sync()
    #expect(first.kind == .full && first.succeeded && first.servicePorts == 2)
    return (pipeline, backend, kernel)
}

@Suite("The pipeline: one path for every caller, and the rule for failure")
struct PipelineTests {
    @Test("the first sync is full, then only what changed is sent, and nothing when nothing changed")
    func fullThenPartial() throws {
        var (pipeline, backend, kernel) = try synced()
        #expect(kernel.ruleset.normalized == backend.believedRuleset.normalized)
        pipeline.record(StoreEvent<EndpointSlice>.updated(old: slice("web", ["10.1.0.2", "10.1.0.3"]),
                                                         new: slice("web", ["10.1.0.2", "10.1.0.5"])))
        let partial = pipeline.sync()
        #expect(partial.kind == .partial && partial.changedPorts == 1)
        // The endpoint in slot 1 is replaced (and its hairpin entry): elements only, nothing else.
        var sent = try #require(kernel.transactions.last)
        for set in kernel.ruleset.sets { sent.know(set) }
        #expect(sent.nftText == """
            delete element ip sluice backends { 10.96.0.10 . tcp . 80 . 1 }
            delete element ip sluice hairpin { 10.1.0.3 . 10.1.0.3 }
            add element ip sluice backends { 10.96.0.10 . tcp . 80 . 1 comment "ns/web:http" : 10.1.0.5 . 8080 }
            add element ip sluice hairpin { 10.1.0.5 . 10.1.0.5 }
            """ + "\n")
        #expect(kernel.ruleset.normalized == backend.believedRuleset.normalized)
        let count = kernel.transactions.count
        let idle = pipeline.sync()
        #expect(idle.report?.commands == 0 && kernel.transactions.count == count)
    }

    @Test("a refused partial sync leaves kernel and backend as they were; the next sync is full and catches up")
    func refusedPartialSync() throws {
        var (pipeline, backend, kernel) = try synced()
        let before = kernel.ruleset.normalized
        kernel.refuse(with: Refused())
        pipeline.record(StoreEvent<Service>.deleted(service("api", "10.96.0.11")))
        let failed = pipeline.sync()
        #expect(failed.failure?.description == "the kernel refused the batch (injected)")
        #expect(kernel.ruleset.normalized == before)
        #expect(backend.believedRuleset.normalized == before, "the backend still believes what the kernel holds")
        #expect(pipeline.needsFullSync)

        let stillRefused = pipeline.sync()
        #expect(stillRefused.kind == .full && !stillRefused.succeeded)
        #expect(backend.believedRuleset.normalized == before)

        kernel.refuse(with: nil)
        let recovered = pipeline.sync()
        #expect(recovered.kind == .full && recovered.succeeded && !pipeline.needsFullSync)
        #expect(!kernel.ruleset.nftText.contains("10.96.0.11"))
        #expect(kernel.ruleset.normalized == backend.believedRuleset.normalized)
    }

    @Test("drift is repaired from what the backend believes; a matching kernel gets nothing")
    func repairDrift() throws {
        var (pipeline, backend, kernel) = try synced()
        let good = kernel.ruleset.normalized
        kernel.tamper { r in
            for i in r.sets.indices where r.sets[i].name == "backends" { r.sets[i].elements = [] }
        }
        let repaired = pipeline.repair()
        #expect(repaired.kind == .repair && (repaired.report?.commands ?? 0) > 0)
        #expect(kernel.ruleset.normalized == good)
        #expect(backend.believedRuleset.normalized == good)
        let count = kernel.transactions.count
        #expect(pipeline.repair().report?.commands == 0)
        #expect(kernel.transactions.count == count)
    }

    @Test("a restart with unchanged objects sends nothing to the kernel")
    func restartSendsNothing() throws {
        let (_, _, kernel) = try synced()
        let count = kernel.transactions.count
        let backend = try NFTablesBackend(node: node, families: [.v4], kernel: kernel, conntrack: nil)
        var restarted = ProxyPipeline(node: node, backend: backend)
        restarted.load(services: [service("web", "10.96.0.10"), service("api", "10.96.0.11")],
                       slices: [slice("web", ["10.1.0.2", "10.1.0.3"]), slice("api", ["10.1.0.4"])])
        let outcome = restarted.sync()
        #expect(outcome.kind == .full && outcome.report?.commands == 0)
        #expect(kernel.transactions.count == count)
    }

    @Test("plan: what a full sync would send, against the live kernel or an empty one, without writing")
    func planNeverWrites() throws {
        var (pipeline, _, kernel) = try synced()
        let count = kernel.transactions.count
        #expect(try pipeline.plan(against: .live).plan.isEmpty)
        let fromEmpty = try pipeline.plan(against: .empty).plan
        #expect(fromEmpty.text.hasPrefix("add table ip sluice"))
        #expect(fromEmpty.text.contains("10.96.0.11 . tcp . 80 comment \"ns/api:http\" : goto lbc-1"))
        #expect(kernel.transactions.count == count)
    }
}
