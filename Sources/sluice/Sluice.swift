import ArgumentParser

@main
struct Sluice: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "A Kubernetes node agent that programs nftables through netlink.",
        version: SluiceVersion.string,
        subcommands: [AgentCommand.self, Apply.self, Diff.self, Cleanup.self, Version.self]
    )
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
