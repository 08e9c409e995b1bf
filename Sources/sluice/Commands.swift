import Agent
import ArgumentParser
import Foundation
import ManifestSource
import ProxyCore

func warn(_ s: String) {
    FileHandle.standardError.write(Data((s + "\n").utf8))
}

/// The pipeline for this node, with the manifests' objects recorded: what `apply` and
/// `diff` share.
func manifestPipeline(_ paths: [String], node: NodeOptions) throws -> ProxyPipeline {
    let manifests: Manifests
    do {
        manifests = try ManifestLoader.load(paths: paths)
    } catch {
        throw ValidationError(error.description)
    }
    for note in manifests.notes { warn("note: \(note)") }
    let context = try node.context()
    var pipeline = ProxyPipeline(node: context, backend: try NFTablesBackend(node: context))
    pipeline.load(services: manifests.services, slices: manifests.endpointSlices, nodes: manifests.nodes)
    return pipeline
}

struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Program this network namespace from manifests, once, and exit.",
        discussion: "Bad input changes nothing and exits non-zero with the reason.")

    @Option(name: .customLong("manifests"), parsing: .upToNextOption, help: "Manifest files or folders (YAML or JSON).")
    var manifests: [String]

    @OptionGroup var node: NodeOptions

    func run() throws {
        var pipeline = try manifestPipeline(manifests, node: node)
        let outcome = pipeline.sync()
        for d in outcome.diagnostics { warn("skipped: \(d)") }
        guard let report = outcome.report else {
            throw outcome.failure ?? SyncFailure(ExitCode.failure)
        }
        for w in report.warnings { warn(w) }
        print("applied \(outcome.servicePorts) service port(s): \(report.commands) command(s)")
    }
}

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show, in nft syntax, what `apply` would change. Never writes.",
        discussion: "Exit status: 0 no change, 1 changes, 2 error (as kubectl diff).")

    @Option(name: .customLong("manifests"), parsing: .upToNextOption, help: "Manifest files or folders (YAML or JSON).")
    var manifests: [String]

    @Option(help: "Compare with the live kernel or an empty one.")
    var against: PlanBaseline = .live

    @OptionGroup var node: NodeOptions

    mutating func run() throws {
        do {
            var pipeline = try manifestPipeline(manifests, node: node)
            let (plan, diagnostics) = try pipeline.plan(against: against)
            for d in diagnostics { warn("skipped: \(d)") }
            if plan.isEmpty { throw ExitCode(0) }
            print(plan.text, terminator: "")
            throw ExitCode(1)
        } catch let e as ExitCode {
            throw e
        } catch {
            warn("error: \(error)")
            throw ExitCode(2)
        }
    }
}

extension PlanBaseline: ExpressibleByArgument {}

struct Cleanup: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Remove everything Sluice owns (tables ip sluice and ip6 sluice) and nothing else.")

    func run() throws {
        let backend = try NFTablesBackend(node: NodeContext(nodeName: ""), conntrack: nil)
        let removed = try backend.cleanUp()
        print(removed == 0 ? "nothing to remove" : "removed \(removed) table(s)")
    }
}
