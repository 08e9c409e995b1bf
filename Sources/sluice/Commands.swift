import Agent
import ArgumentParser
import Foundation
import ManifestSource
import ProxyCore

/// The pipeline for this node with the manifests' objects recorded: what `apply` and `diff`
/// share.
func manifestPipeline(_ manifests: Manifests, node: NodeOptions) throws -> ProxyPipeline {
    let context: NodeContext
    do {
        context = try node.context()
    } catch let e as ValidationError {
        throw CommandFailure.badInput([e.message])
    }
    var pipeline = ProxyPipeline(node: context, backend: try NFTablesBackend(node: context))
    pipeline.load(services: manifests.services, slices: manifests.endpointSlices, nodes: manifests.nodes)
    return pipeline
}

struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Program this network namespace from manifests, once, and exit.",
        discussion: """
            An object that cannot be read, or a field that is wrong, is skipped with a warning naming \
            the file, the object, the field and the value; everything else is applied. A file that is \
            not YAML or JSON, or a transaction the kernel refuses, changes nothing.
            \(ExitStatus.help)
            """)

    @Option(name: .customLong("manifests"), parsing: .upToNextOption,
            help: "Manifest files or folders (YAML or JSON); - reads standard input.")
    var manifests: [String]

    @OptionGroup var node: NodeOptions

    func run() throws {
        try guarded {
            let objects = try loadManifests(manifests)
            var pipeline = try manifestPipeline(objects, node: node)
            let outcome = pipeline.sync()
            report(outcome.diagnostics, in: objects)
            guard let report = outcome.report else {
                throw CommandFailure(lines: [outcome.failure?.description ?? "the sync failed"], status: ExitStatus.failure)
            }
            for w in report.warnings { warn(w.hasPrefix("warning: ") ? String(w.dropFirst(9)) : w) }
            let skipped = objects.skipped.count
            print("applied \(outcome.servicePorts) service port(s): \(report.commands) command(s)"
                  + (skipped > 0 ? "; \(skipped) object(s) skipped" : ""))
        }
    }
}

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show, in nft syntax, what `apply` would change. Never writes.",
        discussion: """
            Exit status: 0 no change, 1 changes, 2 error (as kubectl diff).
            The output is an nft script. nft 1.0.6 (Debian bookworm) cannot load one that adds a \
            dnat rule to a table that exists ("conflicting protocols specified: ip vs. th", a bug \
            of that nft, which fails the same way on tables it loaded itself); such a change — a new \
            class chain, when a Service gets a slot count no other Service has — is applied with \
            `sluice apply`. Element changes load with nft -f.
            """)

    @Option(name: .customLong("manifests"), parsing: .upToNextOption,
            help: "Manifest files or folders (YAML or JSON); - reads standard input.")
    var manifests: [String]

    @Option(help: "Compare with the live kernel, or with an empty one.")
    var against: PlanBaseline = .live

    @OptionGroup var node: NodeOptions

    mutating func run() throws {
        // Every error is 2, as kubectl diff's: 1 means "there are changes".
        try guarded(status: ExitStatus.badInput) {
            let objects = try loadManifests(manifests)
            var pipeline = try manifestPipeline(objects, node: node)
            let (plan, diagnostics) = try pipeline.plan(against: against)
            report(diagnostics, in: objects)
            if plan.isEmpty { throw ExitCode(0) }
            print(plan.text, terminator: "")
            throw ExitCode(1)
        }
    }
}

extension PlanBaseline: ExpressibleByArgument {}

struct Cleanup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Remove everything Sluice owns (tables ip sluice and ip6 sluice) and nothing else.",
        discussion: ExitStatus.help)

    func run() throws {
        try guarded {
            let backend = try NFTablesBackend(node: NodeContext(nodeName: ""), conntrack: nil)
            let removed = try backend.cleanUp()
            print(removed == 0 ? "nothing to remove" : "removed \(removed) table(s)")
        }
    }
}
