import ArgumentParser
import Foundation
import ManifestSource
import NFTables
import Netfilter
import Proxier
import ProxyCore

/// Desired state from manifest files: the service ports and the ruleset they render to.
struct Desired {
    var ports: [ServicePortInfo]
    var ruleset: Ruleset
    var proxier: NFTProxier

    init(manifests paths: [String], node: NodeOptions) throws {
        let manifests: Manifests
        do {
            manifests = try ManifestLoader.load(paths: paths)
        } catch {
            throw ValidationError(error.description)
        }
        for note in manifests.notes { warn("note: \(note)") }
        let context = try node.context()
        let set = ServicePortBuilder.servicePorts(services: manifests.services, slices: manifests.endpointSlices,
                                                  node: context, nodes: manifests.nodes)
        for d in set.diagnostics { warn("skipped: \(d)") }
        ports = set.ports
        proxier = NFTProxier(families: [.v4, .v6], options: ProxierOptions(context))
        ruleset = NFTProxier.desiredRuleset(ports, families: proxier.families, options: proxier.options)
    }
}

func warn(_ s: String) {
    FileHandle.standardError.write(Data((s + "\n").utf8))
}

struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Program this network namespace from manifests, once, and exit.",
        discussion: "Bad input changes nothing and exits non-zero with the reason.")

    @Option(name: .customLong("manifests"), parsing: .upToNextOption, help: "Manifest files or folders (YAML or JSON).")
    var manifests: [String]

    @OptionGroup var node: NodeOptions

    func run() throws {
        var desired = try Desired(manifests: manifests, node: node)
        let conn = try NFTablesConnection()
        let live = try conn.ruleset(tables: desired.proxier.tableIDs)
        let t = desired.proxier.fullSync(desired.ports, live: live)
        for c in desired.proxier.conflicts { warn("warning: \(c)") }
        try conn.apply(t)
        print("applied \(desired.ports.count) service port(s): \(t.commands.count) command(s)")
        // UDP has no connection to end: entries made through the old rules would keep sending a
        // client's datagrams to endpoints the Service no longer has (kube-proxy deletes them too).
        let stale = ConntrackFlow.stale(live: live, desired: desired.proxier.currentRuleset)
        for (flow, message) in ConntrackCleaner.clean(stale) {
            warn("warning: could not delete the conntrack entries of \(flow): \(message)")
        }
    }
}

struct Diff: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show, in nft syntax, what `apply` would change. Never writes.",
        discussion: "Exit status: 0 no change, 1 changes, 2 error (as kubectl diff).")

    enum Against: String, ExpressibleByArgument { case live, empty }

    @Option(name: .customLong("manifests"), parsing: .upToNextOption, help: "Manifest files or folders (YAML or JSON).")
    var manifests: [String]

    @Option(help: "Compare with the live kernel or an empty one.")
    var against: Against = .live

    @OptionGroup var node: NodeOptions

    mutating func run() throws {
        do {
            let desired = try Desired(manifests: manifests, node: node)
            let live = against == .live ? try NFTablesConnection().ruleset(tables: desired.proxier.tableIDs) : Ruleset()
            let want = NFTProxier.desiredRuleset(desired.ports, families: desired.proxier.families,
                                                 options: desired.proxier.options, live: live)
            let t = Ruleset.diff(from: live, to: want)
            if t.isEmpty { throw ExitCode(0) }
            print(t.nftText, terminator: "")
            throw ExitCode(1)
        } catch let e as ExitCode {
            throw e
        } catch {
            warn("error: \(error)")
            throw ExitCode(2)
        }
    }
}

struct Cleanup: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Remove everything Sluice owns (tables ip sluice and ip6 sluice) and nothing else.")

    func run() throws {
        let conn = try NFTablesConnection()
        let ours = Set([TableID(.ip, Layout.tableName), TableID(.ip6, Layout.tableName)])
        var t = Transaction()
        for table in try conn.ruleset(tables: ours).tables { t.append(.deleteTable(table.id)) }
        try conn.apply(t)
        print(t.isEmpty ? "nothing to remove" : "removed \(t.commands.count) table(s)")
    }
}
