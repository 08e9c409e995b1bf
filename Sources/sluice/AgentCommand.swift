import Agent
import ArgumentParser
import Foundation
import KubeAPI
import Logging
import Prometheus
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

    @Option(help: "Where /healthz and /livez answer, IP:port (empty: no health server).")
    var healthzBindAddress: String = "0.0.0.0:10256"

    @Option(help: "Where /metrics and /proxyMode answer, IP:port (empty: no metrics server).")
    var metricsBindAddress: String = "127.0.0.1:10249"

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
        for (flag, value) in [("--healthz-bind-address", healthzBindAddress), ("--metrics-bind-address", metricsBindAddress)]
        where !value.isEmpty && BindAddress(value) == nil {
            throw ValidationError("\(flag): '\(value)' is not an IP address and port such as 0.0.0.0:10256 or [::]:10256")
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
        let backend = try NFTablesBackend(node: context)
        let mode = backend.mode
        let pipeline = ProxyPipeline(node: settings.effective(nil), backend: backend)

        // Health, metrics and healthCheckNodePort servers: they start first and stop last, so
        // probes keep their answers while the loop stops.
        var services: [any ServiceLifecycle.Service] = []
        let health = ProxyHealth(families: backend.families, syncPeriod: timing.syncPeriod)
        let registry = PrometheusCollectorRegistry()
        let metrics = ProxyMetrics(families: backend.families, factory: ProxyMetrics.prometheusFactory(registry: registry))
        let healthChecks = ServiceHealthServers(addresses: context.nodePortAddresses, health: health, metrics: metrics,
                                                logger: logger)
        if let address = BindAddress(healthzBindAddress) {
            services.append(HealthzServer(address: address, health: health, metrics: metrics, logger: logger))
        }
        if let address = BindAddress(metricsBindAddress) {
            services.append(MetricsServer(address: address, registry: registry, mode: mode, logger: logger))
        }
        services.append(healthChecks)
        let observer = AgentObserver(nodeName: context.nodeName, nodeRequired: manifests.isEmpty, health: health,
                                     metrics: metrics, healthCheckServers: healthChecks)
        let loop = SyncLoop(pipeline: pipeline, settings: settings, timing: timing, requires: Set(SourceKind.allCases),
                            observer: observer, logger: logger)
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
