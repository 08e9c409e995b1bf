import Agent
import ArgumentParser
import Foundation
import KubeAPI
import Logging
import ProxyCore
import ServiceLifecycle
import UnixSignals

/// `sluice agent`: the node agent. Follows the API server (in-cluster, `--kubeconfig` or
/// `$KUBECONFIG`) or manifest files (`--manifests`) and keeps the kernel in step.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Run the node agent: follow Services and EndpointSlices and keep this node's rules in step.",
        discussion: """
            \(ExitStatus.help)

            Desired state comes from the Kubernetes API (in-cluster, --kubeconfig or $KUBECONFIG), or from \
            manifest files followed live with --manifests. No rule is programmed before every source has \
            delivered its first complete list. SIGTERM or SIGINT stops the agent and leaves the rules in place.
            """)

    @Option(help: "A kubeconfig file (default: $KUBECONFIG, else in-cluster, else ~/.kube/config).")
    var kubeconfig: String?

    @Option(name: .customLong("manifests"), parsing: .upToNextOption,
            help: "Follow these manifest files or folders instead of the API server.")
    var manifests: [String] = []

    @Option(help: "Least time between two syncs: changes within it are coalesced (Go duration, e.g. 20ms).")
    var minSyncPeriod: String = "20ms"

    @Option(help: "How often the kernel is read back and drift repaired (Go duration, e.g. 30s).")
    var syncPeriod: String = "30s"

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @OptionGroup var node: NodeOptions

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level: '\(logLevel)' is not one of trace, debug, info, notice, warning, error, critical")
        }
        guard let min = Duration(go: minSyncPeriod), min >= .zero else {
            throw ValidationError("--min-sync-period: '\(minSyncPeriod)' is not a duration such as 20ms or 1s")
        }
        guard let period = Duration(go: syncPeriod), period > .zero else {
            throw ValidationError("--sync-period: '\(syncPeriod)' is not a positive duration such as 30s")
        }
        if !manifests.isEmpty && kubeconfig != nil {
            throw ValidationError("--manifests and --kubeconfig: give one source of desired state, not both")
        }
    }

    func run() async throws {
        try await guarded { try await runAgent() }
    }

    private func runAgent() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "sluice")
        let context: NodeContext
        do {
            context = try node.context()
        } catch let e as ValidationError {
            throw CommandFailure.badInput([e.message])
        }
        let settings = NodeSettings(context)
        let timing = SyncTiming(minSyncPeriod: Duration(go: minSyncPeriod) ?? .milliseconds(20),
                                syncPeriod: Duration(go: syncPeriod) ?? .seconds(30))
        let pipeline = ProxyPipeline(node: settings.effective(nil), backend: try NFTablesBackend(node: context))
        let loop = SyncLoop(pipeline: pipeline, settings: settings, timing: timing, requires: Set(SourceKind.allCases),
                            logger: logger)
        var services: [any ServiceLifecycle.Service] = []
        var client: KubeClient?
        if manifests.isEmpty {
            let config: ClusterConfig
            do {
                config = try ClusterConfig.load(kubeconfig: kubeconfig, logger: logger)
            } catch {
                throw CommandFailure.badInput(["\(error)"])
            }
            let c = try KubeClient(config: config, logger: logger)
            client = c
            services.append(APISource(client: c, nodeName: context.nodeName, proxyName: context.proxyName,
                                      inbox: loop.inbox, logger: logger))
            logger.info("following the API server", metadata: ["server": "\(config.server)", "node": "\(context.nodeName)"])
        } else {
            services.append(ManifestFollower(paths: manifests, inbox: loop.inbox, logger: logger))
            logger.info("following manifests", metadata: ["paths": "\(manifests)", "node": "\(context.nodeName)"])
        }
        services.append(loop)
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
        try await client?.shutdown()
    }
}
