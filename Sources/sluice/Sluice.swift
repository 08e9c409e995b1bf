import ArgumentParser
import Foundation

@main
struct Sluice: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "A Kubernetes node agent that programs nftables through netlink.",
        discussion: ExitStatus.help,
        version: SluiceVersion.string,
        subcommands: [AgentCommand.self, Apply.self, Diff.self, Cleanup.self, Version.self]
    )

    /// As ArgumentParser's, except that a usage mistake exits 2 (bad input), not 64.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var async = command as? any AsyncParsableCommand {
                try await async.run()
            } else {
                try command.run()
            }
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(ExitStatus.badInput)
            }
            exit(withError: error)
        }
    }
}

enum SluiceVersion {
    static let string = "0.1.0-dev"
}

struct Version: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the version and exit.")
    func run() {
        print("sluice \(SluiceVersion.string)")
    }
}
